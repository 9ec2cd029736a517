//! A bad split does not stall its window (docs/architecture.md): the compactor puts it on the
//! skip list (`table skipped`), compacts the window's other splits and the other
//! windows, and exits 0 (a skipped input is not a failed job). `--retry-skipped`
//! tries it again: skipped again while it is still bad, merged once repaired.
//!
//! Two kinds of damage: a data page that fails to decode while the footer still
//! parses (found when the merge reads it), and a truncated file (its footer is
//! gone: found when the job is prepared).
#![cfg(feature = "postgres")]

mod common;

use common::table::{
    add, assert_same_rows, check_live_set, create_table, file_rows, file_window, gen_config,
    gen_file, live, pm, split_path, Run,
};
use prefix_merge::compact::Split;
use prefix_merge::gen::WINDOW_START;
use serde_json::Value;
use std::path::{Path, PathBuf};

const FILES: usize = 16;
const ROWS: usize = 200;

struct Fixture {
    _tmp: tempfile::TempDir,
    table: PathBuf,
    /// (source file, split id, window start) of every added split.
    splits: Vec<(PathBuf, String, i64)>,
    window_secs: i64,
}

/// A table of `FILES` generated splits over 2 windows.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    let cfg = gen_config(FILES, ROWS, 3);
    let files: Vec<PathBuf> = (0..FILES)
        .map(|f| gen_file(&tmp.path().join("in"), &cfg, f, f % 2, 1))
        .collect();
    let (run, added) = add(&table, &files, None);
    run.expect_ok("table add");
    assert_eq!(added.len(), FILES);
    let window_secs = file_window(&files[0]).1.unwrap() as i64;
    let splits = added
        .into_iter()
        .map(|(f, id)| {
            let w = file_window(&f).0.unwrap();
            (f, id, w)
        })
        .collect();
    Fixture {
        _tmp: tmp,
        table,
        splits,
        window_secs,
    }
}

impl Fixture {
    fn window(&self, n: i64) -> i64 {
        WINDOW_START + n * self.window_secs
    }

    /// A policy clock at which both windows are closed.
    fn closed(&self) -> i64 {
        self.window(3) + 2 * 3600
    }

    fn compact(&self, now: i64, extra: &[&str]) -> (Run, Value) {
        let mut a = args![
            "compact",
            &self.table,
            "--until-stable",
            "--merge-factor",
            "3",
            "--max-merge-factor",
            "8",
            "--now",
            now.to_string(),
            "--json",
        ]
        .to_vec();
        a.extend(extra.iter().map(Into::into));
        let run = pm(&a, None);
        let report = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("compact --json: {e}: {run:?}"));
        (run, report)
    }

    /// `table skipped --json`.
    fn skipped(&self) -> Vec<Value> {
        let run = pm(&args!["table", "skipped", &self.table, "--json"], None);
        run.expect_ok("table skipped");
        serde_json::from_str::<Value>(&run.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// Rows of the source files of the splits in window `start`, except `except`.
    fn source_rows(&self, start: i64, except: &str) -> Vec<String> {
        let mut rows: Vec<String> = self
            .splits
            .iter()
            .filter(|(_, id, w)| *w == start && id != except)
            .flat_map(|(f, _, _)| file_rows(f))
            .collect();
        rows.sort();
        rows
    }

    /// Live splits of window `start` (other than `except`), with their rows.
    fn live_in(&self, start: i64, except: &str) -> Vec<(Split, Vec<String>)> {
        live(&self.table)
            .into_iter()
            .filter(|s| s.window_start == Some(start) && s.id != except)
            .map(|s| {
                let rows = file_rows(&split_path(&self.table, &s.id));
                (s, rows)
            })
            .collect()
    }

    /// Window `start` was compacted to one merged split holding every source row
    /// but `except`'s.
    fn assert_compacted(&self, start: i64, except: &str) {
        let splits = self.live_in(start, except);
        assert_eq!(
            splits.len(),
            1,
            "window {start}: one merged split besides {except}: {:?}",
            splits.iter().map(|s| &s.0).collect::<Vec<_>>()
        );
        let (split, rows) = &splits[0];
        assert!(split.level >= 1, "window {start}: {split:?} was not merged");
        assert!(split.skipped.is_none());
        assert_same_rows(
            &format!("window {start}"),
            &self.source_rows(start, except),
            rows,
        );
    }
}

/// The jobs of a compact report with outcome `skipped`, as (split, error).
fn skipped_jobs(report: &Value) -> Vec<(String, String)> {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["outcome"] == "skipped")
        .flat_map(|j| j["splits"].as_array().unwrap().clone())
        .map(|s| {
            (
                s[0].as_str().unwrap().to_string(),
                s[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn count(report: &Value, outcome: &str) -> usize {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["outcome"] == outcome)
        .count()
}

/// The skip list holds exactly `id`, with an error naming its file.
/// The run exited 0 with exactly one skipped job, for `bad`, which is on the skip
/// list; the rest of window `a` and all of window `b` are compacted.
fn assert_skipped_rest_compacted(
    f: &Fixture,
    run: &Run,
    report: &Value,
    bad: &str,
    (a, b): (i64, i64),
) {
    assert_eq!(
        run.code,
        Some(0),
        "a skipped split is not a failed job: {run:?}"
    );
    assert_eq!(count(report, "failed"), 0);
    let skipped = skipped_jobs(report);
    assert_eq!(skipped.len(), 1, "{report}");
    assert_eq!(skipped[0].0, bad);
    assert_skip_list(f, bad);
    f.assert_compacted(a, bad);
    f.assert_compacted(b, "");
}

/// `compact --retry-skipped` with every window closed: exit 0, and `bad` (still
/// bad) is the one skipped split again. Returns the report.
fn retry_skipped_again(f: &Fixture, bad: &str) -> Value {
    let (run, report) = f.compact(f.closed(), &["--retry-skipped"]);
    eprintln!(
        "compact --retry-skipped: exit {:?}; report: {report}",
        run.code
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let skipped = skipped_jobs(&report);
    assert_eq!(skipped.len(), 1, "{report}");
    assert_eq!(skipped[0].0, bad);
    report
}

fn assert_skip_list(f: &Fixture, id: &str) {
    let skipped = f.skipped();
    assert_eq!(skipped.len(), 1, "skip list: {skipped:?}");
    assert_eq!(skipped[0]["id"], id);
    let why = skipped[0]["skipped"].as_str().unwrap();
    assert!(why.contains(id), "the skip reason names the split: {why}");
}

/// Overwrite the ZSTD frame magic of every page of column `value` in row group 0:
/// the footer still parses, the pages fail to decompress. Returns bytes changed.
fn corrupt_value_pages(path: &Path) -> usize {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let rg = reader.metadata().row_group(0);
    let col = rg
        .columns()
        .iter()
        .find(|c| c.column_path().string() == "value")
        .unwrap();
    let (start, len) = col.byte_range();
    drop(reader);
    let mut bytes = std::fs::read(path).unwrap();
    let chunk = &mut bytes[start as usize..(start + len) as usize];
    let magic = [0x28, 0xB5, 0x2F, 0xFD];
    let mut changed = 0;
    for i in 0..chunk.len().saturating_sub(3) {
        if chunk[i..i + 4] == magic {
            chunk[i..i + 4].copy_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]);
            changed += 4;
        }
    }
    std::fs::write(path, &bytes).unwrap();
    changed
}

#[test]
fn corrupt_page_is_skipped_and_its_window_compacted() {
    let f = fixture();
    let (a, b) = (f.window(0), f.window(1));
    let (_, bad, _) = f.splits.iter().find(|(_, _, w)| *w == a).unwrap().clone();
    let bad_path = split_path(&f.table, &bad);
    let original = std::fs::read(&bad_path).unwrap();
    assert!(
        corrupt_value_pages(&bad_path) > 0,
        "no ZSTD page found to corrupt"
    );
    // `verify` decodes the sort columns only: it passes this file (observed: exit
    // 0). The merge's error names the file, which is how the job blames it.
    let verify = pm(&args!["verify", &bad_path], None);
    eprintln!("verify of the corrupt split: {verify:?}");
    assert!(!pm(&args!["inspect", &bad_path], None).stdout.is_empty());

    // Both windows closed: final merges. The merge of window A fails on the bad
    // split; it is skipped and the next round merges the rest of window A.
    let (run, report) = f.compact(f.closed(), &[]);
    eprintln!(
        "compact with a corrupt split: exit {:?}; stderr: {}",
        run.code, run.stderr
    );
    eprintln!("report: {report}");
    assert_skipped_rest_compacted(&f, &run, &report, &bad, (a, b));
    let live = live(&f.table);
    assert_eq!(live.len(), 3, "window A: merged + bad; window B: merged");
    let bad_split = live.iter().find(|s| s.id == bad).unwrap();
    assert_eq!(bad_split.level, 0, "the bad split stays as it was");
    assert!(bad_split.skipped.is_some());
    // Every other live split is sound; the bad file is untouched.
    let good: Vec<_> = live
        .iter()
        .filter(|s| s.id != bad)
        .map(|s| split_path(&f.table, &s.id))
        .collect();
    let mut a_verify = args!["verify"].to_vec();
    a_verify.extend(good.iter().map(Into::into));
    pm(&a_verify, None).expect_ok("verify the merged splits");
    assert_ne!(std::fs::read(&bad_path).unwrap(), original);

    // A plain rerun leaves the skipped split alone: nothing to do.
    let (run, report) = f.compact(f.closed(), &[]);
    assert_eq!(run.code, Some(0));
    assert_eq!(report["jobs"].as_array().unwrap().len(), 0, "{report}");

    // --retry-skipped: merged with window A's split again, fails again, skipped
    // again; nothing else changes.
    let report = retry_skipped_again(&f, &bad);
    assert_eq!(count(&report, "committed"), 0, "{report}");
    assert_skip_list(&f, &bad);
    f.assert_compacted(a, &bad);
    f.assert_compacted(b, "");

    // Repaired, it is merged on the next retry.
    std::fs::write(&bad_path, &original).unwrap();
    let (run, report) = f.compact(f.closed(), &["--retry-skipped"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(count(&report, "committed"), 1, "{report}");
    assert!(f.skipped().is_empty());
    f.assert_compacted(a, "");
    f.assert_compacted(b, "");
    check_live_set(&f.table);
}

#[test]
fn truncated_split_is_skipped_in_open_and_closed_windows() {
    let f = fixture();
    let (a, b) = (f.window(0), f.window(1));
    let (_, bad, _) = f.splits.iter().rfind(|(_, _, w)| *w == a).unwrap().clone();
    let bad_path = split_path(&f.table, &bad);
    let len = std::fs::metadata(&bad_path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&bad_path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    // Open windows (the clock at window A's start): level merges of 8 splits
    // each. Window A's job cannot even be prepared: the truncated split is
    // skipped and the other 7 are merged.
    let (run, report) = f.compact(a, &[]);
    eprintln!(
        "compact with a truncated split: exit {:?}; report: {report}",
        run.code
    );
    assert_skipped_rest_compacted(&f, &run, &report, &bad, (a, b));

    // Closed windows, --retry-skipped: the final merge of window A takes it
    // again, and skips it again.
    retry_skipped_again(&f, &bad);
    assert_skip_list(&f, &bad);
    f.assert_compacted(a, &bad);
    f.assert_compacted(b, "");
    let plain = pm(&args!["table", "skipped", &f.table], None);
    assert!(plain.stdout.contains(&bad), "{plain:?}");
}
