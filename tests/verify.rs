//! `verify` names the broken rule on hand-made violating files and passes good ones.
#![cfg(feature = "cli")]

mod common;

use common::{bin, write_kv_file};
use parquet::file::properties::EnabledStatistics;
use std::path::Path;

fn verify(path: &Path) -> (i32, String) {
    let out = bin().arg("verify").arg(path).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// (rule, row groups of k, sort schema, P, expected text)
type Case<'a> = (&'a str, Vec<Vec<&'a str>>, &'a str, usize, &'a str);

#[test]
fn violations_exit_1_with_rule_row_group_and_row() {
    let dir = tempfile::tempdir().unwrap();
    // (rule, row groups of k, sort schema, P, expected text)
    let cases: [Case; 4] = [
        (
            "PA-1",
            vec![vec!["a", "a", "b"]],
            "k|ts",
            1,
            "row group 0 holds more than one prefix value (row 2",
        ),
        (
            "PA-3",
            vec![vec!["a"], vec!["a"]],
            "k|ts",
            1,
            "row group 1 repeats the prefix of row group 0",
        ),
        // k descending in the schema, ascending in the data: SS-1 at row group 1.
        (
            "SS-1",
            vec![vec!["a"], vec!["b"]],
            "-k|ts",
            0,
            "row group 1, row 0",
        ),
        // ts ascends across rows but the schema says -ts: SS-1 inside a row group.
        (
            "SS-1",
            vec![vec!["a", "a"]],
            "k|-ts",
            0,
            "row group 0, row 1",
        ),
    ];
    for (i, (rule, rgs, schema, p, text)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("{i}.parquet"));
        write_kv_file(&path, rgs, Some(schema), Some(*p), EnabledStatistics::Page);
        let (code, out) = verify(&path);
        assert_eq!(code, 1, "{rule}: {out}");
        assert!(
            out.contains(&format!("{rule}: ")) && out.contains(text),
            "{rule}: {out}"
        );
    }
}

#[test]
fn ms2_when_row_groups_are_out_of_prefix_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ms2.parquet");
    write_kv_file(
        &path,
        &[vec!["b"], vec!["a"]],
        Some("k|ts"),
        Some(1),
        EnabledStatistics::Page,
    );
    let (code, out) = verify(&path);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("MS-2: row group 1 sorts before row group 0"),
        "{out}"
    );
}

#[test]
fn contract_and_sorting_columns_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let bad_keys = dir.path().join("keys.parquet");
    write_kv_file(
        &bad_keys,
        &[vec!["a"]],
        Some("k|ts"),
        Some(7),
        EnabledStatistics::Page,
    );
    let (code, out) = verify(&bad_keys);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("QH-KEYS: ") && out.contains("qh.rg_partition_prefix_len"),
        "{out}"
    );

    // sorting_columns that say `k DESC` while qh.sort_fields says `k`.
    use arrow_array::{Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::file::metadata::{KeyValue, SortingColumn};
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, false),
        Field::new("ts", DataType::Int64, false),
    ]));
    let props = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "qh.sort_fields".into(),
            "k|ts".to_string(),
        )]))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: true,
            nulls_first: false,
        }]))
        .build();
    let path = dir.path().join("sorting.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        schema.clone(),
        Some(props),
    )
    .unwrap();
    w.write(
        &RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a"])),
                Arc::new(Int64Array::from(vec![1])),
            ],
        )
        .unwrap(),
    )
    .unwrap();
    w.close().unwrap();
    let (code, out) = verify(&path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("SORTING-COLUMNS: "), "{out}");
}

#[test]
fn good_files_pass_and_unreadable_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    write_kv_file(
        &good,
        &[vec!["a", "a"], vec!["b"]],
        Some("k|ts"),
        Some(1),
        EnabledStatistics::None,
    );
    let (code, out) = verify(&good);
    assert_eq!(code, 0, "{out}");
    let junk = dir.path().join("junk.parquet");
    std::fs::write(&junk, b"junk").unwrap();
    assert_eq!(verify(&junk).0, 2);
}
