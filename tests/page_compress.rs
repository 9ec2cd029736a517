//! Output chunks compressed by the engine's long-lived compressor
//! (`page::ChunkCompressor`) are the chunks parquet-rs' own `ArrowWriter`
//! writes: the same file, byte for byte, for every codec the crate enables,
//! with dictionary pages (including a dictionary that falls back to PLAIN
//! mid-chunk), nulls, nested levels, many pages, page statistics, the column
//! and offset index and a bloom filter; and it reads back to the same rows.
//! The flat INT32 / INT64 / DOUBLE / timestamp columns go through the engine's
//! own fixed-width page writer (`output::chunk_writer`), which must write the
//! same bytes too (page cuts, dictionary fallback, statistics, index, filter).

use arrow_array::builder::{Int32Builder, ListBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, GzipLevel, PageType, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;
use prefix_merge::output::OutputFileWriter;
use std::sync::Arc;

const ROWS: usize = 6000;

/// Rows `first..first + ROWS`: no column the engine's string transcoder takes
/// (strings are written with dictionary encoding off); the boolean, string and
/// list columns are encoded by parquet-rs in both writers, the flat numeric
/// ones by the engine's fixed-width writer in one of them.
fn batch(first: usize) -> RecordBatch {
    let r = first..first + ROWS;
    let id = Int64Array::from_iter_values(r.clone().map(|i| i as i64));
    // Few distinct values: a dictionary that stays.
    let level: Int32Array = r
        .clone()
        .map(|i| (i % 9 != 4).then_some((i % 6) as i32))
        .collect();
    // Distinct values: the dictionary outgrows its limit and falls back to PLAIN.
    let value: Float64Array = r
        .clone()
        .map(|i| (i % 11 != 0).then_some(i as f64 * 0.25))
        .collect();
    let ts = TimestampMillisecondArray::from_iter_values(
        r.clone().map(|i| 1_700_000_000_000 + i as i64 * 1000),
    );
    let flag = BooleanArray::from_iter(r.clone().map(|i| (i % 5 != 1).then_some(i % 3 == 0)));
    let name: StringArray = r
        .clone()
        .map(|i| (i % 7 != 3).then(|| format!("series.{}", i % 50)))
        .collect();
    let mut tags = ListBuilder::new(Int32Builder::new());
    for i in r {
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
        ("level", Arc::new(level) as ArrayRef),
        ("value", Arc::new(value) as ArrayRef),
        ("ts", Arc::new(ts) as ArrayRef),
        ("flag", Arc::new(flag) as ArrayRef),
        ("name", Arc::new(name) as ArrayRef),
        ("tags", Arc::new(tags.finish()) as ArrayRef),
    ])
    .unwrap()
}

fn properties(codec: Compression, version: WriterVersion) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(codec)
        .set_writer_version(version)
        .set_data_page_row_count_limit(700)
        .set_dictionary_page_size_limit(4 << 10)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_column_dictionary_enabled("name".into(), false)
        .set_column_bloom_filter_enabled("id".into(), true)
        .build()
}

/// Three row groups of `batch` through the engine's output writer, and through `ArrowWriter`.
fn both(props: &WriterProperties) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.parquet");
    let schema = batch(0).schema();
    let mut engine = OutputFileWriter::create(&path, schema.clone(), props.clone()).unwrap();
    let mut plain = ArrowWriter::try_new(Vec::new(), schema, Some(props.clone())).unwrap();
    for g in 0..3 {
        let b = batch(g * ROWS);
        engine.write(&b).unwrap();
        engine.flush_row_group().unwrap();
        plain.write(&b).unwrap();
        plain.flush().unwrap();
    }
    engine.close().unwrap();
    (std::fs::read(&path).unwrap(), plain.into_inner().unwrap())
}

fn read(bytes: Vec<u8>) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes))
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Data pages of column `column` in the first row group encoded PLAIN.
fn plain_data_pages(file: &[u8], column: usize) -> usize {
    let reader = SerializedFileReader::new(Bytes::from(file.to_vec())).unwrap();
    let mut pages = reader
        .get_row_group(0)
        .unwrap()
        .get_column_page_reader(column)
        .unwrap();
    let mut n = 0;
    while let Some(page) = pages.get_next_page().unwrap() {
        if page.page_type() == PageType::DATA_PAGE && page.encoding() == Encoding::PLAIN {
            n += 1;
        }
    }
    n
}

fn codecs() -> Vec<Compression> {
    vec![
        Compression::UNCOMPRESSED,
        Compression::ZSTD(ZstdLevel::try_new(1).unwrap()),
        Compression::ZSTD(ZstdLevel::try_new(19).unwrap()),
        Compression::SNAPPY,
        Compression::LZ4,
        Compression::LZ4_RAW,
        Compression::GZIP(GzipLevel::try_new(9).unwrap()),
    ]
}

#[test]
fn every_codec_writes_the_bytes_parquet_rs_writes() {
    for codec in codecs() {
        let props = properties(codec, WriterVersion::PARQUET_1_0);
        let (engine, plain) = both(&props);
        let meta = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(engine.clone()))
            .unwrap()
            .metadata()
            .clone();
        let rg = meta.row_group(0);
        // What the comparison covers: many pages, a dictionary kept and one
        // fallen back, the codec recorded on every chunk (a file does not
        // record the level).
        let kind = std::mem::discriminant(&codec);
        assert!(
            rg.columns()
                .iter()
                .all(|c| std::mem::discriminant(&c.compression()) == kind),
            "{codec}"
        );
        assert!(
            rg.column(0).offset_index_offset().is_some()
                && rg.column(0).column_index_offset().is_some()
        );
        assert!(
            rg.column(0).bloom_filter_offset().is_some(),
            "{codec}: bloom filter on id"
        );
        let level = rg.column(1);
        let value = rg.column(2);
        assert!(
            level.dictionary_page_offset().is_some(),
            "{codec}: level keeps its dictionary"
        );
        assert!(
            value.dictionary_page_offset().is_some() && plain_data_pages(&engine, 2) > 0,
            "{codec}: value falls back to PLAIN pages after its dictionary page"
        );
        assert_eq!(engine.len(), plain.len(), "{codec}: file sizes");
        assert!(
            engine == plain,
            "{codec}: the engine's file differs from ArrowWriter's"
        );
        assert_eq!(read(engine), read(plain), "{codec}: rows");
    }
}

#[test]
fn data_page_v2_stays_on_parquet_rs_path() {
    for codec in [Compression::ZSTD(ZstdLevel::default()), Compression::SNAPPY] {
        let (engine, plain) = both(&properties(codec, WriterVersion::PARQUET_2_0));
        assert!(
            engine == plain,
            "{codec}: v2 file differs from ArrowWriter's"
        );
    }
}
