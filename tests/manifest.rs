//! The run manifest (issue 7): its numbers match the files, it is refused up
//! front when its path is taken, and its JSON layout is pinned by a snapshot on
//! Quickwit-written fixture data.
#![cfg(feature = "cli")]

mod common;

use common::{read_rows, Cell};
use prefix_merge::MergeBuilder;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn cell_json(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Int(v) => json!(v),
        Cell::UInt(v) => json!(v),
        Cell::Float(v) => json!(v),
        Cell::Str(s) => json!(s),
        Cell::Bool(b) => json!(b),
        Cell::Bytes(b) => json!(b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
    }
}

#[test]
fn manifest_numbers_match_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(dir.path(), 3, 9_000, 7);
    let out = dir.path().join("out");
    let path = dir.path().join("run.json");
    let result = MergeBuilder::new(&inputs, &out)
        .num_outputs(3)
        .manifest_path(&path)
        .summary_columns(["service", "env"])
        .run()
        .unwrap();
    let m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(m["run_id"], json!(result.run_id));
    assert_eq!(m["manifest_version"], 1);
    assert_eq!(m["prefix_len"], 1);
    assert_eq!(m["num_merge_ops"], 1);
    assert_eq!(
        m["window"],
        json!({"start": 1_699_999_200, "duration_secs": 900})
    );
    // Inputs: path, bytes, rows, footer fingerprint.
    let entries = m["inputs"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for (e, p) in entries.iter().zip(&inputs) {
        assert_eq!(e["path"], json!(p));
        assert_eq!(e["bytes"], std::fs::metadata(p).unwrap().len());
        assert_eq!(e["rows"], read_rows(p, &["metric_name"]).len());
        let fp = e["footer_fingerprint"].as_str().unwrap();
        assert!(fp.starts_with("xxh3:") && fp.len() == 21, "{fp}");
    }
    let fps: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["footer_fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fps.len(), 3, "distinct files have distinct fingerprints");
    // Outputs: every number recomputed from the file itself.
    let outputs = m["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 3);
    let mut total = 0;
    let mut previous_last_hex: Option<String> = None;
    for o in outputs {
        let p = std::path::PathBuf::from(o["path"].as_str().unwrap());
        let sort = prefix_merge::gen::sort_schema();
        let names: Vec<&str> = sort.column_names().collect();
        let rows = read_rows(&p, &names);
        total += rows.len();
        assert_eq!(o["rows"], rows.len());
        assert_eq!(o["bytes"], std::fs::metadata(&p).unwrap().len());
        let meta = prefix_merge::InputFile::open(&p).unwrap();
        assert_eq!(o["row_groups"], meta.row_groups.len());
        let values = |row: &Vec<Cell>| Value::Array(row.iter().map(cell_json).collect());
        assert_eq!(o["first_key"]["values"], values(&rows[0]));
        assert_eq!(o["last_key"]["values"], values(rows.last().unwrap()));
        // Encoded keys order as the rows do (MS-5 in bytes).
        let (first_hex, last_hex) = (
            o["first_key"]["hex"].as_str().unwrap().to_string(),
            o["last_key"]["hex"].as_str().unwrap().to_string(),
        );
        assert!(first_hex <= last_hex);
        if let Some(prev) = &previous_last_hex {
            assert!(*prev < first_hex, "outputs overlap");
        }
        previous_last_hex = Some(last_hex);
        let times: Vec<u64> = rows
            .iter()
            .map(|r| match r[7] {
                Cell::UInt(t) => t,
                ref other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(o["time_min"], *times.iter().min().unwrap());
        assert_eq!(o["time_max"], *times.iter().max().unwrap());
        let metrics: BTreeSet<String> = rows
            .iter()
            .map(|r| match &r[0] {
                Cell::Str(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        let prefixes: Vec<Value> = metrics.iter().map(|s| json!([s])).collect();
        assert_eq!(o["prefixes"], Value::Array(prefixes));
        let series: BTreeSet<Vec<String>> = rows
            .iter()
            .map(|r| r[..7].iter().map(|c| format!("{c:?}")).collect())
            .collect();
        assert_eq!(o["series"], series.len());
        // Distinct values: the prefix column, then the requested columns.
        let columns = o["columns"].as_array().unwrap();
        let names: Vec<&str> = columns
            .iter()
            .map(|c| c["column"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["metric_name", "service", "env"]);
        for (c, idx) in columns.iter().zip([0usize, 1, 2]) {
            let mut distinct: Vec<Value> = Vec::new();
            let mut seen = BTreeSet::new();
            let mut null = false;
            for r in &rows {
                match &r[idx] {
                    Cell::Null => null = true,
                    Cell::Str(s) => {
                        seen.insert(s.clone());
                    }
                    other => panic!("{other:?}"),
                }
            }
            distinct.extend(seen.into_iter().map(Value::String));
            if null {
                distinct.push(Value::Null);
            }
            assert_eq!(c["high_cardinality"], false);
            assert_eq!(c["values"], Value::Array(distinct), "{}", names[idx]);
        }
    }
    assert_eq!(m["rows_out"], total);
    assert_eq!(m["rows_in"], total);
    // The library result is the same document.
    assert_eq!(serde_json::to_value(&result).unwrap(), m);
}

#[test]
fn high_cardinality_columns_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    // 60 points per series: 1,100 series, more than the cap.
    let inputs = common::gen_splits(dir.path(), 1, 66_000, 3);
    let r = MergeBuilder::new(&inputs, dir.path().join("out"))
        .summary_columns(["timestamp_secs", "timeseries_id"])
        .run()
        .unwrap();
    let m = serde_json::to_value(&r).unwrap();
    let cols = m["outputs"][0]["columns"].as_array().unwrap();
    let by_name = |n: &str| cols.iter().find(|c| c["column"] == n).unwrap().clone();
    let ts = by_name("timestamp_secs");
    let ids = by_name("timeseries_id");
    let distinct_ids: BTreeSet<String> = inputs
        .iter()
        .flat_map(|p| read_rows(p, &["timeseries_id"]))
        .map(|r| format!("{:?}", r[0]))
        .collect();
    assert!(distinct_ids.len() > prefix_merge::output::DISTINCT_CAP);
    assert_eq!(ids["high_cardinality"], true);
    assert_eq!(ids["values"], json!([]));
    let distinct_ts: BTreeSet<String> = inputs
        .iter()
        .flat_map(|p| read_rows(p, &["timestamp_secs"]))
        .map(|r| format!("{:?}", r[0]))
        .collect();
    assert!(distinct_ts.len() <= prefix_merge::output::DISTINCT_CAP);
    assert_eq!(ts["high_cardinality"], false);
    assert_eq!(ts["values"].as_array().unwrap().len(), distinct_ts.len());
}

#[test]
fn a_taken_manifest_path_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(dir.path(), 2, 1_000, 3);
    let out = dir.path().join("out");
    let path = dir.path().join("run.json");
    std::fs::write(&path, b"earlier run").unwrap();
    let o = common::merge_cli(&out, &["--manifest", path.to_str().unwrap()], &inputs);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("run.json: already exists"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), b"earlier run");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}

#[test]
fn manifest_snapshot_on_quickwit_fixtures() {
    let fixtures = common::quickwit_fixtures();
    let mut inputs = common::parquet_files(&fixtures.join("p1"));
    inputs.truncate(2);
    let dir = tempfile::tempdir().unwrap();
    let r = MergeBuilder::new(&inputs, dir.path().join("out"))
        .num_outputs(2)
        .output_prefix("fixture")
        .summary_columns(["service"])
        .run()
        .unwrap();
    let mut m = serde_json::to_value(&r).unwrap();
    // Paths: file names only (the snapshot must not depend on where it runs).
    for list in ["inputs", "outputs"] {
        for e in m[list].as_array_mut().unwrap() {
            let name = std::path::Path::new(e["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            e["path"] = json!(name);
        }
    }
    insta::assert_json_snapshot!(m, {
        ".run_id" => "[run id]",
        ".engine_version" => "[version]",
        ".started_at" => "[time]",
        ".finished_at" => "[time]",
        ".elapsed_secs" => "[seconds]",
    });
}
