//! Helpers shared by the integration tests: hand-built Parquet files whose
//! row groups are laid out exactly as a test needs.
#![allow(dead_code)]

#[cfg(feature = "postgres")]
pub mod postgres;
pub mod proxy;
pub mod s3;
pub mod strace;
#[cfg(feature = "postgres")]
pub mod table;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use std::path::{Path, PathBuf};
#[cfg(feature = "cli")]
use std::process::Command;
use std::sync::Arc;

/// Write a file with columns `k: Utf8, ts: Int64`, one row group per entry of
/// `row_groups` (the `k` values of that row group), and the given `qh.*` claims.
pub fn write_kv_file(
    path: &Path,
    row_groups: &[Vec<&str>],
    sort_fields: Option<&str>,
    prefix_len: Option<usize>,
    stats: EnabledStatistics,
) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, true),
        Field::new("ts", DataType::Int64, false),
    ]));
    let mut kv = Vec::new();
    if let Some(s) = sort_fields {
        kv.push(KeyValue::new("qh.sort_fields".into(), s.to_string()));
    }
    if let Some(p) = prefix_len {
        kv.push(KeyValue::new(
            "qh.rg_partition_prefix_len".into(),
            p.to_string(),
        ));
    }
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(kv))
        .set_statistics_enabled(stats)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).unwrap();
    let mut ts = 0i64;
    for rg in row_groups {
        let ks: ArrayRef = Arc::new(StringArray::from(rg.clone()));
        let tss: ArrayRef = Arc::new(Int64Array::from_iter_values(rg.iter().map(|_| {
            ts += 1;
            ts
        })));
        w.write(&RecordBatch::try_new(schema.clone(), vec![ks, tss]).unwrap())
            .unwrap();
        w.flush().unwrap();
    }
    w.close().unwrap();
}

/// Path of the CLI binary built for these tests.
#[cfg(feature = "cli")]
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_prefix-merge"))
}

/// Run `prefix-merge inspect FILE`, returning (exit code, stdout).
#[cfg(feature = "cli")]
pub fn inspect(path: &Path) -> (i32, String) {
    let out = bin().arg("inspect").arg(path).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The Quickwit-written fixtures, kept in the repository (`tests/fixtures/quickwit`,
/// see its README): a checkout without them is broken, so this fails loudly.
pub fn quickwit_fixtures() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quickwit");
    assert!(
        dir.join("p1").is_dir() && dir.join("p0_legacy").is_dir(),
        "{} is missing: the Quickwit fixtures are part of the repository",
        dir.display()
    );
    dir
}

/// All `.parquet` files in `dir`, sorted by name.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

/// A cell value as the oracle tests compare it.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum Cell {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

/// All rows of a Parquet file as cells of the named columns (absent columns are
/// null), read with parquet-rs directly.
pub fn read_rows(path: &Path, columns: &[&str]) -> Vec<Vec<Cell>> {
    use arrow_array::Array;
    use prefix_merge::key::{value_at, KeyValue};
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let cols: Vec<Option<ArrayRef>> = columns
            .iter()
            .map(|c| batch.column_by_name(c).cloned())
            .collect();
        for row in 0..batch.num_rows() {
            out.push(
                cols.iter()
                    .map(|c| match c {
                        None => Cell::Null,
                        Some(a) if a.is_null(row) => Cell::Null,
                        Some(a) => match value_at(a.as_ref(), row).unwrap() {
                            KeyValue::Null => Cell::Null,
                            KeyValue::Int(v) => Cell::Int(v),
                            KeyValue::UInt(v) => Cell::UInt(v),
                            KeyValue::Float32(v) => Cell::Float(f64::from(v)),
                            KeyValue::Float64(v) => Cell::Float(v),
                            KeyValue::Utf8(s) => Cell::Str(s),
                            KeyValue::Binary(b) => Cell::Bytes(b),
                            KeyValue::Bool(b) => Cell::Bool(b),
                        },
                    })
                    .collect(),
            );
        }
    }
    out
}

/// `files` generated aligned metrics splits of `rows` rows and `metrics` metrics in
/// `dir/in`.
pub fn gen_splits(dir: &Path, files: usize, rows: usize, metrics: usize) -> Vec<PathBuf> {
    let cfg = prefix_merge::gen::GenConfig {
        files,
        rows,
        metrics,
        ..prefix_merge::gen::GenConfig::default()
    };
    prefix_merge::gen::generate(&dir.join("in"), &cfg)
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect()
}

/// Run `prefix-merge merge --output-dir OUT EXTRA... INPUTS...`.
#[cfg(feature = "cli")]
pub fn merge_cli(out: &Path, extra: &[&str], inputs: &[PathBuf]) -> std::process::Output {
    bin()
        .arg("merge")
        .args(extra)
        .arg("--output-dir")
        .arg(out)
        .args(inputs)
        .output()
        .unwrap()
}

/// The footer of `path` with its page index, page encoding stats as a list.
pub fn metadata_with_page_index(path: &Path) -> parquet::file::metadata::ParquetMetaData {
    use parquet::file::reader::FileReader;
    let options = parquet::file::serialized_reader::ReadOptionsBuilder::new()
        .with_page_index()
        .with_encoding_stats_as_mask(false)
        .build();
    let file = std::fs::File::open(path).unwrap();
    let reader =
        parquet::file::serialized_reader::SerializedFileReader::new_with_options(file, options)
            .unwrap();
    reader.metadata().clone()
}
