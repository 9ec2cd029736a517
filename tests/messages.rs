//! What the command line says when it is given bad input (issue 16): one line,
//! values rather than Rust Debug, flags rather than library fields, and a hint
//! where a hint helps. Snapshots under tests/snapshots/messages__*.snap, with the
//! temporary directory shown as `[TMP]`.
#![cfg(feature = "cli")]

mod common;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::WriterProperties;
use std::path::Path;
use std::sync::Arc;

const V2: &str = "metric_name|host|timestamp_secs/V2";

/// How a file declares its sort schema.
enum Declares<'a> {
    /// `qh.sort_fields`.
    SortFields(&'a str),
    /// Only Parquet `sorting_columns` (metric_name asc, host asc, timestamp_secs desc).
    SortingColumns,
    Nothing,
}

/// A one-row-group file with columns metric_name, host, timestamp_secs.
fn write_metrics(path: &Path, rows: &[(&str, &str, i64)], declares: Declares) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("metric_name", DataType::Utf8, false),
        Field::new("host", DataType::Utf8, true),
        Field::new("timestamp_secs", DataType::Int64, false),
    ]));
    let mut props = WriterProperties::builder();
    match declares {
        Declares::SortFields(s) => {
            props = props.set_key_value_metadata(Some(vec![KeyValue::new(
                "qh.sort_fields".into(),
                s.to_string(),
            )]));
        }
        Declares::SortingColumns => {
            let column = |i, descending| SortingColumn {
                column_idx: i,
                descending,
                nulls_first: false,
            };
            props = props.set_sorting_columns(Some(vec![
                column(0, false),
                column(1, false),
                column(2, true),
            ]));
        }
        Declares::Nothing => {}
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
    ];
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props.build())).unwrap();
    w.write(&RecordBatch::try_new(schema, columns).unwrap())
        .unwrap();
    w.close().unwrap();
}

/// Timestamps ascending, while `timestamp_secs` sorts descending by default.
fn write_unsorted(path: &Path) {
    write_metrics(
        path,
        &[("cpu", "a", 10), ("cpu", "a", 20)],
        Declares::SortFields(V2),
    );
}

/// Run the CLI; (exit code, stdout, stderr) with `tmp` shown as `[TMP]`.
fn run(tmp: &Path, args: &[&str]) -> (i32, String, String) {
    let out = common::bin().args(args).output().unwrap();
    let tmp = tmp.to_str().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(tmp, "[TMP]");
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn path(tmp: &Path, name: &str) -> String {
    tmp.join(name).to_str().unwrap().to_string()
}

#[test]
fn merge_of_unsorted_input_shows_both_rows_and_the_direction_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    write_unsorted(&t.join("unsorted.parquet"));
    let (code, _, stderr) = run(
        t,
        &[
            "merge",
            "--output-dir",
            &path(t, "out"),
            &path(t, "unsorted.parquet"),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    insta::assert_snapshot!("merge_unsorted", stderr);
}

#[test]
fn verify_of_unsorted_input_shows_both_rows_and_the_direction_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    write_unsorted(&t.join("unsorted.parquet"));
    let (code, stdout, stderr) = run(t, &["verify", &path(t, "unsorted.parquet")]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(stderr, "");
    insta::assert_snapshot!("verify_unsorted", stdout);
}

#[test]
fn declaring_the_direction_makes_the_same_file_sorted() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    write_unsorted(&t.join("unsorted.parquet"));
    let (code, stdout, stderr) = run(
        t,
        &[
            "verify",
            "--sort-schema",
            "metric_name|host|+timestamp_secs/V2",
            &path(t, "unsorted.parquet"),
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn zero_outputs_names_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    write_unsorted(&t.join("in.parquet"));
    let (code, _, stderr) = run(
        t,
        &[
            "merge",
            "--num-outputs",
            "0",
            "--output-dir",
            &path(t, "out"),
            &path(t, "in.parquet"),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    insta::assert_snapshot!("merge_zero_outputs", stderr);
    let (code, _, stderr) = run(t, &["compact", &path(t, "table"), "--jobs", "0"]);
    assert_eq!(code, 2, "{stderr}");
    insta::assert_snapshot!("compact_zero_jobs", stderr);
}

#[test]
fn output_dir_that_is_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    write_metrics(
        &t.join("in.parquet"),
        &[("cpu", "a", 20), ("cpu", "a", 10)],
        Declares::SortFields(V2),
    );
    std::fs::write(t.join("out.txt"), "not a directory\n").unwrap();
    let (code, _, stderr) = run(
        t,
        &[
            "merge",
            "--output-dir",
            &path(t, "out.txt"),
            &path(t, "in.parquet"),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("merge_output_is_a_file", stderr);
    assert_eq!(
        std::fs::read_to_string(t.join("out.txt")).unwrap(),
        "not a directory\n"
    );
}

#[test]
fn csv_input_is_not_parquet_and_a_cut_file_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    std::fs::write(
        t.join("data.csv"),
        "metric_name,host,timestamp_secs\ncpu,a,10\n",
    )
    .unwrap();
    let (code, _, stderr) = run(
        t,
        &[
            "merge",
            "--output-dir",
            &path(t, "out"),
            &path(t, "data.csv"),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("merge_csv_input", stderr);
    let (code, _, stderr) = run(t, &["verify", &path(t, "data.csv")]);
    assert_eq!(code, 2, "{stderr}");
    insta::assert_snapshot!("verify_csv_input", stderr);

    // A Parquet file cut in half still starts with PAR1: truncated, not "not Parquet".
    let whole = t.join("whole.parquet");
    write_metrics(&whole, &[("cpu", "a", 20)], Declares::SortFields(V2));
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(t.join("cut.parquet"), &bytes[..bytes.len() / 2]).unwrap();
    let (code, _, stderr) = run(
        t,
        &[
            "merge",
            "--output-dir",
            &path(t, "out"),
            &path(t, "cut.parquet"),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    let half = bytes.len() / 2;
    assert_eq!(
        stderr,
        format!("error: [TMP]/cut.parquet: truncated or corrupt Parquet file ({half} bytes, no PAR1 magic at its end)\n")
    );
}

#[test]
fn sort_schema_version_suffix_does_not_matter() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // Declared through Parquet sorting_columns: no name, no /V2.
    write_metrics(
        &t.join("sorting_columns.parquet"),
        &[("cpu", "a", 20), ("cpu", "a", 10)],
        Declares::SortingColumns,
    );
    write_metrics(
        &t.join("v2.parquet"),
        &[("cpu", "b", 30), ("mem", "a", 5)],
        Declares::SortFields(V2),
    );
    write_metrics(
        &t.join("bare.parquet"),
        &[("cpu", "c", 30), ("cpu", "c", 5)],
        Declares::Nothing,
    );
    let (code, _, stderr) = run(
        t,
        &[
            "merge",
            "--output-dir",
            &path(t, "out"),
            &path(t, "sorting_columns.parquet"),
            &path(t, "v2.parquet"),
        ],
    );
    assert_eq!((code, stderr.as_str()), (0, ""));
    let (code, stdout, stderr) = run(
        t,
        &[
            "verify",
            "--sort-schema",
            V2,
            &path(t, "sorting_columns.parquet"),
            &path(t, "bare.parquet"),
        ],
    );
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    insta::assert_snapshot!("verify_with_sort_schema", stdout);
}
