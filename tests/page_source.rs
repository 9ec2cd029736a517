//! The engine's page source (`prefix_merge::page`) decodes exactly what parquet-rs'
//! plain reader decodes: generated files covering v1 and v2 data pages, every codec
//! the crate enables, dictionary and plain encodings, nulls, nested levels, page
//! index loaded or not, several row groups and row selections; and the fixtures.
#![cfg(feature = "cli")]

mod common;

use arrow_array::builder::{Int32Builder, ListBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::SchemaRef;
use arrow_select::concat::concat_batches;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::{parquet_to_arrow_field_levels, ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::properties::{WriterProperties, WriterVersion};
use prefix_merge::input::{read_row_groups, ChunkSource, ReadSpec};
use prefix_merge::page::{batch_reader, PageSource, SharedFile};
use prefix_merge::InputFile;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

const ROWS: usize = 5000;

fn batch() -> RecordBatch {
    let words = ["cpu", "mem", "disk", "net", "load", "swap", "io"];
    let id = Int64Array::from_iter_values(0..ROWS as i64);
    let name: StringArray = (0..ROWS)
        .map(|i| (i % 7 != 3).then(|| format!("{}.{}", words[i % 7], i % 40)))
        .collect();
    let value: Float64Array = (0..ROWS)
        .map(|i| (i % 11 != 0).then_some(i as f64 * 0.5))
        .collect();
    let host: DictionaryArray<Int32Type> = (0..ROWS)
        .map(|i| (i % 13 != 5).then_some(words[i % 5]))
        .collect();
    let mut tags = ListBuilder::new(Int32Builder::new());
    for i in 0..ROWS {
        if i % 17 == 0 {
            tags.append_null();
        } else {
            for k in 0..(i % 4) {
                tags.values()
                    .append_option((k != 2).then_some((i + k) as i32));
            }
            tags.append(true);
        }
    }
    RecordBatch::try_from_iter([
        ("id", Arc::new(id) as ArrayRef),
        ("name", Arc::new(name) as ArrayRef),
        ("value", Arc::new(value) as ArrayRef),
        ("host", Arc::new(host) as ArrayRef),
        ("tags", Arc::new(tags.finish()) as ArrayRef),
    ])
    .unwrap()
}

fn write(path: &Path, codec: Compression, version: WriterVersion, dictionary: bool) {
    let props = WriterProperties::builder()
        .set_compression(codec)
        .set_writer_version(version)
        .set_dictionary_enabled(dictionary)
        .set_max_row_group_row_count(Some(1500))
        .set_data_page_row_count_limit(300)
        .set_write_batch_size(100)
        .build();
    let data = batch();
    let mut w =
        ArrowWriter::try_new(File::create(path).unwrap(), data.schema(), Some(props)).unwrap();
    for start in (0..ROWS).step_by(700) {
        w.write(&data.slice(start, 700.min(ROWS - start))).unwrap();
    }
    w.close().unwrap();
}

fn metadata(file: &File, page_index: bool) -> ArrowReaderMetadata {
    let policy = if page_index {
        PageIndexPolicy::Required
    } else {
        PageIndexPolicy::Skip
    };
    let options = ArrowReaderOptions::new().with_page_index_policy(policy);
    ArrowReaderMetadata::load(file, options).unwrap()
}

/// One read: row groups, projected roots, selection.
struct Case {
    row_groups: Vec<usize>,
    roots: Option<Vec<usize>>,
    selection: Option<Vec<RowSelector>>,
}

fn concat(schema: SchemaRef, batches: Vec<RecordBatch>) -> RecordBatch {
    concat_batches(&schema, &batches).unwrap()
}

/// parquet-rs' plain reader.
fn theirs(path: &Path, meta: &ArrowReaderMetadata, case: &Case) -> RecordBatch {
    let file = File::open(path).unwrap();
    let mut b = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
        .with_row_groups(case.row_groups.clone())
        .with_batch_size(333);
    if let Some(roots) = &case.roots {
        let descr = meta.metadata().file_metadata().schema_descr();
        b = b.with_projection(ProjectionMask::roots(descr, roots.iter().copied()));
    }
    if let Some(s) = &case.selection {
        b = b.with_row_selection(RowSelection::from(s.clone()));
    }
    let reader = b.build().unwrap();
    let schema = arrow_array::RecordBatchReader::schema(&reader);
    concat(schema, reader.map(|r| r.unwrap()).collect())
}

/// The page source over a file opened once (positional reads).
fn ours(path: &Path, meta: &ArrowReaderMetadata, case: &Case) -> RecordBatch {
    let descr = meta.metadata().file_metadata().schema_descr();
    let mask = match &case.roots {
        Some(r) => ProjectionMask::roots(descr, r.iter().copied()),
        None => ProjectionMask::all(),
    };
    let levels = parquet_to_arrow_field_levels(descr, mask, Some(meta.schema().fields())).unwrap();
    let file = SharedFile::open(path).unwrap();
    let source = PageSource::new(
        ChunkSource::File(file),
        meta.metadata().clone(),
        case.row_groups.clone(),
    )
    .unwrap();
    let selection = case.selection.clone().map(RowSelection::from);
    let reader = batch_reader(&source, &levels, 333, selection).unwrap();
    let schema = arrow_array::RecordBatchReader::schema(&reader);
    concat(schema, reader.map(|r| r.unwrap()).collect())
}

fn cases(num_row_groups: usize) -> Vec<Case> {
    let all: Vec<usize> = (0..num_row_groups).collect();
    let mut zigzag = Vec::new();
    for _ in 0..20 {
        zigzag.push(RowSelector::skip(173));
        zigzag.push(RowSelector::select(29));
    }
    vec![
        Case {
            row_groups: all.clone(),
            roots: None,
            selection: None,
        },
        Case {
            row_groups: vec![1, 3],
            roots: None,
            selection: None,
        },
        Case {
            row_groups: vec![2],
            roots: Some(vec![1, 3]),
            selection: None,
        },
        Case {
            row_groups: all.clone(),
            roots: None,
            selection: Some(vec![
                RowSelector::skip(1400),
                RowSelector::select(1000),
                RowSelector::skip(ROWS - 2400),
            ]),
        },
        Case {
            row_groups: all.clone(),
            roots: Some(vec![0, 4]),
            selection: Some(zigzag),
        },
        Case {
            row_groups: vec![0, 1],
            roots: None,
            selection: Some(vec![RowSelector::skip(1499), RowSelector::select(2)]),
        },
    ]
}

#[test]
fn page_source_equals_parquet_rs_on_generated_files() {
    let dir = tempfile::tempdir().unwrap();
    let codecs = [
        Compression::UNCOMPRESSED,
        Compression::ZSTD(ZstdLevel::default()),
        Compression::SNAPPY,
        Compression::LZ4,
        Compression::LZ4_RAW,
        Compression::GZIP(GzipLevel::default()),
    ];
    let mut checked = 0;
    for codec in codecs {
        for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
            for dictionary in [true, false] {
                let path = dir
                    .path()
                    .join(format!("{codec}-{version:?}-{dictionary}.parquet"));
                write(&path, codec, version, dictionary);
                let file = File::open(&path).unwrap();
                for page_index in [false, true] {
                    let meta = metadata(&file, page_index);
                    assert_eq!(meta.metadata().page_index().is_some(), page_index);
                    for (i, case) in cases(meta.metadata().num_row_groups()).iter().enumerate() {
                        let (a, b) = (theirs(&path, &meta, case), ours(&path, &meta, case));
                        assert!(a.num_rows() > 0);
                        assert_eq!(a, b, "{} page_index={page_index} case {i}", path.display());
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 6 * 2 * 2 * 2 * 6);
}

/// Every row group of every fixture, through `InputFile` (coalesced memory or the
/// shared file handle) against parquet-rs' plain reader.
fn check_fixture(path: &Path) {
    let input = InputFile::open(path).unwrap();
    let meta = input.metadata.clone();
    let groups = meta.metadata().num_row_groups();
    let all: Vec<usize> = (0..groups).collect();
    for row_groups in [all.clone(), all.iter().copied().step_by(2).collect()] {
        let case = Case {
            row_groups: row_groups.clone(),
            roots: None,
            selection: None,
        };
        let spec = ReadSpec {
            source: input.chunk_source(&row_groups).unwrap(),
            row_groups,
            roots: None,
            batch_rows: 333,
            selection: None,
        };
        let reader = read_row_groups(&input, spec).unwrap();
        let schema = arrow_array::RecordBatchReader::schema(&reader);
        let b = concat(schema, reader.map(|r| r.unwrap()).collect());
        assert_eq!(theirs(path, &meta, &case), b, "{}", path.display());
    }
}

#[test]
fn page_source_equals_parquet_rs_on_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prefix-merge"))
        .args([
            "gen",
            "--files",
            "2",
            "--rows",
            "3000",
            "--metrics",
            "40",
            "--output-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files = common::parquet_files(dir.path());
    let root = common::quickwit_fixtures();
    for sub in ["p1", "p0_legacy"] {
        files.extend(common::parquet_files(&root.join(sub)));
    }
    for f in &files {
        check_fixture(f);
    }
    assert!(files.len() >= 2);
}
