//! Last-write-wins dedup (`merge --dedup`): one row per full sort key, from the
//! latest input in the list that has it (the list is the write order; merge
//! depth, `qh.num_merge_ops`, plays no part), then the later row of that input. The property-based check is in
//! `merge_oracle.rs`; these pin the tie rule on a hand-made case.
#![cfg(feature = "cli")]

mod common;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::{merge_cli, parquet_files, read_rows, Cell};
use prefix_merge::merge::MergeOptions;
use prefix_merge::write::{write_split, SplitConfig};
use prefix_merge::MergeBuilder;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Write `rows` (k, ts, v) as a split with sort schema `k|-ts`, prefix length
/// `prefix_len` and `qh.num_merge_ops` = `merge_ops`.
fn split(path: &Path, rows: &[(&str, i64, i64)], prefix_len: usize, merge_ops: u64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|r| Some(r.0)).collect::<StringArray>()),
        Arc::new(rows.iter().map(|r| r.1).collect::<Int64Array>()),
        Arc::new(rows.iter().map(|r| r.2).collect::<Int64Array>()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let config = SplitConfig {
        num_merge_ops: merge_ops,
        ..SplitConfig::new("k|-ts".parse().unwrap(), prefix_len)
    };
    write_split(path, schema, &[batch], &config).unwrap();
}

/// Three inputs sharing keys across inputs and within one input.
fn inputs(dir: &Path, prefix_len: usize) -> Vec<PathBuf> {
    let paths: Vec<PathBuf> = (0..3)
        .map(|i| dir.join(format!("in_{prefix_len}_{i}.parquet")))
        .collect();
    split(
        &paths[0],
        &[
            ("x", 1, 10),
            ("x", 1, 11),
            ("x", 2, 12),
            ("y", 5, 13),
            ("z", 7, 14),
            ("z", 7, 15),
        ],
        prefix_len,
        3,
    );
    split(
        &paths[1],
        &[("x", 1, 20), ("x", 3, 21), ("y", 5, 22)],
        prefix_len,
        1,
    );
    split(&paths[2], &[("x", 2, 30), ("y", 5, 31)], prefix_len, 3);
    paths
}

fn rows(out: &Path) -> Vec<(String, i64, i64)> {
    parquet_files(out)
        .iter()
        .flat_map(|p| read_rows(p, &["k", "ts", "v"]))
        .map(|r| match r.as_slice() {
            [Cell::Str(k), Cell::Int(ts), Cell::Int(v)] => (k.clone(), *ts, *v),
            other => panic!("unexpected row {other:?}"),
        })
        .collect()
}

#[test]
fn later_input_wins_whatever_its_merge_ops_then_later_row() {
    let dir = tempfile::tempdir().unwrap();
    let expected: Vec<(String, i64, i64)> = [
        // (x, 3): only input 1 has it.
        ("x", 3, 21),
        // (x, 2): inputs 0 and 2 have it: the later input wins.
        ("x", 2, 30),
        // (x, 1): the later input 1 (1 merge op) beats input 0 (3 merge ops):
        // merge depth is not recency.
        ("x", 1, 20),
        // (y, 5): in all three inputs: the last input wins.
        ("y", 5, 31),
        // (z, 7): only in input 0 (with P = 1 a single-contributor region, which
        // must not be copied verbatim): the later row wins.
        ("z", 7, 15),
    ]
    .iter()
    .map(|&(k, ts, v)| (k.to_string(), ts, v))
    .collect();
    for prefix_len in [0, 1] {
        let paths = inputs(dir.path(), prefix_len);
        // Windows of one row: every run of equal keys spans windows.
        for batch_rows in [1, 2, 8192] {
            let out = dir.path().join(format!("out_{prefix_len}_{batch_rows}"));
            let options = MergeOptions::default().with_batch_rows(batch_rows);
            let m = MergeBuilder::new(&paths, &out)
                .options(options)
                .dedup(true)
                .run()
                .unwrap();
            assert_eq!(rows(&out), expected, "P = {prefix_len}, batch {batch_rows}");
            assert_eq!((m.rows_in, m.rows_out, m.duplicates_dropped), (11, 5, 6));
            assert_eq!(m.num_merge_ops, 4);
        }
        // Off by default: every row, ties in input order.
        let out = dir.path().join(format!("out_{prefix_len}_keep"));
        let m = MergeBuilder::new(&paths, &out).run().unwrap();
        assert_eq!((m.rows_in, m.rows_out, m.duplicates_dropped), (11, 11, 0));
        let vs: Vec<i64> = rows(&out).iter().map(|r| r.2).collect();
        assert_eq!(vs, [21, 12, 30, 10, 11, 20, 13, 22, 31, 14, 15]);
    }
}

#[test]
fn cli_dedup_flag_reports_duplicates_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let paths = inputs(dir.path(), 1);
    let out = dir.path().join("out");
    let o = merge_cli(&out, &["--dedup", "--json"], &paths);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(m["rows_in"], 11);
    assert_eq!(m["rows_out"], 5);
    assert_eq!(m["duplicates_dropped"], 6);
    assert_eq!(rows(&out).len(), 5);

    let out = dir.path().join("out_keep");
    let o = merge_cli(&out, &["--json"], &paths);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(m["rows_out"], 11);
    assert!(m.get("duplicates_dropped").is_none(), "absent when 0");

    let help = common::bin().args(["merge", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--dedup"));
}
