//! The dictionary transcoder (`output::chunk_writer`) against parquet-rs' own
//! `ArrowWriter` on the same batches: same decoded values, and the same chunk
//! statistics, value bytes, level histograms and page-index totals; transcoded
//! chunks keep a dictionary page, statistics, column and offset index and bloom
//! filters.

mod common;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_cast::cast;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, PageType, ZstdLevel};
use parquet::bloom_filter::Sbbf;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use prefix_merge::output::OutputFileWriter;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

fn schema() -> SchemaRef {
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("metric", dict.clone(), false),
        Field::new("host", dict, true),
        Field::new("ts", DataType::Int64, false),
        Field::new("unit", DataType::Utf8, true),
    ]))
}

/// Batches whose dictionaries differ, share a values array, hold unused and null
/// entries, and whose values appear for the first time in later batches.
fn batches() -> Vec<RecordBatch> {
    let schema = schema();
    let mut out = Vec::new();
    let shared: ArrayRef = Arc::new(StringArray::from(vec![
        Some("web-03"),
        Some("unused-entry"),
        None,
        Some("db-01"),
        Some("web-01"),
    ]));
    let mut ts = 0i64;
    for b in 0..12usize {
        let rows = 150 + 37 * b;
        let mut metric = StringDictionaryBuilder::<Int32Type>::new();
        for r in 0..rows {
            metric.append_value(format!("cpu.{}", (b / 4) * 3 + r * 3 / rows));
        }
        let host: DictionaryArray<Int32Type> = if b % 3 == 0 {
            // Keys into the shared values array (entry 1 never used, entry 2 null).
            let keys: Int32Array = (0..rows)
                .map(|r| match r % 7 {
                    0 => None,
                    1 | 2 => Some(2),
                    3 => Some(0),
                    4 => Some(3),
                    _ => Some(4),
                })
                .collect();
            DictionaryArray::try_new(keys, shared.clone()).unwrap()
        } else {
            let mut h = StringDictionaryBuilder::<Int32Type>::new();
            for r in 0..rows {
                if (r + b) % 11 == 0 {
                    h.append_null();
                } else {
                    h.append_value(format!("host-{:03}", (r * 7 + b * 13) % (20 + b * 5)));
                }
            }
            h.finish()
        };
        let t: Int64Array = (0..rows as i64).map(|i| ts + i).collect();
        ts += rows as i64;
        // Plain strings in runs, with nulls and a high-cardinality stretch.
        let unit: StringArray = (0..rows)
            .map(|r| match r * 5 / rows {
                0 => Some("bytes".to_string()),
                1 => None,
                // Long values (cut in statistics and column index), multi-byte
                // characters around the cut.
                2 => Some(format!(
                    "{}{b}-{r}-{}",
                    ["a", "u"][r % 2],
                    "é".repeat(30 + r % 3)
                )),
                _ => Some(format!("seconds{}", b % 2)),
            })
            .collect();
        out.push(
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(metric.finish()),
                    Arc::new(host),
                    Arc::new(t),
                    Arc::new(unit),
                ],
            )
            .unwrap(),
        );
    }
    // An all-null page for the nullable column.
    let n = 300;
    let metric: DictionaryArray<Int32Type> = std::iter::repeat_n(Some("zzz.last"), n).collect();
    let host: DictionaryArray<Int32Type> = std::iter::repeat_n(None::<&str>, n).collect();
    let t: Int64Array = (0..n as i64).map(|i| ts + i).collect();
    let unit: StringArray = std::iter::repeat_n(Some("bytes"), n).collect();
    out.push(
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(metric),
                Arc::new(host),
                Arc::new(t),
                Arc::new(unit),
            ],
        )
        .unwrap(),
    );
    out
}

fn props(dictionary_limit: usize) -> WriterProperties {
    WriterProperties::builder()
        .set_dictionary_page_size_limit(dictionary_limit)
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
        .set_data_page_row_count_limit(256)
        .set_write_batch_size(64)
        .set_column_bloom_filter_enabled("host".into(), true)
        .set_column_bloom_filter_enabled("metric".into(), true)
        .set_column_bloom_filter_enabled("unit".into(), true)
        .build()
}

/// Row groups: batches 0..5, 5..9 and 9.. .
const CUTS: [usize; 2] = [5, 9];

fn write_ours(path: &Path, batches: &[RecordBatch], dictionary_limit: usize) {
    let mut w = OutputFileWriter::create(path, schema(), props(dictionary_limit)).unwrap();
    for (i, b) in batches.iter().enumerate() {
        if CUTS.contains(&i) {
            w.flush_row_group().unwrap();
        }
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn write_reference(path: &Path, batches: &[RecordBatch], dictionary_limit: usize) {
    let mut w = ArrowWriter::try_new(
        File::create(path).unwrap(),
        schema(),
        Some(props(dictionary_limit)),
    )
    .unwrap();
    for (i, b) in batches.iter().enumerate() {
        if CUTS.contains(&i) {
            w.flush().unwrap();
        }
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn read_as_strings(path: &Path) -> Vec<Vec<ArrayRef>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    reader
        .map(|b| {
            let b = b.unwrap();
            b.columns()
                .iter()
                .map(|c| match c.data_type() {
                    DataType::Dictionary(..) => cast(c, &DataType::Utf8).unwrap(),
                    _ => c.clone(),
                })
                .collect()
        })
        .collect()
}

fn concat_column(batches: &[Vec<ArrayRef>], c: usize) -> ArrayRef {
    let parts: Vec<&dyn Array> = batches.iter().map(|b| b[c].as_ref()).collect();
    arrow_select::concat::concat(&parts).unwrap()
}

fn metadata_with_index(path: &Path) -> ParquetMetaData {
    common::metadata_with_page_index(path)
}

/// Per page of a column index: minimum, maximum (`None` for null pages), nulls.
type PageBounds = (Vec<Option<Vec<u8>>>, Vec<Option<Vec<u8>>>, Vec<i64>);

fn page_bounds(index: &ColumnIndexMetaData) -> PageBounds {
    let ColumnIndexMetaData::BYTE_ARRAY(idx) = index else {
        panic!("not a byte array column index: {index:?}");
    };
    let n = idx.num_pages() as usize;
    let mins = (0..n)
        .map(|p| idx.min_value(p).map(|v| v.to_vec()))
        .collect();
    let maxs = (0..n)
        .map(|p| idx.max_value(p).map(|v| v.to_vec()))
        .collect();
    let nulls = (0..n).map(|p| idx.null_count(p).unwrap_or(-1)).collect();
    (mins, maxs, nulls)
}

#[test]
fn transcoded_columns_match_parquet_rs() {
    compare_with_parquet_rs(1024 * 1024, false);
}

#[test]
fn dictionary_over_its_limit_falls_back_to_plain_pages() {
    compare_with_parquet_rs(600, true);
}

/// Columns transcoded by us (0, 1: dictionaries; 3: plain strings).
const STRING_COLUMNS: [usize; 3] = [0, 1, 3];

fn compare_with_parquet_rs(dictionary_limit: usize, expect_plain_pages: bool) {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.parquet");
    let reference = dir.path().join("reference.parquet");
    let batches = batches();
    write_ours(&ours, &batches, dictionary_limit);
    write_reference(&reference, &batches, dictionary_limit);

    // Same values, row for row.
    let (a, b) = (read_as_strings(&ours), read_as_strings(&reference));
    for c in 0..4 {
        assert_eq!(
            concat_column(&a, c).as_ref(),
            concat_column(&b, c).as_ref(),
            "column {c}"
        );
    }
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(concat_column(&a, 0).len(), total);

    let (ma, mb) = (metadata_with_index(&ours), metadata_with_index(&reference));
    assert_eq!(ma.num_row_groups(), 3);
    assert_eq!(mb.num_row_groups(), 3);
    let file = File::open(&ours).unwrap();
    let mut plain_pages = 0;
    for rg in 0..3 {
        for col in STRING_COLUMNS {
            let (x, y) = (ma.row_group(rg).column(col), mb.row_group(rg).column(col));
            let at = format!("row group {rg}, column {col}");
            assert_eq!(x.num_values(), y.num_values(), "{at}");
            let (sx, sy) = (x.statistics().unwrap(), y.statistics().unwrap());
            assert_eq!(sx.min_bytes_opt(), sy.min_bytes_opt(), "{at}: min");
            assert_eq!(sx.max_bytes_opt(), sy.max_bytes_opt(), "{at}: max");
            assert_eq!(sx.null_count_opt(), sy.null_count_opt(), "{at}: nulls");
            assert!(
                sx.min_bytes_opt().is_some(),
                "{at}: chunk statistics present"
            );
            assert_eq!(
                x.unencoded_byte_array_data_bytes(),
                y.unencoded_byte_array_data_bytes(),
                "{at}: value bytes"
            );
            assert_eq!(
                x.definition_level_histogram(),
                y.definition_level_histogram(),
                "{at}: definition levels"
            );
            // Dictionary page first, data pages RLE_DICTIONARY.
            assert!(
                x.dictionary_page_offset().is_some(),
                "{at}: dictionary page"
            );
            let encodings: Vec<Encoding> = x.encodings().collect();
            assert!(
                encodings.contains(&Encoding::RLE_DICTIONARY),
                "{at}: {encodings:?}"
            );
            let stats = x.page_encoding_stats().unwrap();
            assert!(stats
                .iter()
                .any(|s| s.page_type == PageType::DICTIONARY_PAGE && s.count == 1));
            for s in stats.iter().filter(|s| s.page_type == PageType::DATA_PAGE) {
                match s.encoding {
                    Encoding::RLE_DICTIONARY => {}
                    Encoding::PLAIN => plain_pages += s.count,
                    other => panic!("{at}: data page encoding {other}"),
                }
            }
            // Page index: several pages, bounds consistent with the chunk statistics.
            let index = ma.page_index_for_row_group(rg);
            let ci = index.column_index(col).expect("column index");
            let (mins, maxs, nulls) = page_bounds(ci);
            // Bounds cut to the column index truncate length (64 bytes by default).
            let longest = mins
                .iter()
                .chain(&maxs)
                .flatten()
                .map(Vec::len)
                .max()
                .unwrap_or(0);
            assert!(longest <= 64, "{at}: column index bound of {longest} bytes");
            assert!(mins.len() > 1, "{at}: {} pages", mins.len());
            let min = mins.iter().flatten().min().cloned();
            let max = maxs.iter().flatten().max().cloned();
            assert_eq!(min.as_deref(), sx.min_bytes_opt(), "{at}: page minimum");
            assert_eq!(max.as_deref(), sx.max_bytes_opt(), "{at}: page maximum");
            assert_eq!(
                nulls.iter().sum::<i64>() as u64,
                sx.null_count_opt().unwrap()
            );
            let oi = index.offset_index(col).expect("offset index");
            assert_eq!(oi.page_locations().len(), mins.len(), "{at}: offset index");
            let rows: u64 = ma.row_group(rg).num_rows() as u64;
            assert!(oi.page_locations().last().unwrap().first_row_index as u64 <= rows);
            let value_bytes: i64 = oi.unencoded_byte_array_data_bytes().unwrap().iter().sum();
            assert_eq!(Some(value_bytes), x.unencoded_byte_array_data_bytes());
            // Bloom filter present and holding every value of the chunk.
            let bloom = Sbbf::read_from_column_chunk(x, &file)
                .unwrap()
                .expect("bloom filter");
            let values = concat_column(&a, col);
            let strings = values.as_any().downcast_ref::<StringArray>().unwrap();
            let start: usize = (0..rg).map(|r| ma.row_group(r).num_rows() as usize).sum();
            for i in start..start + rows as usize {
                if strings.is_valid(i) {
                    assert!(
                        bloom.check(strings.value(i)),
                        "{at}: bloom misses {}",
                        strings.value(i)
                    );
                }
            }
        }
    }
    assert_eq!(
        plain_pages > 0,
        expect_plain_pages,
        "{plain_pages} PLAIN data pages"
    );
    // The last row group's nullable column has an all-null page (300 null rows at
    // its end, pages of 256 rows).
    let index = ma.page_index_for_row_group(2);
    let (_, _, nulls) = page_bounds(index.column_index(1).unwrap());
    let locations = index.offset_index(1).unwrap().page_locations();
    let rows = ma.row_group(2).num_rows();
    let page_rows: Vec<i64> = (0..locations.len())
        .map(|p| {
            let end = locations.get(p + 1).map_or(rows, |l| l.first_row_index);
            end - locations[p].first_row_index
        })
        .collect();
    assert!(
        nulls.iter().zip(&page_rows).any(|(n, r)| n == r),
        "no all-null page: nulls {nulls:?}, rows {page_rows:?}"
    );
}

#[test]
fn an_unused_dictionary_entry_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.parquet");
    let batches: Vec<RecordBatch> = batches().into_iter().take(1).collect();
    write_ours(&ours, &batches, 1024 * 1024);
    let file = File::open(&ours).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    let mut pages = reader
        .get_row_group(0)
        .unwrap()
        .get_column_page_reader(1)
        .unwrap();
    let first = pages.next().unwrap().unwrap();
    assert_eq!(first.page_type(), PageType::DICTIONARY_PAGE);
    // Batch 0 uses web-03, db-01, web-01 of the shared values (not the unused or null entry).
    assert_eq!(first.num_values(), 3);
}
