//! Tables a pipeline can trust: last write wins by add order (sequence numbers),
//! idempotent adds, a stored policy with per-run overrides, and the reader's
//! live set (`table ls --json`, `--at`).
#![cfg(feature = "postgres")]

mod common;

use arrow_array::{RecordBatch, UInt32Array};
use common::table::{
    add, check_live_set, create_table, file_cells, file_window, gen_config, gen_file,
    key_positions, key_text, live, pm, row_text, Run,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use prefix_merge::write::{write_split, SplitConfig};
use prefix_merge::InputFile;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Write `rows` rows of `source` (evenly spread, in file order: still sorted)
/// as a split with the same schema, P and window.
fn subset_split(source: &Path, rows: usize, out: &Path) {
    let file = std::fs::File::open(source).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let all = arrow_select::concat::concat_batches(&schema, &batches).unwrap();
    let step = all.num_rows() / rows;
    let idx: UInt32Array = (0..rows).map(|i| (i * step) as u32).collect();
    let picked = arrow_select::take::take_record_batch(&all, &idx).unwrap();
    let input = InputFile::open(source).unwrap();
    let config = SplitConfig {
        window: input.contract.window,
        ..SplitConfig::new(input.sort_schema().clone(), input.prefix_len())
    };
    write_split(out, schema, &[picked], &config).unwrap();
}

/// The live rows of a table (all columns, as text), sorted.
fn live_rows(table: &Path) -> Vec<String> {
    let (_, rows) = check_live_set(table);
    let mut all: Vec<String> = rows.into_values().flatten().collect();
    all.sort();
    all
}

/// Replay `files` (in add order) with last write wins: per full sort key the
/// row of the last file that has it. Returned as sorted row texts.
fn replay(files: &[PathBuf]) -> Vec<String> {
    let key = key_positions();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for f in files {
        for r in file_cells(f) {
            last.insert(key_text(&r, &key), row_text(&r));
        }
    }
    let mut rows: Vec<String> = last.into_values().collect();
    rows.sort();
    rows
}

fn compact_at(table: &Path, now: i64, extra: &[&str]) -> Run {
    let mut a = args!["compact", table, "--until-stable", "--now", now.to_string()].to_vec();
    a.extend(extra.iter().map(Into::into));
    pm(&a, None)
}

/// (a) A correction added after its window was compacted wins at the final
/// merge: all 25 corrected keys hold their new values, every other key keeps
/// its old one.
#[test]
fn late_correction_beats_the_older_merged_row() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, true);
    let cfg = gen_config(10, 300, 4);
    let files: Vec<PathBuf> = (0..10)
        .map(|f| gen_file(&tmp.path().join("in"), &cfg, f, 0, 1))
        .collect();
    add(&table, &files, None).0.expect_ok("add 10 splits");
    let (start, secs) = file_window(&files[0]);
    let (start, secs) = (start.unwrap(), secs.unwrap() as i64);

    // The window is open: one stable-log merge of the 10 splits.
    compact_at(&table, start + 1, &["--merge-factor", "10"]).expect_ok("compact open window");
    let merged = live(&table);
    assert_eq!(merged.len(), 1, "10 splits merged into one: {merged:?}");
    assert_eq!(
        (merged[0].level, merged[0].seq_min, merged[0].seq_max),
        (1, 1, 10)
    );

    // A correction of 25 keys of file 3 (same keys, other values), added late.
    let rewrite = gen_file(&tmp.path().join("fix-src"), &cfg, 3, 0, 99);
    let correction = tmp.path().join("correction.parquet");
    subset_split(&rewrite, 25, &correction);
    add(&table, std::slice::from_ref(&correction), None)
        .0
        .expect_ok("add the correction");
    let after_add = live(&table);
    assert_eq!(after_add.iter().map(|s| s.seq_max).max(), Some(11));

    // The window closes: the final merge of the level-1 split and the
    // level-0 correction.
    compact_at(&table, start + secs + 7200, &[]).expect_ok("final merge");
    assert_eq!(live(&table).len(), 1);
    let actual = live_rows(&table);
    let corrected: Vec<String> = file_cells(&correction)
        .iter()
        .map(|r| row_text(r))
        .collect();
    assert_eq!(corrected.len(), 25);
    let lost = corrected
        .iter()
        .filter(|r| actual.binary_search(r).is_err())
        .count();
    assert_eq!(
        lost, 0,
        "{lost} of 25 corrections lost to the older merged rows"
    );
    let mut history = files.clone();
    history.push(correction.clone());
    common::table::assert_same_rows(
        "live rows vs the replay of every add",
        &replay(&history),
        &actual,
    );
    // Every other key keeps its original row.
    let before = replay(&files);
    let changed = before
        .iter()
        .filter(|r| actual.binary_search(r).is_err())
        .count();
    assert_eq!(changed, 25, "exactly the 25 corrected keys changed");
}

/// (c) The same file added twice in one call, again in a second call, and again
/// after compaction: its rows are in the table once.
#[test]
fn adding_the_same_content_again_adds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    let cfg = gen_config(2, 300, 3);
    let a = gen_file(&tmp.path().join("in"), &cfg, 0, 0, 1);
    let b = gen_file(&tmp.path().join("in"), &cfg, 1, 0, 1);
    let rows_a = file_cells(&a).len();

    let (run, added) = add(&table, &[a.clone(), a.clone()], None);
    run.expect_ok("add a twice in one call");
    assert_eq!(added.len(), 1, "{run:?}");
    let id = &added[0].1;
    let again = format!("{}: already in the table as {id}", a.display());
    assert!(run.stdout.contains(&again), "{run:?}");
    assert_eq!(live_rows(&table).len(), rows_a);

    // A copy of the file under another name is the same content.
    let copy = tmp.path().join("copy-of-a.parquet");
    std::fs::copy(&a, &copy).unwrap();
    let (run, added) = add(&table, &[copy], None);
    run.expect_ok("add a copy in a second call");
    assert!(
        added.is_empty()
            && run
                .stdout
                .contains(&format!("already in the table as {id}"))
    );
    assert_eq!(live_rows(&table).len(), rows_a);

    add(&table, std::slice::from_ref(&b), None)
        .0
        .expect_ok("add b");
    let expected = file_cells(&a).len() + file_cells(&b).len();
    compact_at(
        &table,
        file_window(&a).0.unwrap() + 1,
        &["--merge-factor", "2"],
    )
    .expect_ok("compact");
    assert_eq!(live(&table).len(), 1, "a and b merged");
    // `a`'s split is retired (not yet collected): adding it again is a no-op.
    let (run, added) = add(&table, std::slice::from_ref(&a), None);
    run.expect_ok("add a after compaction");
    assert!(added.is_empty(), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("already in the table as {id} (replaced)")),
        "{run:?}"
    );
    assert_eq!(live_rows(&table).len(), expected);
}

/// (d) `compact` without flags uses the stored policy; a flag overrides it for
/// one run, says so, and is not stored.
#[test]
fn stored_settings_drive_compact_and_flags_override_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    let schema = common::table::gen_schema();
    pm(
        &args![
            "table",
            "create",
            &table,
            "--sort-schema",
            schema,
            "--set",
            "merge_factor=3",
            "--set",
            "max_merge_factor=3"
        ],
        None,
    )
    .expect_ok("create");
    let settings = |t: &Path| -> Value {
        serde_json::from_str(
            &pm(&args!["table", "settings", t, "--json"], None)
                .expect_ok("settings")
                .stdout,
        )
        .unwrap()
    };
    assert_eq!(settings(&table)["merge_factor"], "3");
    assert_eq!(settings(&table)["maturity_age"], "2h");

    let cfg = gen_config(6, 200, 3);
    let files: Vec<PathBuf> = (0..6)
        .map(|f| gen_file(&tmp.path().join("in"), &cfg, f, 0, 1))
        .collect();
    let now = file_window(&files[0]).0.unwrap() + 1;
    add(&table, &files[..3], None).0.expect_ok("add 3");
    let run = compact_at(&table, now, &[]);
    run.expect_ok("compact with the stored policy");
    assert!(!run.stderr.contains("override"), "{run:?}");
    assert_eq!(
        live(&table).len(),
        1,
        "3 splits merged by the stored merge_factor=3"
    );

    add(&table, &files[3..], None).0.expect_ok("add 3 more");
    let run = compact_at(
        &table,
        now,
        &["--merge-factor", "4", "--max-merge-factor", "4"],
    );
    run.expect_ok("compact with an override");
    assert!(
        run.stderr
            .contains("override for this run: merge_factor = 4 (stored: 3; not saved)"),
        "{run:?}"
    );
    assert_eq!(
        live(&table).len(),
        4,
        "3 level-0 splits stay under merge_factor 4"
    );
    assert_eq!(
        settings(&table)["merge_factor"],
        "3",
        "the override is not stored"
    );

    let plan = pm(
        &args![
            "plan",
            &table,
            "--now",
            now.to_string(),
            "--merge-factor",
            "4",
            "--max-merge-factor",
            "4"
        ],
        None,
    );
    plan.expect_ok("plan");
    assert!(
        plan.stdout
            .contains("nothing to do: open: largest run is 3 splits at level 0 (merge_factor 4)"),
        "{plan:?}"
    );

    let bad = pm(
        &args!["table", "settings", &table, "--set", "merge_factor=many"],
        None,
    );
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert_eq!(bad.stderr.trim().lines().count(), 1, "{bad:?}");
    assert!(
        bad.stderr
            .contains("merge_factor = 'many': expected a count"),
        "{bad:?}"
    );
    let fixed = pm(
        &args!["table", "settings", &table, "--set", "prefix_len=2"],
        None,
    );
    assert_eq!(fixed.code, Some(2), "{fixed:?}");
    assert!(
        fixed
            .stderr
            .contains("prefix_len is fixed when the table is created"),
        "{fixed:?}"
    );

    pm(
        &args!["table", "settings", &table, "--set", "merge_factor=2"],
        None,
    )
    .expect_ok("set");
    assert_eq!(settings(&table)["merge_factor"], "2");
}

/// A table needs its sort schema: given, or taken from a file with `--like`.
#[test]
fn create_requires_a_sort_schema_or_like() {
    let tmp = tempfile::tempdir().unwrap();
    let run = pm(&args!["table", "create", tmp.path().join("t")], None);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("--sort-schema"), "{run:?}");

    let cfg = gen_config(1, 100, 2);
    let f = gen_file(&tmp.path().join("in"), &cfg, 0, 0, 1);
    let like = tmp.path().join("like");
    pm(&args!["table", "create", &like, "--like", &f], None).expect_ok("create --like");
    let s: Value = serde_json::from_str(
        &pm(&args!["table", "settings", &like, "--json"], None)
            .expect_ok("settings")
            .stdout,
    )
    .unwrap();
    let input = InputFile::open(&f).unwrap();
    assert_eq!(s["sort_schema"], input.sort_schema().to_string());
    assert_eq!(s["prefix_len"], input.prefix_len().to_string());
}

/// (e, local) `table ls --json`: absolute paths that open, typed prefix keys
/// equal to the file's own, sequence ranges, and `--at` before the last
/// compaction showing the splits it replaced.
#[test]
fn ls_json_is_a_readers_view_and_at_shows_an_earlier_set() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    let cfg = gen_config(3, 300, 3);
    let files: Vec<PathBuf> = (0..3)
        .map(|f| gen_file(&tmp.path().join("in"), &cfg, f, 0, 1))
        .collect();
    add(&table, &files, None).0.expect_ok("add");
    let ls = |extra: &[String]| -> Value {
        let mut a = args!["table", "ls", &table, "--json"].to_vec();
        a.extend(extra.iter().map(Into::into));
        serde_json::from_str(&pm(&a, None).expect_ok("ls").stdout).unwrap()
    };
    let before = ls(&[]);
    assert_eq!(before["version"], 2);
    assert_eq!(before["tombstones"], serde_json::json!([]));
    let splits = before["splits"].as_array().unwrap();
    assert_eq!(splits.len(), 3);
    for (i, s) in splits.iter().enumerate() {
        assert_eq!(s["seq_min"], i as u64 + 1);
        let url = Path::new(s["url"].as_str().unwrap());
        assert!(url.is_absolute() && url.is_file(), "{s}");
        let input = InputFile::open(url).unwrap();
        let first = input.row_groups.first().unwrap().prefix.as_ref().unwrap();
        let last = input.row_groups.last().unwrap().prefix.as_ref().unwrap();
        assert_eq!(
            s["first_prefix"],
            serde_json::to_value(&first.values).unwrap()
        );
        assert_eq!(
            s["last_prefix"],
            serde_json::to_value(&last.values).unwrap()
        );
        assert!(
            s["first_prefix"][0].is_string(),
            "typed, not display text: {s}"
        );
        assert_eq!(s["rows"], input.num_rows());
        assert!(s["time_min"].as_i64().unwrap() <= s["time_max"].as_i64().unwrap());
    }
    if let Some(python) = common::s3::pyarrow_python() {
        let text = serde_json::to_string(&before).unwrap();
        let read = common::s3::read_live_set(&python, &text, &[]);
        common::s3::assert_live_set_reads_back(&before, &read);
    }
    // One second passes between the adds and the compaction, so that `--at`
    // can name a moment between them (catalog times are whole seconds).
    let added_at = prefix_merge::compact::worker::now_secs();
    while prefix_merge::compact::worker::now_secs() == added_at {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    compact_at(
        &table,
        file_window(&files[0]).0.unwrap() + 1,
        &["--merge-factor", "3"],
    )
    .expect_ok("compact");
    let after = ls(&[]);
    assert_eq!(after["splits"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            after["splits"][0]["seq_min"].as_u64(),
            after["splits"][0]["seq_max"].as_u64()
        ),
        (Some(1), Some(3))
    );
    let at = ls(&["--at".into(), added_at.to_string()]);
    let urls = |v: &Value| -> Vec<Value> {
        v["splits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["url"].clone())
            .collect()
    };
    assert_eq!(
        urls(&at),
        urls(&before),
        "--at shows the set before the compaction"
    );
    assert!(at["splits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["state"] == "replaced"));
    // Once gc deleted the replaced files, that set is gone, and ls says so.
    pm(&args!["table", "gc", &table, "--grace", "0s"], None).expect_ok("gc");
    let gone = pm(
        &args![
            "table",
            "ls",
            &table,
            "--json",
            "--at",
            added_at.to_string()
        ],
        None,
    );
    assert_eq!(gone.code, Some(2), "{gone:?}");
    assert!(
        gone.stderr.contains("is gone: gc already deleted"),
        "{gone:?}"
    );
}

/// (f, tables) Writer options stored in the table's settings shape the
/// compactor's outputs; a bad value is one line and changes nothing.
#[test]
fn stored_writer_options_shape_compaction_outputs() {
    use parquet::basic::Compression;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    pm(
        &args![
            "table",
            "settings",
            &table,
            "--set",
            "compression=snappy",
            "--set",
            "bloom_filter=host",
            "--set",
            "merge_factor=3"
        ],
        None,
    )
    .expect_ok("settings");
    let bad = pm(
        &args!["table", "settings", &table, "--set", "compression=brotli"],
        None,
    );
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert_eq!(bad.stderr.trim().lines().count(), 1, "{bad:?}");
    let cfg = gen_config(3, 300, 3);
    let files: Vec<PathBuf> = (0..3)
        .map(|f| gen_file(&tmp.path().join("in"), &cfg, f, 0, 1))
        .collect();
    add(&table, &files, None).0.expect_ok("add");
    compact_at(&table, file_window(&files[0]).0.unwrap() + 1, &[]).expect_ok("compact");
    let out = live(&table);
    assert_eq!(out.len(), 1);
    let path = common::table::split_path(&table, &out[0].id);
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    for rg in reader.metadata().row_groups() {
        for c in rg.columns() {
            assert_eq!(c.compression(), Compression::SNAPPY, "{}", c.column_path());
            let bloom = c.bloom_filter_offset().is_some();
            assert_eq!(
                bloom,
                c.column_path().string() == "host",
                "{}",
                c.column_path()
            );
        }
    }
}

/// Two adds of the same content that both pass the early check: the catalog
/// refuses the second commit (typed), so the content is registered once.
#[test]
fn the_catalog_refuses_a_second_commit_of_the_same_content() {
    use prefix_merge::compact::{Catalog, JobRecord, Lease, SplitState, SqliteCatalog};
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    let f = gen_file(&tmp.path().join("in"), &gen_config(1, 100, 2), 0, 0, 1);
    add(&table, std::slice::from_ref(&f), None)
        .0
        .expect_ok("add");
    let first = live(&table).remove(0);
    assert!(first.source.is_some());

    let mut catalog = SqliteCatalog::open(&table.join("catalog.sqlite")).unwrap();
    let now = prefix_merge::compact::worker::now_secs();
    let lease = Lease {
        job: "add-race".into(),
        owner: "test:1:1".into(),
        until: now + 60,
    };
    assert!(catalog.begin_job(&lease, &[], now).unwrap());
    let again = prefix_merge::compact::Split {
        id: "add-race".into(),
        ..first.clone()
    };
    let record = JobRecord {
        job: "add-race".into(),
        kind: "add".into(),
        inputs: Vec::new(),
        outputs: vec!["add-race".into()],
        bytes_in: again.bytes,
        bytes_out: again.bytes,
        committed_at: 0,
    };
    let err = catalog
        .commit_job(&record, &[again], SplitState::Replaced, now)
        .expect_err("the same content twice");
    assert!(
        matches!(&err, prefix_merge::Error::DuplicateContent { existing, .. } if *existing == first.id),
        "{err}"
    );
    catalog.abandon_job("add-race").unwrap();
    assert_eq!(live(&table), vec![first], "nothing registered");
}
