//! Fixed-width columns (INT32, INT64, FLOAT, DOUBLE; Date32, timestamps, UInt32
//! and UInt64 in unsigned order) written
//! by our page writer (`output::chunk_writer`) against parquet-rs' own
//! `ArrowWriter` on the same rows, given as whole batches and as rows gathered
//! from several batches: same decoded values, same chunk statistics (NaN
//! skipped and counted, -0.0 / +0.0, nulls), same page index, a dictionary page,
//! a bloom filter holding every value, and PLAIN pages after the dictionary
//! outgrows a small limit.

mod common;

use arrow_array::{
    Array, ArrayRef, Date32Array, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray, UInt32Array,
    UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, PageType, ZstdLevel};
use parquet::bloom_filter::Sbbf;
use parquet::data_type::AsBytes;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::Statistics;
use prefix_merge::output::{Gathered, OutputFileWriter, Rows};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

const COLUMNS: usize = 10;

fn schema() -> SchemaRef {
    let utc = Some("UTC".into());
    Arc::new(Schema::new(vec![
        Field::new("i32", DataType::Int32, true),
        Field::new("i64", DataType::Int64, false),
        Field::new("f32", DataType::Float32, true),
        Field::new("f64", DataType::Float64, false),
        Field::new("date", DataType::Date32, true),
        Field::new(
            "ts_ms",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
        Field::new(
            "ts_us",
            DataType::Timestamp(TimeUnit::Microsecond, utc),
            true,
        ),
        Field::new(
            "ts_ns",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
        ),
        Field::new("u32", DataType::UInt32, true),
        Field::new("u64", DataType::UInt64, false),
    ]))
}

/// A float of row `r` of batch `b`: runs of repeats, NaN, -0.0 and +0.0, and
/// (for `distinct`) many distinct values.
/// `offset` shifts the repeated values (0: none below zero, so that -0.0 is the
/// minimum).
fn float(b: usize, r: usize, distinct: bool, offset: f64) -> f64 {
    match (r + b) % 13 {
        0 => f64::NAN,
        1 => -0.0,
        2 => 0.0,
        3 if distinct => (b * 1000 + r) as f64 * 0.25,
        _ => ((r / 17) as f64 - offset) * 1.5,
    }
}

/// Batches sorted-like (values repeat in runs) with nulls, NaN and signed zeros;
/// `distinct` adds a distinct value every 13 rows (dictionary fallback).
fn batches(distinct: bool) -> Vec<RecordBatch> {
    (0..6)
        .map(|b| {
            let rows = 300 + 71 * b;
            let null = |r: usize| (r + b) % 9 == 4;
            let base = (b * 10_000) as i64;
            let cols: Vec<ArrayRef> = vec![
                Arc::new(Int32Array::from_iter(
                    (0..rows).map(|r| (!null(r)).then_some((r / 40) as i32 - 2)),
                )),
                Arc::new(Int64Array::from_iter_values((0..rows).map(|r| {
                    base + (r / 7) as i64 + if distinct { r as i64 } else { 0 }
                }))),
                Arc::new(Float32Array::from_iter((0..rows).map(|r| {
                    (!null(r)).then_some(float(b, r, distinct, 0.0) as f32)
                }))),
                Arc::new(Float64Array::from_iter_values(
                    (0..rows).map(|r| float(b, r, distinct, 3.0)),
                )),
                Arc::new(Date32Array::from_iter(
                    (0..rows).map(|r| (!null(r + 1)).then_some(19_000 + (r / 100) as i32)),
                )),
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    (0..rows).map(|r| 1_700_000_000_000 + base + (r / 3) as i64),
                )),
                Arc::new(
                    TimestampMicrosecondArray::from_iter(
                        (0..rows).map(|r| (!null(r + 2)).then_some(-5_000 + (r / 2) as i64)),
                    )
                    .with_timezone("UTC"),
                ),
                Arc::new(TimestampNanosecondArray::from_iter_values(
                    (0..rows).map(|r| (r % 5) as i64 * 1_000_000_007),
                )),
                // Unsigned order: values on both sides of i32::MAX / i64::MAX.
                Arc::new(UInt32Array::from_iter((0..rows).map(|r| {
                    (!null(r + 3)).then_some(u32::MAX / 3 * ((r / 50) % 3) as u32 + b as u32)
                }))),
                Arc::new(UInt64Array::from_iter_values((0..rows).map(|r| {
                    u64::MAX / 4 * ((r / 30) % 4) as u64 + if distinct { r as u64 } else { 0 }
                }))),
            ];
            RecordBatch::try_new(schema(), cols).unwrap()
        })
        .collect()
}

fn props(dictionary_limit: usize) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_dictionary_page_size_limit(dictionary_limit)
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
        .set_data_page_row_count_limit(256)
        .set_write_batch_size(64)
        .set_statistics_enabled(EnabledStatistics::Page);
    for f in schema().fields() {
        builder = builder.set_column_bloom_filter_enabled(f.name().as_str().into(), true);
    }
    builder.build()
}

/// Rows picked from the batches in pairs: rows of batch `2k` and `2k+1`
/// interleaved in runs of uneven lengths.
fn picks(batches: &[RecordBatch]) -> Vec<Vec<(usize, usize)>> {
    batches
        .chunks(2)
        .enumerate()
        .map(|(k, pair)| {
            let (mut a, mut b, mut out) = (0, 0, Vec::new());
            let (na, nb) = (pair[0].num_rows(), pair.get(1).map_or(0, |p| p.num_rows()));
            let mut step = 0;
            while a < na || b < nb {
                step += 1;
                for _ in 0..(step * 7 % 23 + 1) {
                    if a < na {
                        out.push((2 * k, a));
                        a += 1;
                    }
                }
                for _ in 0..(step * 5 % 31 + 1) {
                    if b < nb {
                        out.push((2 * k + 1, b));
                        b += 1;
                    }
                }
            }
            out
        })
        .collect()
}

/// Write with ours: whole batches, or the gathered picks (one write per pair);
/// a row group per two writes.
fn write_ours(path: &Path, batches: &[RecordBatch], limit: usize, gathered: bool) {
    let mut w = OutputFileWriter::create(path, schema(), props(limit)).unwrap();
    if gathered {
        for (k, indices) in picks(batches).into_iter().enumerate() {
            if k == 2 {
                w.flush_row_group().unwrap();
            }
            let rows = Rows::Gathered(Gathered::new(batches.to_vec(), indices));
            w.write_rows(&rows).unwrap();
        }
    } else {
        for (i, b) in batches.iter().enumerate() {
            if i == 4 {
                w.flush_row_group().unwrap();
            }
            w.write(b).unwrap();
        }
    }
    w.close().unwrap();
}

/// The same rows with parquet-rs' ArrowWriter (gathered rows interleaved with
/// arrow's own `interleave_record_batch`).
fn write_reference(path: &Path, batches: &[RecordBatch], limit: usize, gathered: bool) {
    let mut w =
        ArrowWriter::try_new(File::create(path).unwrap(), schema(), Some(props(limit))).unwrap();
    if gathered {
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        for (k, indices) in picks(batches).into_iter().enumerate() {
            if k == 2 {
                w.flush().unwrap();
            }
            let batch = arrow_select::interleave::interleave_record_batch(&refs, &indices);
            w.write(&batch.unwrap()).unwrap();
        }
    } else {
        for (i, b) in batches.iter().enumerate() {
            if i == 4 {
                w.flush().unwrap();
            }
            w.write(b).unwrap();
        }
    }
    w.close().unwrap();
}

fn read(path: &Path) -> Vec<ArrayRef> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    (0..COLUMNS)
        .map(|c| {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
            arrow_select::concat::concat(&parts).unwrap()
        })
        .collect()
}

fn metadata(path: &Path) -> ParquetMetaData {
    common::metadata_with_page_index(path)
}

/// Little-endian bytes of value `i` of a fixed-width array (`None`: null).
fn value_bytes(array: &dyn Array, i: usize) -> Option<Vec<u8>> {
    if array.is_null(i) {
        return None;
    }
    let data = array.to_data();
    let width = data.data_type().primitive_width().unwrap();
    let start = (data.offset() + i) * width;
    Some(data.buffers()[0].as_slice()[start..start + width].to_vec())
}

struct Bytes(Vec<u8>);

impl AsBytes for Bytes {
    fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

fn compare(limit: usize, gathered: bool, expect_plain: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (ours, reference) = (dir.path().join("o.parquet"), dir.path().join("r.parquet"));
    let batches = batches(expect_plain);
    write_ours(&ours, &batches, limit, gathered);
    write_reference(&reference, &batches, limit, gathered);
    let (a, b) = (read(&ours), read(&reference));
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    for c in 0..COLUMNS {
        assert_eq!(a[c].len(), total, "column {c}");
        assert_eq!(a[c].to_data(), b[c].to_data(), "column {c}: decoded values");
    }
    let (ma, mb) = (metadata(&ours), metadata(&reference));
    assert_eq!(ma.num_row_groups(), 2);
    let file = File::open(&ours).unwrap();
    let mut plain_pages = 0;
    let mut start = 0;
    for rg in 0..2 {
        let rows = ma.row_group(rg).num_rows() as usize;
        for (c, values) in a.iter().enumerate() {
            let (x, y) = (ma.row_group(rg).column(c), mb.row_group(rg).column(c));
            let at = format!("row group {rg}, column {c}");
            assert_eq!(x.num_values(), y.num_values(), "{at}");
            let sx = x.statistics().expect("chunk statistics");
            assert_eq!(Some(sx), y.statistics(), "{at}: statistics");
            check_statistics(sx, values, start..start + rows, &at);
            assert_eq!(
                x.definition_level_histogram(),
                y.definition_level_histogram(),
                "{at}: definition levels"
            );
            assert!(
                x.dictionary_page_offset().is_some(),
                "{at}: dictionary page"
            );
            let stats = x.page_encoding_stats().unwrap();
            assert_eq!(Some(stats), y.page_encoding_stats(), "{at}: page encodings");
            assert!(stats
                .iter()
                .any(|s| s.page_type == PageType::DICTIONARY_PAGE && s.count == 1));
            plain_pages += stats
                .iter()
                .filter(|s| s.page_type == PageType::DATA_PAGE && s.encoding == Encoding::PLAIN)
                .map(|s| s.count)
                .sum::<i32>();
            // Page index: the same pages, bounds and null counts as parquet-rs'.
            let (ia, ib) = (
                ma.page_index_for_row_group(rg),
                mb.page_index_for_row_group(rg),
            );
            let ci = ia.column_index(c).expect("column index");
            assert_eq!(Some(ci), ib.column_index(c), "{at}: column index");
            let oa = ia.offset_index(c).expect("offset index").page_locations();
            let ob = ib.offset_index(c).unwrap().page_locations();
            let first_rows = |l: &[parquet::file::page_index::offset_index::PageLocation]| {
                l.iter().map(|p| p.first_row_index).collect::<Vec<_>>()
            };
            assert_eq!(first_rows(oa), first_rows(ob), "{at}: page rows");
            assert!(oa.len() > 1, "{at}: {} pages", oa.len());
            // Bloom filter present and holding every value of the chunk.
            let bloom = Sbbf::read_from_column_chunk(x, &file)
                .unwrap()
                .expect("bloom filter");
            for i in start..start + rows {
                if let Some(v) = value_bytes(values.as_ref(), i) {
                    assert!(bloom.check(&Bytes(v)), "{at}: bloom misses row {i}");
                }
            }
        }
        start += rows;
    }
    assert_eq!(plain_pages > 0, expect_plain, "{plain_pages} PLAIN pages");
}

/// Chunk statistics against the decoded values: null count, and for floats NaN
/// excluded from min / max and counted, -0.0 below +0.0 (IEEE 754 total order,
/// as parquet-rs 60 orders floats).
fn check_statistics(stats: &Statistics, values: &ArrayRef, rows: std::ops::Range<usize>, at: &str) {
    let slice = values.slice(rows.start, rows.len());
    assert_eq!(
        stats.null_count_opt(),
        Some(slice.null_count() as u64),
        "{at}"
    );
    let floats: Option<Vec<f64>> = match slice.data_type() {
        DataType::Float32 => Some(
            slice
                .as_any()
                .downcast_ref::<Float32Array>()
                .unwrap()
                .iter()
                .flatten()
                .map(f64::from)
                .collect(),
        ),
        DataType::Float64 => Some(
            slice
                .as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .iter()
                .flatten()
                .collect(),
        ),
        _ => None,
    };
    let Some(floats) = floats else {
        return;
    };
    let nans = floats.iter().filter(|v| v.is_nan()).count() as u64;
    assert_eq!(stats.nan_count_opt(), Some(nans), "{at}: NaN count");
    let numbers: Vec<f64> = floats.into_iter().filter(|v| !v.is_nan()).collect();
    let min = numbers.iter().copied().min_by(f64::total_cmp).unwrap();
    let max = numbers.iter().copied().max_by(f64::total_cmp).unwrap();
    let (smin, smax) = match stats {
        Statistics::Float(s) => (
            f64::from(*s.min_opt().unwrap()),
            f64::from(*s.max_opt().unwrap()),
        ),
        Statistics::Double(s) => (*s.min_opt().unwrap(), *s.max_opt().unwrap()),
        other => panic!("{at}: {other:?}"),
    };
    assert_eq!(smin.to_bits(), min.to_bits(), "{at}: min");
    assert_eq!(smax.to_bits(), max.to_bits(), "{at}: max");
}

#[test]
fn fixed_width_batches_match_parquet_rs() {
    compare(1024 * 1024, false, false);
}

#[test]
fn fixed_width_gathered_rows_match_parquet_rs() {
    compare(1024 * 1024, true, false);
}

#[test]
fn dictionary_over_its_limit_falls_back_to_plain_pages() {
    compare(512, false, true);
    compare(512, true, true);
}
