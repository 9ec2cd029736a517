//! `inspect` verdicts on hand-built files that break (or keep) their alignment
//! claim, and prefix keys that statistics alone cannot give.
#![cfg(feature = "cli")]

mod common;

use common::{inspect, write_kv_file};
use parquet::file::properties::EnabledStatistics;
use prefix_merge::input::KeySource;
use prefix_merge::key::KeyValue;
use prefix_merge::InputFile;

const SCHEMA: &str = "k|ts";

#[test]
fn mixed_prefix_in_one_row_group_is_pa1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pa1.parquet");
    write_kv_file(
        &path,
        &[vec!["a", "a", "b"], vec!["c"]],
        Some(SCHEMA),
        Some(1),
        EnabledStatistics::Page,
    );
    let (code, out) = inspect(&path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("VIOLATED PA-1 (P=1)"), "{out}");
    assert!(out.contains("row 2 has k=\"b\""), "{out}");
    assert!(!out.contains("PA-3") && !out.contains("MS-2"), "{out}");
}

#[test]
fn repeated_prefix_key_is_pa3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pa3.parquet");
    write_kv_file(
        &path,
        &[vec!["a", "a"], vec!["a"], vec!["b"]],
        Some(SCHEMA),
        Some(1),
        EnabledStatistics::Page,
    );
    let (code, out) = inspect(&path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("VIOLATED PA-3 (P=1)"), "{out}");
    assert!(out.contains("row group 1 repeats row group 0"), "{out}");
}

#[test]
fn row_groups_out_of_order_is_ms2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ms2.parquet");
    write_kv_file(
        &path,
        &[vec!["b"], vec!["a"]],
        Some(SCHEMA),
        Some(1),
        EnabledStatistics::Page,
    );
    let (code, out) = inspect(&path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("VIOLATED MS-2 (P=1)"), "{out}");
    // A descending prefix column makes the same file correctly ordered.
    let desc = dir.path().join("ms2_desc.parquet");
    write_kv_file(
        &desc,
        &[vec!["b"], vec!["a"]],
        Some("-k|ts"),
        Some(1),
        EnabledStatistics::Page,
    );
    assert_eq!(inspect(&desc).0, 0);
}

#[test]
fn aligned_file_and_p0_file_pass() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.parquet");
    write_kv_file(
        &ok,
        &[vec!["a", "a"], vec!["b"], vec!["c", "c"]],
        Some(SCHEMA),
        Some(1),
        EnabledStatistics::Page,
    );
    assert_eq!(inspect(&ok).0, 0);
    // P = 0 claims nothing: even a mixed, unordered layout passes inspect.
    let p0 = dir.path().join("p0.parquet");
    write_kv_file(
        &p0,
        &[vec!["b", "a"], vec!["a"]],
        Some(SCHEMA),
        Some(0),
        EnabledStatistics::Page,
    );
    let (code, out) = inspect(&p0);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no alignment claim"));
}

#[test]
fn unreadable_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.parquet");
    std::fs::write(&junk, b"definitely not parquet").unwrap();
    let (code, _) = inspect(&junk);
    assert_eq!(code, 2);
    let (code, _) = inspect(&dir.path().join("missing.parquet"));
    assert_eq!(code, 2);
}

fn long(tail: &str) -> String {
    format!("{}{tail}", "x".repeat(100))
}

#[test]
fn prefix_values_longer_than_64_bytes_read_from_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.parquet");
    let (a, b) = (long("a"), long("b"));
    write_kv_file(
        &path,
        &[vec![&a, &a], vec![&b]],
        Some(SCHEMA),
        Some(1),
        EnabledStatistics::Page,
    );
    let input = InputFile::open(&path).unwrap();
    let prefixes: Vec<_> = input
        .row_groups
        .iter()
        .map(|r| r.prefix.clone().unwrap())
        .collect();
    assert_eq!(prefixes[0].values, vec![KeyValue::Utf8(a.clone())]);
    assert_eq!(prefixes[1].values, vec![KeyValue::Utf8(b.clone())]);
    assert!(prefixes[0].key < prefixes[1].key);
    assert_eq!(
        prefixes[0].source,
        KeySource::Data,
        "truncated statistics must not be trusted"
    );
    assert_eq!(inspect(&path).0, 0);

    // Two long values that share their first 64 bytes inside one row group: the
    // truncated statistics look constant, the data does not.
    let mixed = dir.path().join("long_mixed.parquet");
    write_kv_file(
        &mixed,
        &[vec![&a, &b]],
        Some(SCHEMA),
        Some(1),
        EnabledStatistics::Page,
    );
    let (code, out) = inspect(&mixed);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PA-1"), "{out}");
}

#[test]
fn file_without_statistics_gives_correct_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nostats.parquet");
    write_kv_file(
        &path,
        &[vec!["a"], vec!["b", "b"], vec!["c"]],
        Some(SCHEMA),
        Some(1),
        EnabledStatistics::None,
    );
    let input = InputFile::open(&path).unwrap();
    let values: Vec<_> = input
        .row_groups
        .iter()
        .map(|r| r.prefix.clone().unwrap())
        .collect();
    for (p, expect) in values.iter().zip(["a", "b", "c"]) {
        assert_eq!(p.values, vec![KeyValue::Utf8(expect.into())]);
        assert_eq!(p.source, KeySource::Data);
    }
    assert_eq!(inspect(&path).0, 0);
    // With statistics the same keys come from the footer alone.
    let with = dir.path().join("stats.parquet");
    write_kv_file(
        &with,
        &[vec!["a"], vec!["b", "b"], vec!["c"]],
        Some(SCHEMA),
        Some(1),
        EnabledStatistics::Chunk,
    );
    let input2 = InputFile::open(&with).unwrap();
    for (rg, other) in input2.row_groups.iter().zip(&values) {
        let p = rg.prefix.as_ref().unwrap();
        assert_eq!(p.source, KeySource::Statistics);
        assert_eq!(p.key, other.key);
    }
}

#[test]
fn null_prefix_sorts_last() {
    let dir = tempfile::tempdir().unwrap();
    let schema = std::sync::Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
        "k",
        arrow_schema::DataType::Utf8,
        true,
    )]));
    let path = dir.path().join("nulls.parquet");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(Some(vec![
            parquet::file::metadata::KeyValue::new("qh.sort_fields".into(), "k".to_string()),
            parquet::file::metadata::KeyValue::new(
                "qh.rg_partition_prefix_len".into(),
                "1".to_string(),
            ),
        ]))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        schema.clone(),
        Some(props),
    )
    .unwrap();
    for v in [Some("z"), None] {
        let col = std::sync::Arc::new(arrow_array::StringArray::from(vec![v, v]));
        w.write(&arrow_array::RecordBatch::try_new(schema.clone(), vec![col]).unwrap())
            .unwrap();
        w.flush().unwrap();
    }
    w.close().unwrap();
    let (code, out) = inspect(&path);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("k=null"), "{out}");
}

#[test]
fn sorting_columns_fallback_and_explicit_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sc.parquet");
    let schema = std::sync::Arc::new(arrow_schema::Schema::new(vec![
        arrow_schema::Field::new("a", arrow_schema::DataType::Int64, false),
        arrow_schema::Field::new("b", arrow_schema::DataType::Utf8, false),
    ]));
    let props = parquet::file::properties::WriterProperties::builder()
        .set_sorting_columns(Some(vec![
            parquet::file::metadata::SortingColumn {
                column_idx: 1,
                descending: true,
                nulls_first: false,
            },
            parquet::file::metadata::SortingColumn {
                column_idx: 0,
                descending: false,
                nulls_first: false,
            },
        ]))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        schema.clone(),
        Some(props),
    )
    .unwrap();
    let a = std::sync::Arc::new(arrow_array::Int64Array::from(vec![1, 2]));
    let b = std::sync::Arc::new(arrow_array::StringArray::from(vec!["y", "x"]));
    w.write(&arrow_array::RecordBatch::try_new(schema, vec![a, b]).unwrap())
        .unwrap();
    w.close().unwrap();
    let input = InputFile::open(&path).unwrap();
    assert_eq!(input.sort_schema().to_string(), "-b|a");
    assert_eq!(
        input.contract.schema_source,
        prefix_merge::input::SchemaSource::SortingColumns
    );
    let explicit: prefix_merge::SortSchema = "a|missing_col".parse().unwrap();
    let input = InputFile::open_with_schema(&path, Some(&explicit)).unwrap();
    assert_eq!(
        input.sort_columns[1].field_index, None,
        "absent sort column is all-null (SS-3)"
    );
    // A file with neither qh.sort_fields nor sorting_columns needs an explicit schema.
    let bare = dir.path().join("bare.parquet");
    write_kv_file(&bare, &[vec!["a"]], None, None, EnabledStatistics::Page);
    assert!(matches!(
        InputFile::open(&bare),
        Err(prefix_merge::Error::SortSchemaMissing { .. })
    ));
}

#[test]
fn bad_metadata_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.parquet");
    write_kv_file(
        &path,
        &[vec!["a"]],
        Some("k|ts|"),
        Some(1),
        EnabledStatistics::Page,
    );
    let err = InputFile::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("bad.parquet") && err.contains("qh.sort_fields"),
        "{err}"
    );
    let path = dir.path().join("badp.parquet");
    write_kv_file(
        &path,
        &[vec!["a"]],
        Some(SCHEMA),
        Some(5),
        EnabledStatistics::Page,
    );
    let err = InputFile::open(&path).unwrap_err().to_string();
    assert!(err.contains("qh.rg_partition_prefix_len"), "{err}");
}

/// Rewrite the footer of `path` so that row group `rg`'s statistics of column 0
/// say its largest value is `max` (a writer whose statistics lie about its data).
fn forge_max(path: &std::path::Path, rg: usize, max: &str) {
    use parquet::data_type::ByteArray;
    use parquet::file::metadata::{ParquetMetaDataReader, ParquetMetaDataWriter};
    use parquet::file::statistics::{Statistics, ValueStatistics};
    let bytes = std::fs::read(path).unwrap();
    let footer_len =
        u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
    let data_end = bytes.len() - 8 - footer_len as usize;
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(&bytes::Bytes::from(bytes.clone()))
        .unwrap();
    let mut builder = meta.into_builder();
    let mut groups = builder.take_row_groups();
    let mut group = groups[rg].clone().into_builder();
    let mut columns = group.take_columns();
    let Some(Statistics::ByteArray(s)) = columns[0].statistics().cloned() else {
        panic!("column 0 has byte-array statistics")
    };
    let forged = ValueStatistics::new(
        s.min_opt().cloned(),
        Some(ByteArray::from(max)),
        None,
        s.null_count_opt(),
        false,
    );
    columns[0] = columns[0]
        .clone()
        .into_builder()
        .set_statistics(Statistics::ByteArray(forged))
        .build()
        .unwrap();
    groups[rg] = group.set_column_metadata(columns).build().unwrap();
    let meta = builder.set_row_groups(groups).build();
    let mut out = bytes[..data_end].to_vec();
    ParquetMetaDataWriter::new(&mut out, &meta)
        .finish()
        .unwrap();
    std::fs::write(path, out).unwrap();
}

/// A row group whose statistics claim one prefix while its data holds two,
/// merged with another input's row group of that prefix (so its rows stream
/// through the merge, not a verbatim copy): PA-1 names the lying file, and no
/// output is left.
#[test]
fn data_contradicting_statistics_is_pa1_in_a_merged_region() {
    let dir = tempfile::tempdir().unwrap();
    let liar = dir.path().join("liar.parquet");
    write_kv_file(
        &liar,
        &[vec!["a", "a", "b"], vec!["c"]],
        Some(SCHEMA),
        Some(1),
        EnabledStatistics::Chunk,
    );
    forge_max(&liar, 0, "a");
    let facts = InputFile::open(&liar).unwrap();
    assert_eq!(facts.row_groups.len(), 2, "the forged footer reads back");
    let other = dir.path().join("other.parquet");
    write_kv_file(
        &other,
        &[vec!["a", "a"], vec!["c"]],
        Some(SCHEMA),
        Some(1),
        EnabledStatistics::Chunk,
    );
    let out_dir = dir.path().join("out");
    let run = common::bin()
        .args(["merge", "--output-dir"])
        .arg(&out_dir)
        .arg(&liar)
        .arg(&other)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("PA-1") && stderr.contains("liar.parquet"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
