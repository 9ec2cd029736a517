//! The aligned writer: sorting, one row group per prefix, SS-1 checking, and the
//! contract it stamps on files. `gen` layouts pass `inspect`.
#![cfg(feature = "cli")]

mod common;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::{inspect, parquet_files};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use prefix_merge::gen::{generate, GenConfig, Layout, Overlap};
use prefix_merge::plan::check_alignment;
use prefix_merge::write::{write_split, SortedSplitWriter, SplitConfig};
use prefix_merge::{Error, InputFile, SortSchema};
use std::sync::Arc;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, true),
        Field::new("ts", DataType::Int64, false),
        Field::new("seq", DataType::Int64, false),
    ]))
}

fn batch(ks: Vec<Option<&str>>, ts: Vec<i64>) -> RecordBatch {
    let seq: Vec<i64> = (0..ks.len() as i64).collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(ks)),
        Arc::new(Int64Array::from(ts)),
        Arc::new(Int64Array::from(seq)),
    ];
    RecordBatch::try_new(schema(), cols).unwrap()
}

fn read_all(path: &std::path::Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap()
}

#[test]
fn write_split_sorts_stably_and_aligns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.parquet");
    let sort: SortSchema = "k|-ts".parse().unwrap();
    let b = batch(
        vec![
            Some("b"),
            None,
            Some("a"),
            Some("b"),
            Some("a"),
            None,
            Some("a"),
        ],
        vec![1, 5, 2, 3, 2, 1, 9],
    );
    let summary = write_split(&path, schema(), &[b], &SplitConfig::new(sort.clone(), 1)).unwrap();
    assert_eq!(summary.rows, 7);
    assert_eq!(summary.row_groups, 3, "a, b and null each get a row group");
    let out = read_all(&path);
    let k = out
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let ts = out.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
    let seq = out.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
    let got: Vec<_> = (0..7)
        .map(|i| {
            (
                k.is_valid(i).then(|| k.value(i).to_string()),
                ts.value(i),
                seq.value(i),
            )
        })
        .collect();
    let expect = vec![
        (Some("a".to_string()), 9, 6),
        (Some("a".to_string()), 2, 2), // tie with seq 4: input order kept
        (Some("a".to_string()), 2, 4),
        (Some("b".to_string()), 3, 3),
        (Some("b".to_string()), 1, 0),
        (None, 5, 1),
        (None, 1, 5),
    ];
    assert_eq!(got, expect);
    let input = InputFile::open(&path).unwrap();
    assert_eq!(input.prefix_len(), 1);
    assert_eq!(input.sort_schema(), &sort);
    assert!(check_alignment(&input).ok());
    let sorting = input
        .metadata
        .metadata()
        .row_group(0)
        .sorting_columns()
        .unwrap()
        .clone();
    assert_eq!(sorting.len(), 2);
    assert!(!sorting[0].descending && sorting[1].descending);
    let with_index = parquet::arrow::arrow_reader::ArrowReaderMetadata::load(
        &std::fs::File::open(&path).unwrap(),
        parquet::arrow::arrow_reader::ArrowReaderOptions::new()
            .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required),
    )
    .unwrap();
    assert!(
        with_index.metadata().page_index().is_some(),
        "page index written"
    );
    assert!(input
        .metadata
        .metadata()
        .row_group(0)
        .column(0)
        .column_index_offset()
        .is_some());
}

#[test]
fn streaming_writer_rejects_unsorted_batches_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.parquet");
    let sort: SortSchema = "k|-ts".parse().unwrap();
    let mut w = SortedSplitWriter::try_new(&path, schema(), SplitConfig::new(sort, 1)).unwrap();
    w.write(&batch(vec![Some("a"), Some("a")], vec![5, 4]))
        .unwrap();
    // Crosses the batch boundary out of order: ts 6 > 4 within k = "a".
    let err = w
        .write(&batch(vec![Some("a"), Some("b")], vec![6, 1]))
        .unwrap_err();
    match &err {
        Error::Unsorted { location, .. } => assert_eq!(location, "row 2"),
        other => panic!("unexpected {other:?}"),
    }
    drop(w);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "partial file removed"
    );

    let mut w = SortedSplitWriter::try_new(
        &path,
        schema(),
        SplitConfig::new("k|-ts".parse().unwrap(), 1),
    )
    .unwrap();
    let err = w
        .write(&batch(vec![Some("b"), Some("a")], vec![1, 1]))
        .unwrap_err();
    assert!(
        err.to_string().contains("SS-1") && err.to_string().contains("row 1"),
        "{err}"
    );
}

/// The writer never replaces a file: an existing final name is refused when the
/// writer is created, and a name taken while it writes is refused at `finish`
/// (`OutputExists`); the existing file keeps its bytes and no temporary file stays.
#[test]
fn writer_never_replaces_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.parquet");
    let config = || SplitConfig::new("k|-ts".parse().unwrap(), 1);
    std::fs::write(&path, b"someone else's file").unwrap();
    let err = SortedSplitWriter::try_new(&path, schema(), config())
        .err()
        .expect("an existing name is refused up front");
    assert!(
        matches!(&err, Error::OutputExists { path: p } if p == &path),
        "{err}"
    );
    let err = write_split(
        &path,
        schema(),
        &[batch(vec![Some("a")], vec![1])],
        &config(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::OutputExists { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else's file");

    // Taken while the writer writes: the publication (a no-replace link) refuses.
    let late = dir.path().join("late.parquet");
    let mut w = SortedSplitWriter::try_new(&late, schema(), config()).unwrap();
    w.write(&batch(vec![Some("a"), Some("b")], vec![2, 1]))
        .unwrap();
    std::fs::write(&late, b"raced").unwrap();
    let err = w.finish().unwrap_err();
    assert!(
        matches!(&err, Error::OutputExists { path: p } if p == &late),
        "{err}"
    );
    assert_eq!(std::fs::read(&late).unwrap(), b"raced");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["late.parquet", "s.parquet"],
        "no temporary file left"
    );

    // A free name: published, readable, no temporary file left.
    let fresh = dir.path().join("fresh.parquet");
    let summary = write_split(
        &fresh,
        schema(),
        &[batch(vec![Some("a")], vec![1])],
        &config(),
    )
    .unwrap();
    assert_eq!((summary.path, summary.rows), (fresh.clone(), 1));
    assert_eq!(read_all(&fresh).num_rows(), 1);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn p0_row_groups_cut_by_row_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p0.parquet");
    let mut cfg = SplitConfig::new("k|-ts".parse().unwrap(), 0);
    cfg.max_row_group_rows = Some(3);
    let ks: Vec<Option<&str>> = (0..10)
        .map(|i| Some(if i < 5 { "a" } else { "b" }))
        .collect();
    let s = write_split(&path, schema(), &[batch(ks, (0..10).collect())], &cfg).unwrap();
    assert_eq!(s.row_groups, 4);
    let input = InputFile::open(&path).unwrap();
    let rows: Vec<u64> = input.row_groups.iter().map(|r| r.rows).collect();
    assert_eq!(rows, vec![3, 3, 3, 1]);
}

#[test]
fn gen_layouts_pass_inspect() {
    let dir = tempfile::tempdir().unwrap();
    for (layout, overlap, expect_rgs) in [
        (Layout::Aligned, Overlap::Disjoint, 7usize),
        (Layout::Aligned, Overlap::Interleave, 7),
        (Layout::Legacy, Overlap::Disjoint, 3), // 25,000 rows / 10,000
        (Layout::Single, Overlap::Interleave, 1),
    ] {
        let sub = dir.path().join(format!("{layout:?}-{overlap:?}"));
        let cfg = GenConfig {
            files: 2,
            rows: 25_000,
            metrics: 7,
            series: None,
            layout,
            overlap,
            seed: 7,
        };
        let summaries = generate(&sub, &cfg).unwrap();
        assert_eq!(summaries.len(), 2);
        for path in parquet_files(&sub) {
            let input = InputFile::open(&path).unwrap();
            assert_eq!(input.num_rows(), 25_000);
            assert_eq!(input.row_groups.len(), expect_rgs, "{layout:?}");
            assert_eq!(input.prefix_len(), usize::from(layout == Layout::Aligned));
            let (code, out) = inspect(&path);
            assert_eq!(code, 0, "{out}");
        }
    }
}

#[test]
fn gen_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenConfig {
        files: 1,
        rows: 3_000,
        ..GenConfig::default()
    };
    generate(&dir.path().join("a"), &cfg).unwrap();
    generate(&dir.path().join("b"), &cfg).unwrap();
    let a = read_all(&dir.path().join("a/split_000.parquet"));
    let b = read_all(&dir.path().join("b/split_000.parquet"));
    assert_eq!(a, b);
    let other = GenConfig { seed: 43, ..cfg };
    generate(&dir.path().join("c"), &other).unwrap();
    assert_ne!(a, read_all(&dir.path().join("c/split_000.parquet")));
}

#[test]
fn inspect_text_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.parquet");
    let sort: SortSchema = "k|-ts".parse().unwrap();
    let b = batch(
        vec![Some("x"), Some("y"), None, Some("x")],
        vec![1, 2, 3, 4],
    );
    let mut cfg = SplitConfig::new(sort, 1);
    cfg.window = Some(prefix_merge::input::Window {
        start: 1_699_999_200,
        duration_secs: 900,
    });
    cfg.num_merge_ops = 2;
    write_split(&path, schema(), &[b], &cfg).unwrap();
    let report = prefix_merge::inspect::InspectReport::new(&InputFile::open(&path).unwrap());
    let text = report
        .render_text()
        .replace(&path.display().to_string(), "<file>");
    insta::assert_snapshot!(text);
}
