//! Deletes: the engine's row filter (MC-1 with deleted rows, untouched regions
//! copied verbatim), and tombstones in tables (recorded, applied by
//! compaction, retired).
#![cfg(feature = "postgres")]

mod common;

use common::{read_rows, Cell};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use prefix_merge::predicate::{Predicate, TimeRange};
use prefix_merge::MergeBuilder;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn predicate(text: &str, time: TimeRange) -> Arc<Predicate> {
    Arc::new(Predicate::parse(text, &prefix_merge::gen::sort_schema(), 1, &[], time).unwrap())
}

/// Rows of a file per metric name.
fn per_metric(path: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for row in read_rows(path, &["metric_name"]) {
        let Cell::Str(m) = &row[0] else {
            panic!("metric_name")
        };
        *out.entry(m.clone()).or_default() += 1;
    }
    out
}

/// Writer properties whose codec (snappy) differs from every input's (zstd):
/// a row group of an output with zstd chunks was copied, not re-encoded.
fn snappy() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build()
}

/// Per row group (by its metric): the compressed size and codec of each
/// column chunk.
fn row_group_sizes(path: &Path) -> BTreeMap<String, Vec<(i64, Compression)>> {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let metric_rows = read_rows(path, &["metric_name"]);
    let mut at = 0usize;
    let mut out = BTreeMap::new();
    for rg in reader.metadata().row_groups() {
        let Cell::Str(m) = &metric_rows[at][0] else {
            panic!("metric_name")
        };
        at += rg.num_rows() as usize;
        out.insert(
            m.clone(),
            rg.columns()
                .iter()
                .map(|c| (c.compressed_size(), c.compression()))
                .collect(),
        );
    }
    out
}

#[test]
fn row_filter_per_input_keeps_mc1_and_copies_untouched_regions() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(tmp.path(), 3, 1200, 4);
    let before: Vec<_> = inputs.iter().map(|p| per_metric(p)).collect();
    let metrics: Vec<String> = before[0].keys().cloned().collect();
    let gone = metrics[1].clone();
    let cpu = predicate(&format!("metric_name = '{gone}'"), TimeRange::default());
    // Inputs 0 and 2 lose the metric; input 1 (newer than the delete, say) keeps it.
    let out = tmp.path().join("out");
    let manifest = MergeBuilder::new(&inputs, &out)
        .delete_rows(vec![vec![cpu.clone()], vec![], vec![cpu]])
        .run()
        .unwrap();
    let expected_deleted = before[0][&gone] + before[2][&gone];
    let rows_in: usize = before.iter().flat_map(|m| m.values()).sum();
    assert_eq!(manifest.rows_deleted as usize, expected_deleted);
    assert_eq!(manifest.rows_in as usize, rows_in);
    assert_eq!(manifest.rows_out as usize, rows_in - expected_deleted);
    let after = per_metric(&manifest.outputs[0].path);
    assert_eq!(after[&gone], before[1][&gone]);
    for m in &metrics[2..] {
        assert_eq!(after[m], before.iter().map(|b| b[m]).sum::<usize>());
    }
    let json = manifest.to_json().unwrap();
    assert!(
        json.contains(&format!("\"rows_deleted\": {expected_deleted}")),
        "{json}"
    );

    // One input: the regions the predicate cannot match are the input's row
    // groups, byte for byte (copied verbatim, not re-encoded at another level).
    let one = tmp.path().join("one");
    let keep_time = predicate(
        &format!("metric_name = '{gone}'"),
        TimeRange {
            from: Some(0),
            to: Some(i64::MAX),
        },
    );
    let manifest = MergeBuilder::new(&inputs[..1], &one)
        .writer_properties(snappy())
        .delete_rows(vec![vec![keep_time]])
        .run()
        .unwrap();
    assert_eq!(manifest.rows_deleted as usize, before[0][&gone]);
    let sizes_in = row_group_sizes(&inputs[0]);
    let sizes_out = row_group_sizes(&manifest.outputs[0].path);
    assert!(!sizes_out.contains_key(&gone));
    for m in &metrics {
        if *m != gone {
            assert_eq!(sizes_in[m], sizes_out[m], "row group of {m}");
        }
    }
}

#[test]
fn row_level_tests_and_time_ranges() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(tmp.path(), 2, 1200, 3);
    let cols = ["metric_name", "host", "timestamp_secs"];
    let rows: Vec<Vec<Cell>> = inputs.iter().flat_map(|p| read_rows(p, &cols)).collect();
    let Cell::Str(host) = rows[0][1].clone() else {
        panic!("host")
    };
    let times: Vec<i64> = rows
        .iter()
        .map(|r| match r[2] {
            Cell::Int(t) => t,
            Cell::UInt(t) => t as i64,
            _ => panic!("timestamp"),
        })
        .collect();
    let mid = (times.iter().min().unwrap() + times.iter().max().unwrap()) / 2;
    let time = TimeRange {
        from: Some(mid),
        to: None,
    };
    let p = predicate(
        &format!("host IN ('{host}', 'nope') AND metric_name LIKE '%'"),
        time,
    );
    let matches = |r: &Vec<Cell>| {
        r[1] == Cell::Str(host.clone())
            && match r[2] {
                Cell::Int(t) => t >= mid,
                Cell::UInt(t) => t as i64 >= mid,
                _ => false,
            }
    };
    let expected: usize = rows.iter().filter(|r| matches(r)).count();
    assert!(expected > 0 && expected < rows.len());
    let manifest = MergeBuilder::new(&inputs, tmp.path().join("out"))
        .delete_rows(vec![vec![p.clone()], vec![p]])
        .run()
        .unwrap();
    assert_eq!(manifest.rows_deleted as usize, expected);
    let out = read_rows(&manifest.outputs[0].path, &cols);
    assert_eq!(out.len(), rows.len() - expected);
    assert!(!out.iter().any(matches));
}

#[test]
fn predicates_for_the_wrong_number_of_inputs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(tmp.path(), 2, 300, 2);
    let p = predicate("metric_name = 'x'", TimeRange::default());
    let err = MergeBuilder::new(&inputs, tmp.path().join("out"))
        .delete_rows(vec![vec![p]])
        .run()
        .unwrap_err();
    assert!(err.to_string().contains("2 inputs"), "{err}");
}

// ---- tables: tombstones recorded, applied by compaction, retired ----

use common::table::{
    add, all_columns, create_table, file_cells, gen_config, gen_file, history, pm, row_text,
    split_path,
};
use prefix_merge::compact::{compact, CompactOptions, Policy, Table};
use serde_json::Value;
use std::path::PathBuf;

/// Position of a column in [`all_columns`].
fn col(name: &str) -> usize {
    all_columns().iter().position(|c| c == name).unwrap()
}

/// A tombstone as the test understands it: the tombstone's predicate text and
/// which rows it matches (written independently of the library's matcher).
type Matcher<'a> = &'a dyn Fn(&[Cell]) -> bool;
type Model<'a> = (&'a str, Matcher<'a>);

/// What a reader sees (non-dedup table): the rows of the live set of
/// `table ls --json`, minus the rows each pending tombstone deletes from the
/// splits it is pending for (seq above the split's seq_max and applied_seq).
fn reader_rows(table: &Path, models: &[Model]) -> (Vec<String>, Value) {
    let ls: Value = serde_json::from_str(
        &pm(&args!["table", "ls", table, "--json"], None)
            .expect_ok("ls")
            .stdout,
    )
    .unwrap();
    assert_eq!(ls["version"], 2);
    let mut rows = Vec::new();
    for s in ls["splits"].as_array().unwrap() {
        let through = s["seq_max"]
            .as_u64()
            .unwrap()
            .max(s["applied_seq"].as_u64().unwrap());
        let pending: Vec<Matcher> = ls["tombstones"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["seq"].as_u64().unwrap() > through)
            .map(|t| {
                let text = t["predicate"].as_str().unwrap();
                models
                    .iter()
                    .find(|m| m.0 == text)
                    .unwrap_or_else(|| panic!("no model of tombstone {text}"))
                    .1
            })
            .collect();
        for row in file_cells(Path::new(s["url"].as_str().unwrap())) {
            if !pending.iter().any(|m| m(&row)) {
                rows.push(row_text(&row));
            }
        }
    }
    rows.sort();
    (rows, ls)
}

fn sorted_rows(files: &[PathBuf], keep: impl Fn(&[Cell]) -> bool) -> Vec<String> {
    let mut rows: Vec<String> = files
        .iter()
        .flat_map(|f| file_cells(f))
        .filter(|r| keep(r))
        .map(|r| row_text(&r))
        .collect();
    rows.sort();
    rows
}

fn delete_cli(table: &Path, pred: &str) -> common::table::Run {
    pm(&args!["table", "delete", table, "--where", pred], None)
}

#[test]
fn delete_one_series_across_three_windows_and_two_levels() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    let cfg = gen_config(4, 600, 3);
    let dir = tmp.path().join("in");
    let mut older = Vec::new();
    for w in 0..3 {
        for f in 0..3 {
            older.push(gen_file(&dir, &cfg, f, w, 1));
        }
    }
    add(&table, &older, None).0.expect_ok("add");
    // Open windows (policy clock at the first window's start): one level merge
    // of two splits per window leaves levels 0 and 1.
    let policy = Policy {
        merge_factor: 2,
        max_merge_factor: 2,
        ..Policy::default()
    };
    let mut t = Table::open(&table).unwrap();
    let report = compact(
        &mut t,
        &CompactOptions {
            policy: Some(policy),
            now: Some(prefix_merge::gen::WINDOW_START),
            ..CompactOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.jobs.len(), 3, "{report:?}");
    let levels: std::collections::BTreeSet<u64> =
        t.live().unwrap().iter().map(|s| s.level).collect();
    assert_eq!(levels, [0, 1].into());

    let first = &file_cells(&older[0])[0];
    let (Cell::Str(metric), Cell::Int(series)) = (
        first[col("metric_name")].clone(),
        first[col("timeseries_id")].clone(),
    ) else {
        panic!("metric_name / timeseries_id: {first:?}")
    };
    let pred = format!("metric_name = '{metric}' AND timeseries_id = {series}");
    let in_series = |r: &[Cell]| {
        r[col("metric_name")] == Cell::Str(metric.clone())
            && r[col("timeseries_id")] == Cell::Int(series)
    };
    let run = delete_cli(&table, &pred);
    run.expect_ok("delete");
    assert!(run.stdout.contains("at seq 10"), "{}", run.stdout);
    // Added after the delete: its rows of the series survive.
    let newer = vec![gen_file(&dir, &cfg, 3, 0, 1)];
    add(&table, &newer, None).0.expect_ok("add newer");

    let deleted_rows = sorted_rows(&older, |r| in_series(r)).len();
    assert!(deleted_rows > 0);
    let mut expected = sorted_rows(&older, |r| !in_series(r));
    expected.extend(sorted_rows(&newer, |_| true));
    expected.sort();
    let models: [Model; 1] = [(&pred, &in_series)];
    let (seen, ls) = reader_rows(&table, &models);
    common::table::assert_same_rows("reader before compaction", &expected, &seen);
    assert_eq!(ls["tombstones"].as_array().unwrap().len(), 1);

    let listed: Value = serde_json::from_str(
        &pm(&args!["table", "tombstones", &table, "--json"], None)
            .expect_ok("tombstones")
            .stdout,
    )
    .unwrap();
    assert_eq!(listed[0]["predicate"], pred.as_str());
    assert_eq!(listed[0]["seq"], 10);
    assert_eq!(listed[0]["splits"], 6, "{listed}");

    // Closed windows now: the final merges apply the tombstone, which retires.
    let report = compact(
        &mut t,
        &CompactOptions {
            until_stable: true,
            ..CompactOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.rows_deleted as usize, deleted_rows, "{report:?}");
    assert_eq!(report.tombstones_retired.len(), 1);
    let (seen, ls) = reader_rows(&table, &models);
    assert!(ls["tombstones"].as_array().unwrap().is_empty());
    common::table::assert_same_rows("live set after compaction", &expected, &seen);
    assert_eq!(t.live().unwrap().len(), 3);
}

#[test]
fn rows_added_again_after_a_delete_survive() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, true);
    let cfg = gen_config(2, 600, 3);
    let dir = tmp.path().join("in");
    let a = gen_file(&dir, &cfg, 0, 0, 1);
    add(&table, std::slice::from_ref(&a), None)
        .0
        .expect_ok("add");
    let Cell::Str(metric) = file_cells(&a)[0][col("metric_name")].clone() else {
        panic!("metric_name")
    };
    delete_cli(&table, &format!("metric_name = '{metric}'")).expect_ok("delete");
    // The same keys again (other values): last write wins, and these rows are
    // newer than the delete.
    let again = gen_file(&dir, &cfg, 0, 0, 2);
    add(&table, std::slice::from_ref(&again), None)
        .0
        .expect_ok("add again");
    let mut t = Table::open(&table).unwrap();
    compact(
        &mut t,
        &CompactOptions {
            until_stable: true,
            ..CompactOptions::default()
        },
    )
    .unwrap();
    let live = t.live().unwrap();
    assert_eq!(live.len(), 1);
    let rows = common::table::file_rows(&split_path(&table, &live[0].id));
    common::table::assert_same_rows("after compaction", &sorted_rows(&[again], |_| true), &rows);
    assert!(t.catalog().tombstones().unwrap().is_empty());
}

#[test]
fn a_split_the_delete_covers_whole_is_dropped_not_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    let dir = tmp.path().join("in");
    // One metric only: the delete covers the split whole (by its metadata).
    let whole = gen_file(&dir.join("whole"), &gen_config(1, 120, 1), 0, 0, 1);
    let generated = gen_file(&dir.join("partly"), &gen_config(1, 900, 3), 0, 0, 1);
    // Re-encoded with snappy (the compactor writes zstd): an output row group
    // with snappy chunks was copied.
    let partly = MergeBuilder::new([&generated], dir.join("snappy"))
        .writer_properties(snappy())
        .options(prefix_merge::merge::MergeOptions::default().with_verbatim_copy(false))
        .run()
        .unwrap()
        .outputs[0]
        .path
        .clone();
    assert!(row_group_sizes(&partly)
        .values()
        .flatten()
        .all(|c| c.1 == Compression::SNAPPY));
    let (_, added) = add(&table, &[whole.clone(), partly.clone()], None);
    let ids: Vec<String> = added.into_iter().map(|(_, id)| id).collect();
    let Cell::Str(metric) = file_cells(&whole)[0][col("metric_name")].clone() else {
        panic!("metric_name")
    };
    delete_cli(&table, &format!("metric_name = '{metric}'")).expect_ok("delete");
    let mut t = Table::open(&table).unwrap();
    // Both splits may share a window: keep the final merge from taking them.
    let policy = Policy {
        final_splits: 2,
        ..Policy::default()
    };
    let options = CompactOptions {
        policy: Some(policy),
        ..CompactOptions::default()
    };
    let report = compact(&mut t, &options).unwrap();
    let jobs = history(&table);
    let purge = jobs
        .iter()
        .find(|j| j.kind == "purge")
        .unwrap_or_else(|| panic!("no purge job: {jobs:?} {:?}", t.live()));
    assert_eq!(purge.inputs, vec![ids[0].clone()]);
    assert!(purge.outputs.is_empty());
    assert_eq!(purge.bytes_out, 0);
    let rewrite = jobs
        .iter()
        .find(|j| j.kind == "delete")
        .expect("a delete job");
    assert_eq!(rewrite.inputs, vec![ids[1].clone()]);
    assert_eq!(report.bytes_written, rewrite.bytes_out);
    // The rewritten split lost the metric; its other row groups are the
    // original's, byte for byte (copied, not re-encoded).
    let out = split_path(&table, &rewrite.outputs[0]);
    let sizes_in = row_group_sizes(&partly);
    let sizes_out = row_group_sizes(&out);
    assert!(!sizes_out.contains_key(&metric));
    assert_eq!(sizes_out.len(), sizes_in.len() - 1);
    for (m, sizes) in &sizes_out {
        assert_eq!(&sizes_in[m], sizes, "row group of {m}");
    }
    common::table::assert_same_rows(
        "rewritten split",
        &sorted_rows(&[partly], |r| {
            r[col("metric_name")] != Cell::Str(metric.clone())
        }),
        &common::table::file_rows(&out),
    );
    assert!(t.catalog().tombstones().unwrap().is_empty());
}

#[test]
fn a_bad_predicate_is_one_line_and_records_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    let cfg = gen_config(2, 300, 2);
    let dir = tmp.path().join("in");
    add(&table, &[gen_file(&dir, &cfg, 0, 0, 1)], None)
        .0
        .expect_ok("add");
    for (pred, says) in [
        ("colour = 'red'", "unknown column 'colour'"),
        ("value = 3", "'value' is not a sort column"),
        (
            "metric_name = 'a' OR host = 'b'",
            "at byte 18: expected AND, found 'OR'",
        ),
        ("metric_name LIKE '%cpu'", "only a prefix pattern"),
    ] {
        let run = delete_cli(&table, pred);
        assert_eq!(run.code, Some(2), "{pred}: {run:?}");
        assert!(run.stdout.is_empty(), "{pred}: {run:?}");
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{pred}: {run:?}");
        assert!(lines[0].contains(says), "{pred}: {}", lines[0]);
    }
    let listed = pm(&args!["table", "tombstones", &table], None);
    assert!(listed
        .expect_ok("tombstones")
        .stdout
        .contains("0 pending tombstones"));
    // No sequence number was taken: the next add is number 2.
    let (_, added) = add(&table, &[gen_file(&dir, &cfg, 1, 0, 1)], None);
    let t = Table::open(&table).unwrap().live().unwrap();
    let s = t.iter().find(|s| s.id == added[0].1).unwrap();
    assert_eq!(s.seq_min, 2);
}

#[test]
fn row_group_time_statistics_decide_regions_outside_or_inside_the_range() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(tmp.path(), 2, 1200, 4);
    let input = &inputs[0];
    let times: Vec<i64> = read_rows(input, &["timestamp_secs"])
        .iter()
        .map(|r| match r[0] {
            Cell::UInt(t) => t as i64,
            _ => panic!("timestamp_secs"),
        })
        .collect();
    let (lo, hi) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
    let before = per_metric(input);
    let metric = before.keys().next().unwrap().clone();
    let sizes_in = row_group_sizes(input);
    let run = |name: &str, time: TimeRange| {
        let p = predicate(&format!("metric_name = '{metric}'"), time);
        MergeBuilder::new(&inputs[..1], tmp.path().join(name))
            .writer_properties(snappy())
            .delete_rows(vec![vec![p]])
            .run()
            .unwrap()
    };
    // After every row of the file: the metric's region is copied as it is.
    let after = run(
        "after",
        TimeRange {
            from: Some(hi + 1),
            to: None,
        },
    );
    assert_eq!(after.rows_deleted, 0);
    assert_eq!(row_group_sizes(&after.outputs[0].path), sizes_in);
    // Around every row of the file: the region goes whole.
    let around = run(
        "around",
        TimeRange {
            from: Some(lo),
            to: Some(hi + 1),
        },
    );
    assert_eq!(around.rows_deleted as usize, before[&metric]);
    let out = row_group_sizes(&around.outputs[0].path);
    assert!(!out.contains_key(&metric));
    assert_eq!(out.len(), sizes_in.len() - 1);
}
