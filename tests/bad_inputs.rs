//! One test per bad-input class (docs/contract.md, README): a typed error naming the file, no
//! panic, and an output directory without any file the run created.
#![cfg(feature = "cli")]

mod common;

use common::write_kv_file;
use parquet::file::properties::EnabledStatistics;
use prefix_merge::gen::{generate, GenConfig};
use prefix_merge::{Error, MergeBuilder};
use std::path::{Path, PathBuf};

/// Merge into `dir/out` and assert the run failed and left nothing behind.
fn merge_fails(inputs: &[PathBuf], dir: &Path) -> Error {
    let out = dir.join("out");
    let err = MergeBuilder::new(inputs, &out)
        .num_outputs(2)
        .run()
        .unwrap_err();
    if out.exists() {
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert!(left.is_empty(), "files left behind: {left:?}");
    }
    err
}

fn gen_inputs(dir: &Path, files: usize) -> Vec<PathBuf> {
    common::gen_splits(dir, files, 3_000, 5)
}

#[test]
fn not_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = gen_inputs(dir.path(), 1);
    let junk = dir.path().join("junk.parquet");
    std::fs::write(&junk, b"PAR1 but not really a parquet file").unwrap();
    inputs.push(junk.clone());
    let err = merge_fails(&inputs, dir.path());
    // Starts like Parquet: truncated or corrupt rather than "not Parquet".
    assert!(
        matches!(&err, Error::Truncated { path, .. } if *path == junk),
        "{err}"
    );
    let csv = dir.path().join("data.csv");
    std::fs::write(&csv, b"k,ts\na,1\n").unwrap();
    let err = merge_fails(&[inputs[0].clone(), csv.clone()], dir.path());
    assert!(
        matches!(&err, Error::NotParquet { path } if *path == csv),
        "{err}"
    );
    let empty = dir.path().join("empty.parquet");
    std::fs::write(&empty, b"").unwrap();
    let err = merge_fails(std::slice::from_ref(&empty), dir.path());
    assert!(
        matches!(&err, Error::NotParquet { path } if *path == empty),
        "{err}"
    );
}

#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = gen_inputs(dir.path(), 2);
    let bytes = std::fs::read(&inputs[1]).unwrap();
    std::fs::write(&inputs[1], &bytes[..bytes.len() / 2]).unwrap();
    let err = merge_fails(&inputs, dir.path());
    assert!(err.to_string().contains("split_001.parquet"), "{err}");
}

#[test]
fn corrupt_pages() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = gen_inputs(dir.path(), 2);
    let mut bytes = std::fs::read(&inputs[0]).unwrap();
    // Overwrite the body (pages), keeping the footer intact.
    let end = bytes.len() * 3 / 4;
    for b in &mut bytes[8..end] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(&inputs[0], &bytes).unwrap();
    let err = merge_fails(&inputs, dir.path());
    assert!(err.to_string().contains("split_000.parquet"), "{err}");
}

#[test]
fn missing_and_unparsable_sort_schema() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.parquet");
    write_kv_file(&bare, &[vec!["a"]], None, None, EnabledStatistics::Page);
    let err = merge_fails(std::slice::from_ref(&bare), dir.path());
    assert!(
        matches!(&err, Error::SortSchemaMissing { path } if *path == bare),
        "{err}"
    );
    let bad = dir.path().join("bad.parquet");
    write_kv_file(
        &bad,
        &[vec!["a"]],
        Some("k||ts"),
        Some(0),
        EnabledStatistics::Page,
    );
    let err = merge_fails(&[bad], dir.path());
    assert!(
        matches!(&err, Error::BadMetadata { key, .. } if key == "qh.sort_fields"),
        "{err}"
    );
}

#[test]
fn inputs_disagree_on_schema_window_or_p() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.parquet");
    write_kv_file(
        &a,
        &[vec!["a"]],
        Some("k|ts"),
        Some(1),
        EnabledStatistics::Page,
    );
    let b = dir.path().join("b.parquet");
    write_kv_file(
        &b,
        &[vec!["a"]],
        Some("-k|ts"),
        Some(1),
        EnabledStatistics::Page,
    );
    let err = merge_fails(&[a.clone(), b.clone()], dir.path());
    assert!(
        matches!(&err, Error::InputMismatch { what: "sort schema", path, .. } if *path == b),
        "{err}"
    );
    assert!(
        err.to_string().contains("sort schema -k|ts disagrees with"),
        "{err}"
    );
    assert!(err.to_string().ends_with(": k|ts"), "{err}");
    write_kv_file(
        &b,
        &[vec!["a"]],
        Some("k|ts"),
        Some(0),
        EnabledStatistics::Page,
    );
    let err = merge_fails(&[a.clone(), b.clone()], dir.path());
    assert!(
        matches!(
            &err,
            Error::InputMismatch {
                what: "prefix length P",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("prefix length P 0 disagrees with"),
        "{err}"
    );
    assert!(err.to_string().ends_with(": 1"), "{err}");
    // Window: gen files carry one; a hand-built file has none.
    let gen = gen_inputs(dir.path(), 1);
    let c = dir.path().join("c.parquet");
    let sort = "metric_name|service|env|datacenter|region|host|timeseries_id|timestamp_secs/V2";
    write_kv_file(
        &c,
        &[vec!["a"]],
        Some(sort),
        Some(1),
        EnabledStatistics::Page,
    );
    let err = merge_fails(&[gen[0].clone(), c], dir.path());
    assert!(
        matches!(&err, Error::InputMismatch { what: "window", .. }),
        "{err}"
    );
    // Values, not Rust Debug output: no `Some(Window { .. })`.
    let text = err.to_string();
    assert!(text.contains("window none disagrees with"), "{text}");
    assert!(text.ends_with(": start=1699999200 duration=900s"), "{text}");
    assert!(!text.contains("Some(") && !text.contains('{'), "{text}");
}

#[test]
fn column_type_conflict_names_both_files() {
    use arrow_array::{Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use prefix_merge::write::{write_split, SplitConfig};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let sort: prefix_merge::SortSchema = "k|ts".parse().unwrap();
    let mut paths = Vec::new();
    for (i, v_type) in [DataType::Int64, DataType::Utf8].into_iter().enumerate() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("ts", DataType::Int64, false),
            Field::new("v", v_type.clone(), false),
        ]));
        let v: Arc<dyn arrow_array::Array> = match v_type {
            DataType::Int64 => Arc::new(Int64Array::from(vec![1])),
            _ => Arc::new(StringArray::from(vec!["1"])),
        };
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["a"])),
                Arc::new(Int64Array::from(vec![1])),
                v,
            ],
        )
        .unwrap();
        let p = dir.path().join(format!("t{i}.parquet"));
        write_split(&p, schema, &[b], &SplitConfig::new(sort.clone(), 1)).unwrap();
        paths.push(p);
    }
    let err = merge_fails(&paths, dir.path());
    let text = err.to_string();
    assert!(matches!(err, Error::TypeConflict { .. }), "{text}");
    assert!(
        text.contains("t0.parquet") && text.contains("t1.parquet") && text.contains("'v'"),
        "{text}"
    );
}

#[test]
fn alignment_violations_are_rejected_by_rule() {
    let dir = tempfile::tempdir().unwrap();
    for (rule, rgs) in [
        ("PA-1", vec![vec!["a", "b"]]),
        ("PA-3", vec![vec!["a"], vec!["a"]]),
        ("MS-2", vec![vec!["b"], vec!["a"]]),
    ] {
        let p = dir.path().join(format!("{rule}.parquet"));
        write_kv_file(&p, &rgs, Some("k|ts"), Some(1), EnabledStatistics::Page);
        let err = merge_fails(std::slice::from_ref(&p), dir.path());
        assert!(
            matches!(&err, Error::Alignment { rule: r, path, .. } if *r == rule && *path == p),
            "{err}"
        );
    }
}

#[test]
fn unsorted_input_names_file_row_group_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.parquet");
    write_kv_file(
        &ok,
        &[vec!["a", "b"]],
        Some("k|-ts"),
        Some(0),
        EnabledStatistics::Page,
    );
    // ts ascends (1, 2, 3) but the schema says descending: row 1 breaks SS-1.
    let bad = dir.path().join("unsorted.parquet");
    write_kv_file(
        &bad,
        &[vec!["c"], vec!["c", "c"]],
        Some("k|-ts"),
        Some(0),
        EnabledStatistics::Page,
    );
    let err = merge_fails(&[ok, bad.clone()], dir.path());
    match &err {
        Error::Unsorted { path, location, .. } => {
            assert_eq!(path, &bad);
            assert_eq!(location, "row group 1, row 0");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = gen_inputs(dir.path(), 1);
    let none: Vec<PathBuf> = Vec::new();
    assert!(matches!(
        MergeBuilder::new(&none, dir.path()).run(),
        Err(Error::InvalidArgument(_))
    ));
    let err = MergeBuilder::new(&inputs, dir.path().join("o"))
        .num_outputs(0)
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    // An output "directory" that is a regular file cannot be written.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let err = MergeBuilder::new(&inputs, &file).run().unwrap_err();
    assert!(
        matches!(&err, Error::NotADirectory { path } if *path == file),
        "{err}"
    );
    // Outputs never overwrite an existing file.
    let out = dir.path().join("existing");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("merged_00000.parquet"), b"keep me").unwrap();
    let err = MergeBuilder::new(&inputs, &out)
        .output_prefix("merged")
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::OutputExists { .. }), "{err}");
    assert_eq!(
        std::fs::read(out.join("merged_00000.parquet")).unwrap(),
        b"keep me"
    );
}

#[test]
fn empty_inputs_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = gen_inputs(dir.path(), 2);
    let cfg = GenConfig {
        files: 1,
        rows: 0,
        metrics: 5,
        ..GenConfig::default()
    };
    let zero = generate(&dir.path().join("zero"), &cfg).unwrap();
    assert_eq!(zero[0].rows, 0);
    inputs.insert(1, zero[0].path.clone());
    let result = MergeBuilder::new(&inputs, dir.path().join("out"))
        .num_outputs(2)
        .run()
        .unwrap();
    assert_eq!(result.rows_out, 6_000);
    assert_eq!(result.outputs.len(), 2);
}

#[test]
fn cli_failure_is_one_error_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = gen_inputs(dir.path(), 2);
    let junk = dir.path().join("junk.parquet");
    std::fs::write(&junk, b"nope").unwrap();
    inputs.push(junk);
    let out = dir.path().join("out");
    let o = common::merge_cli(&out, &[], &inputs);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains("junk.parquet"),
        "{stderr}"
    );
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}

#[test]
#[cfg(unix)]
fn disk_full_removes_partial_outputs() {
    // RLIMIT_FSIZE makes writes past 64 KiB fail with EFBIG, like a full disk.
    let dir = tempfile::tempdir().unwrap();
    let inputs = gen_inputs(dir.path(), 2);
    let out = dir.path().join("out");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("trap '' XFSZ; ulimit -f 128; exec \"$0\" merge --output-dir \"$1\" \"$2\" \"$3\"")
        .arg(env!("CARGO_BIN_EXE_prefix-merge"))
        .arg(&out)
        .args(&inputs);
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("File too large"),
        "{stderr}"
    );
    assert!(
        std::fs::read_dir(&out).unwrap().next().is_none(),
        "partial output left behind"
    );
}

#[test]
fn same_file_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = gen_inputs(dir.path(), 2);
    let out = dir.path().join("out");
    // The same path twice, and the same file under another spelling of its path.
    let dotted = inputs[0]
        .parent()
        .unwrap()
        .join(".")
        .join(inputs[0].file_name().unwrap());
    // A hard link: another name for the same inode.
    let link = dir.path().join("link.parquet");
    std::fs::hard_link(&inputs[1], &link).unwrap();
    for (twice, first) in [
        (
            vec![inputs[0].clone(), inputs[1].clone(), inputs[0].clone()],
            &inputs[0],
        ),
        (vec![inputs[0].clone(), dotted.clone()], &inputs[0]),
        (
            vec![inputs[1].clone(), inputs[0].clone(), link.clone()],
            &inputs[1],
        ),
    ] {
        let err = merge_fails(&twice, &out);
        assert!(
            matches!(&err, Error::DuplicateInput { other_path, .. } if other_path == first),
            "{err}"
        );
        let o = common::merge_cli(&out, &[], &twice);
        assert_eq!(o.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains("given twice as an input"), "{stderr}");
        assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
    }
}

#[test]
fn sort_column_in_no_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = gen_inputs(dir.path(), 2);
    let out = dir.path().join("out");
    let typo = "metric_name|service|env|datacenter|region|hots|timeseries_id|timestamp_secs/V2";
    let o = common::merge_cli(&out, &["--sort-schema", typo], &inputs);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.starts_with("error: sort column 'hots' is in no input"),
        "{stderr}"
    );
    assert!(
        stderr.contains("metric_name, service, env, datacenter, region, host"),
        "{stderr}"
    );
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
    // A column missing from only some inputs stays allowed (null there, MC-4).
    let sort = "k|extra|ts";
    let a = dir.path().join("a.parquet");
    write_kv_file(
        &a,
        &[vec!["a"]],
        Some(sort),
        Some(1),
        EnabledStatistics::Page,
    );
    let b = dir.path().join("b.parquet");
    write_kv_file(
        &b,
        &[vec!["b"]],
        Some(sort),
        Some(1),
        EnabledStatistics::Page,
    );
    let err = merge_fails(&[a, b], &out);
    assert!(
        matches!(&err, Error::UnknownSortColumn { column, available } if column == "extra" && available == "k, ts"),
        "{err}"
    );
}
