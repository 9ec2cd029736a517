//! Every column kind a time-series table has (dictionary and plain strings, Int32,
//! Int64, UInt32, UInt64, Float32, Float64 with NaN, -0.0/+0.0 and nulls,
//! timestamps in ms/us/ns, Date32, Boolean, Decimal128 and FixedSizeBinary as
//! FIXED_LEN_BYTE_ARRAY; nullable and required) through a merge, in both shapes
//! the engine hands its writer (rows gathered from interleaved inputs, and whole
//! batches of one input's run), checked on the outputs with parquet-rs' reading
//! side only (never the writer's internals), so that any page writer the
//! engine uses is held to the same bar: a dictionary page where the inputs had
//! one (PLAIN pages only past the dictionary page limit), data pages
//! RLE_DICTIONARY, chunk statistics and per-page column index bounds equal to
//! what the decoded values give, offset index rows matching the pages, bloom
//! filters holding every value, and values equal to a reference merge.
//!
//! Float statistics follow parquet-rs 60: IEEE 754 total order (column order
//! `IEEE_754_TOTAL_ORDER`), so -0.0 < +0.0 and neither is rewritten; NaN is
//! left out of min/max and counted in `nan_count` (chunk statistics and column
//! index).

use arrow_array::builder::{
    BooleanBuilder, Decimal128Builder, FixedSizeBinaryBuilder, StringDictionaryBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, Date32Array, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    UInt32Array, UInt64Array,
};
use arrow_cast::cast;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{ColumnOrder, Encoding, Type as PhysicalType};
use parquet::bloom_filter::Sbbf;
use parquet::column::page::Page;
use parquet::file::metadata::{ColumnChunkMetaData, KeyValue, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::serialized_reader::ReadOptionsBuilder;
use prefix_merge::merge::MergeOptions;
use prefix_merge::{MergeBuilder, SortSchema, WriterOptions};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Columns the inputs write bloom filters for.
const INPUT_BLOOMS: [&str; 5] = ["dict_str", "i64", "f64", "fsb", "dec"];
/// Columns the merge is asked to write bloom filters for (`--bloom-filter`).
const OPTION_BLOOMS: [&str; 3] = ["u32", "plain_str", "hi_str"];
/// Rows per data page (inputs and outputs): several pages per chunk.
const PAGE_ROWS: usize = 32;
/// parquet-rs checks page and dictionary limits every this many values.
const WRITE_BATCH: usize = 16;
/// Decimal128 precision: 30 digits are a 13-byte FIXED_LEN_BYTE_ARRAY.
const DECIMAL_PRECISION: u8 = 30;

fn schema() -> SchemaRef {
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("series", dict.clone(), false),
        Field::new("ts", DataType::Int64, false),
        Field::new("dict_str", dict, true),
        Field::new("hi_str", DataType::Utf8, true),
        Field::new("plain_str", DataType::Utf8, false),
        Field::new("i32", DataType::Int32, true),
        Field::new("i32_req", DataType::Int32, false),
        Field::new("i64", DataType::Int64, true),
        Field::new("u32", DataType::UInt32, true),
        Field::new("u64", DataType::UInt64, true),
        Field::new("f32", DataType::Float32, true),
        Field::new("f64", DataType::Float64, true),
        Field::new("f64_req", DataType::Float64, false),
        Field::new(
            "ts_ms",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        ),
        Field::new(
            "ts_us",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new(
            "ts_ns",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
        ),
        Field::new("date", DataType::Date32, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("dec", DataType::Decimal128(DECIMAL_PRECISION, 4), true),
        Field::new("fsb", DataType::FixedSizeBinary(8), true),
    ]))
}

/// A deterministic hash of (input, row, column).
fn h(input: usize, row: usize, col: u64) -> u64 {
    let mut x = (input as u64) << 40 ^ (row as u64) << 8 ^ col;
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn float_of(v: u64) -> Option<f64> {
    match v % 13 {
        0 => Some(f64::NAN),
        1 => Some(-0.0),
        2 => Some(0.0),
        3 => None,
        4 => Some(f64::INFINITY),
        _ => Some((v % 1000) as f64 / 8.0 - 60.0),
    }
}

/// One input's rows: `keys` (series, ts) in sort order, payload from the hash.
fn batch(input: usize, keys: &[(usize, i64)]) -> RecordBatch {
    let n = keys.len();
    let hv = |col: u64| (0..n).map(move |r| h(input, r, col));
    let mut series = StringDictionaryBuilder::<Int32Type>::new();
    keys.iter()
        .for_each(|(s, _)| series.append_value(format!("s{s:03}")));
    let mut dict = StringDictionaryBuilder::<Int32Type>::new();
    for v in hv(1) {
        match v % 9 {
            0 => dict.append_null(),
            x => dict.append_value(["cpu", "mem", "disk", "net", "io"][x as usize % 5]),
        }
    }
    let hi: StringArray = hv(2)
        .enumerate()
        .map(|(r, v)| (v % 17 != 0).then(|| format!("v-{input}-{r}-{}", v % 1000)))
        .collect();
    let plain: StringArray = hv(3)
        .map(|v| Some(["alpha", "beta", "gamma", "délta"][v as usize % 4]))
        .collect();
    let i32s: Int32Array = hv(4)
        .map(|v| match v % 23 {
            0 => None,
            1 => Some(i32::MIN),
            2 => Some(i32::MAX),
            _ => Some((v % 2000) as i32 - 1000),
        })
        .collect();
    let i32_req: Int32Array = hv(5).map(|v| Some((v % 50) as i32 - 7)).collect();
    let i64s: Int64Array = hv(6)
        .map(|v| (v % 19 != 0).then_some(v as i64 >> (v % 40)))
        .collect();
    // Values above i32::MAX / i64::MAX: unsigned order differs from signed.
    let u32s: UInt32Array = hv(7)
        .map(|v| (v % 11 != 0).then_some(v as u32 ^ ((v % 3) as u32) << 31))
        .collect();
    let u64s: UInt64Array = hv(8)
        .map(|v| match v % 29 {
            0 => None,
            1 => Some(u64::MAX),
            _ => Some(v >> (v % 3)),
        })
        .collect();
    // Null for whole series (2..10): all-null pages and chunks.
    let f32s: Float32Array = keys
        .iter()
        .zip(hv(9))
        .map(|(&(s, _), v)| match s % SERIES {
            2..10 => None,
            _ => float_of(v).map(|f| f as f32),
        })
        .collect();
    let f64s: Float64Array = hv(10).map(float_of).collect();
    let f64_req: Float64Array = hv(11)
        .map(|v| {
            Some(if v % 7 == 0 {
                -0.0
            } else {
                (v % 100) as f64 * 0.5
            })
        })
        .collect();
    let base = 1_700_000_000_000i64;
    let ts_ms: TimestampMillisecondArray = keys
        .iter()
        .zip(hv(12))
        .map(|((_, t), v)| (v % 31 != 0).then_some(base + t * 1000))
        .collect();
    let ts_us: TimestampMicrosecondArray = hv(13)
        .map(|v| (v % 37 != 0).then_some(base * 1000 + (v % 100_000) as i64))
        .collect::<TimestampMicrosecondArray>()
        .with_timezone("UTC");
    let ts_ns: TimestampNanosecondArray = keys
        .iter()
        .map(|(_, t)| Some((base + t) * 1_000_000 + 7))
        .collect();
    let date: Date32Array = hv(14)
        .map(|v| (v % 41 != 0).then_some(19_000 + (v % 400) as i32 - 200))
        .collect();
    let mut flag = BooleanBuilder::new();
    hv(15).for_each(|v| flag.append_option((v % 5 != 0).then_some(v % 2 == 0)));
    let mut dec = Decimal128Builder::new();
    hv(16).for_each(|v| {
        dec.append_option(
            (v % 43 != 0).then_some((v % 200_000) as i128 * 1_000_000 - 10i128.pow(11)),
        )
    });
    let dec = dec
        .finish()
        .with_precision_and_scale(DECIMAL_PRECISION, 4)
        .unwrap();
    let mut fsb = FixedSizeBinaryBuilder::new(8);
    for v in hv(17) {
        if v % 47 == 0 {
            fsb.append_null();
        } else {
            fsb.append_value((v % 500).to_be_bytes()).unwrap();
        }
    }
    let ts: Int64Array = keys.iter().map(|(_, t)| Some(*t)).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(series.finish()),
        Arc::new(ts),
        Arc::new(dict.finish()),
        Arc::new(hi),
        Arc::new(plain),
        Arc::new(i32s),
        Arc::new(i32_req),
        Arc::new(i64s),
        Arc::new(u32s),
        Arc::new(u64s),
        Arc::new(f32s),
        Arc::new(f64s),
        Arc::new(f64_req),
        Arc::new(ts_ms),
        Arc::new(ts_us),
        Arc::new(ts_ns),
        Arc::new(date),
        Arc::new(flag.finish()),
        Arc::new(dec),
        Arc::new(fsb.finish()),
    ];
    RecordBatch::try_new(schema(), columns).unwrap()
}

/// The two shapes the engine writes (P = 0 inputs), and aligned inputs.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Every input holds every series, timestamps interleaved: windows mix inputs.
    Gathered,
    /// Each input holds its own series: every window is one input's run.
    WholeBatches,
    /// As `Gathered`, but P = 1 inputs (one row group per series, `qh.*` claims):
    /// each series is a region merged from every input, one row group per output
    /// row group.
    Aligned,
}

const INPUTS: usize = 3;
const SERIES: usize = 12;
const POINTS: usize = 40;

/// Sort keys (series, ts) of input `k`, in sort order.
fn keys(shape: Shape, k: usize) -> Vec<(usize, i64)> {
    let mut out = Vec::new();
    for s in 0..SERIES {
        let series = match shape {
            Shape::Gathered | Shape::Aligned => s,
            Shape::WholeBatches => k * SERIES + s,
        };
        for p in 0..POINTS {
            let ts = match shape {
                // Ties across inputs at every third point (stable order decides).
                Shape::Gathered | Shape::Aligned if p % 3 == 0 => p as i64 * 10,
                Shape::Gathered | Shape::Aligned => p as i64 * 10 + k as i64,
                Shape::WholeBatches => p as i64 * 10,
            };
            out.push((series, ts));
        }
    }
    out
}

fn input_properties(shape: Shape) -> WriterProperties {
    let claims = match shape {
        Shape::Aligned => vec![
            KeyValue::new("qh.sort_fields".into(), SORT.to_string()),
            KeyValue::new("qh.rg_partition_prefix_len".into(), "1".to_string()),
        ],
        _ => Vec::new(),
    };
    let mut b = WriterProperties::builder()
        .set_key_value_metadata(Some(claims))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(WRITE_BATCH);
    for c in INPUT_BLOOMS {
        b = b.set_column_bloom_filter_enabled(c.into(), true);
    }
    b.build()
}

/// Write the inputs of `shape` with parquet-rs' ArrowWriter (one row group each;
/// `Aligned`: one per series).
fn write_inputs(dir: &Path, shape: Shape) -> (Vec<PathBuf>, Vec<RecordBatch>) {
    let mut paths = Vec::new();
    let mut batches = Vec::new();
    for k in 0..INPUTS {
        let b = batch(k, &keys(shape, k));
        let path = dir.join(format!("in_{k}.parquet"));
        let mut w = ArrowWriter::try_new(
            File::create(&path).unwrap(),
            schema(),
            Some(input_properties(shape)),
        )
        .unwrap();
        match shape {
            Shape::Aligned => {
                for s in 0..SERIES {
                    w.write(&b.slice(s * POINTS, POINTS)).unwrap();
                    w.flush().unwrap();
                }
            }
            _ => w.write(&b).unwrap(),
        }
        w.close().unwrap();
        paths.push(path);
        batches.push(b);
    }
    (paths, batches)
}

/// The outputs' writer properties (the merge adds sorting columns and `qh.*`).
fn output_properties(dictionary_limit: usize) -> WriterProperties {
    WriterProperties::builder()
        .set_dictionary_page_size_limit(dictionary_limit)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(WRITE_BATCH)
        .build()
}

const ROW_GROUP_ROWS: usize = 500;
const SORT: &str = "series|ts";

/// Merge into two outputs (a file closes mid-run), every row re-encoded (no
/// verbatim copies), row groups of about `ROW_GROUP_ROWS`; the outputs in key
/// order.
fn merge(inputs: &[PathBuf], out: &Path, dictionary_limit: usize) -> Vec<PathBuf> {
    let sort: SortSchema = SORT.parse().unwrap();
    let options = MergeOptions::default()
        .with_batch_rows(100)
        .with_row_group_rows(ROW_GROUP_ROWS)
        .with_verbatim_copy(false);
    let result = MergeBuilder::new(inputs, out)
        .sort_schema(sort)
        .num_outputs(2)
        .options(options)
        .writer_properties(output_properties(dictionary_limit))
        .writer_options(WriterOptions::new().with_bloom_filter_columns(OPTION_BLOOMS))
        .run()
        .unwrap();
    assert_eq!(result.outputs.len(), 2, "outputs");
    result.outputs.iter().map(|o| o.path.clone()).collect()
}

/// The reference merge: inputs concatenated in list order, stably sorted by
/// (series, ts).
fn reference(batches: &[RecordBatch]) -> RecordBatch {
    let all = arrow_select::concat::concat_batches(&schema(), batches).unwrap();
    let series = cast(all.column(0), &DataType::Utf8).unwrap();
    let series = series.as_string::<i32>();
    let ts = all.column(1).as_primitive::<Int64Type>();
    let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        series
            .value(a)
            .cmp(series.value(b))
            .then(ts.value(a).cmp(&ts.value(b)))
    });
    arrow_select::take::take_record_batch(&all, &UInt32Array::from(order)).unwrap()
}

/// Dictionaries cast to their values, so that outputs compare whatever their
/// Arrow encoding.
fn plain_column(a: &ArrayRef) -> ArrayRef {
    match a.data_type() {
        DataType::Dictionary(_, v) => cast(a, v).unwrap(),
        _ => a.clone(),
    }
}

/// Row group `rg` of `path`, decoded (every column plain).
fn read_row_group(path: &Path, rg: usize) -> Vec<ArrayRef> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .with_row_groups(vec![rg])
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let all = arrow_select::concat::concat_batches(&schema, &batches).unwrap();
    all.columns().iter().map(plain_column).collect()
}

fn metadata(path: &Path) -> ParquetMetaData {
    let options = ReadOptionsBuilder::new().with_page_index().build();
    let reader =
        SerializedFileReader::new_with_options(File::open(path).unwrap(), options).unwrap();
    reader.metadata().clone()
}

/// A value as parquet stores it: its PLAIN bytes (what statistics, the column
/// index and the bloom filter hash hold) and its sort key under the column's
/// order.
#[derive(Clone, Debug)]
struct Value {
    plain: Vec<u8>,
    key: Key,
}

#[derive(Clone, Debug)]
enum Key {
    Int(i128),
    Float(f64),
    Bytes(Vec<u8>),
}

impl Key {
    fn cmp(&self, other: &Key) -> Ordering {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => a.cmp(b),
            (Key::Float(a), Key::Float(b)) => a.total_cmp(b),
            (Key::Bytes(a), Key::Bytes(b)) => a.cmp(b),
            _ => panic!("mixed keys"),
        }
    }

    fn is_nan(&self) -> bool {
        matches!(self, Key::Float(f) if f.is_nan())
    }
}

/// Row `i` of a decoded (plain) column, as parquet stores it; `flba_len` is the
/// FIXED_LEN_BYTE_ARRAY width of a decimal column.
fn value(a: &dyn Array, i: usize, flba_len: usize) -> Option<Value> {
    if a.is_null(i) {
        return None;
    }
    let int = |v: i128, plain: Vec<u8>| Value {
        plain,
        key: Key::Int(v),
    };
    Some(match a.data_type() {
        DataType::Int32 => {
            let v = a.as_primitive::<Int32Type>().value(i);
            int(v.into(), v.to_le_bytes().to_vec())
        }
        DataType::Date32 => {
            let v = a.as_primitive::<Date32Type>().value(i);
            int(v.into(), v.to_le_bytes().to_vec())
        }
        DataType::UInt32 => {
            let v = a.as_primitive::<UInt32Type>().value(i);
            int(v.into(), v.to_le_bytes().to_vec())
        }
        DataType::Int64 => {
            let v = a.as_primitive::<Int64Type>().value(i);
            int(v.into(), v.to_le_bytes().to_vec())
        }
        DataType::UInt64 => {
            let v = a.as_primitive::<UInt64Type>().value(i);
            int(v.into(), v.to_le_bytes().to_vec())
        }
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(i),
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i),
            };
            int(v.into(), v.to_le_bytes().to_vec())
        }
        DataType::Boolean => {
            let v = a.as_boolean().value(i);
            int(v.into(), vec![v as u8])
        }
        DataType::Decimal128(..) => {
            let v = a.as_primitive::<Decimal128Type>().value(i);
            int(v, v.to_be_bytes()[16 - flba_len..].to_vec())
        }
        DataType::Float32 => {
            let v = a.as_primitive::<Float32Type>().value(i);
            Value {
                plain: v.to_le_bytes().to_vec(),
                key: Key::Float(v.into()),
            }
        }
        DataType::Float64 => {
            let v = a.as_primitive::<Float64Type>().value(i);
            Value {
                plain: v.to_le_bytes().to_vec(),
                key: Key::Float(v),
            }
        }
        DataType::Utf8 => {
            let v = a.as_string::<i32>().value(i).as_bytes().to_vec();
            Value {
                plain: v.clone(),
                key: Key::Bytes(v),
            }
        }
        DataType::FixedSizeBinary(_) => {
            let v = a.as_fixed_size_binary().value(i).to_vec();
            Value {
                plain: v.clone(),
                key: Key::Bytes(v),
            }
        }
        other => panic!("no rule for {other}"),
    })
}

/// Min and max (NaN left out), nulls and NaNs of rows `rows` of a column. As
/// parquet-rs 60 writes them, FLOAT and DOUBLE chunk statistics carry a NaN
/// count (0 included) unless every value is null, and their column index a NaN
/// count for every page (0 for an all-null page); other types never do.
#[derive(Debug, PartialEq)]
struct Bounds {
    min: Option<Vec<u8>>,
    max: Option<Vec<u8>>,
    nulls: u64,
    nans: Option<u64>,
}

fn bounds(a: &dyn Array, rows: std::ops::Range<usize>, flba_len: usize) -> Bounds {
    let mut min: Option<Value> = None;
    let mut max: Option<Value> = None;
    let (mut nulls, mut nans) = (0, 0);
    for i in rows {
        let Some(v) = value(a, i, flba_len) else {
            nulls += 1;
            continue;
        };
        if v.key.is_nan() {
            nans += 1;
            continue;
        }
        if min
            .as_ref()
            .is_none_or(|m| v.key.cmp(&m.key) == Ordering::Less)
        {
            min = Some(v.clone());
        }
        if max
            .as_ref()
            .is_none_or(|m| v.key.cmp(&m.key) == Ordering::Greater)
        {
            max = Some(v);
        }
    }
    let float = is_float_array(a) && (min.is_some() || nans > 0);
    Bounds {
        min: min.map(|v| v.plain),
        max: max.map(|v| v.plain),
        nulls,
        nans: float.then_some(nans),
    }
}

/// Per page of a column index: min, max, nulls, NaNs (as `Bounds`).
fn index_bounds(ci: &ColumnIndexMetaData) -> Vec<Bounds> {
    fn typed<T>(
        ci: &ColumnIndexMetaData,
        idx: &parquet::file::page_index::column_index::PrimitiveColumnIndex<T>,
        bytes: impl Fn(&T) -> Vec<u8>,
    ) -> Vec<Bounds> {
        (0..ci.num_pages() as usize)
            .map(|p| Bounds {
                min: idx.min_value(p).map(&bytes),
                max: idx.max_value(p).map(&bytes),
                nulls: ci.null_count(p).expect("null count") as u64,
                nans: ci.nan_count(p).map(|n| n as u64),
            })
            .collect()
    }
    match ci {
        ColumnIndexMetaData::BOOLEAN(i) => typed(ci, i, |v| vec![*v as u8]),
        ColumnIndexMetaData::INT32(i) => typed(ci, i, |v| v.to_le_bytes().to_vec()),
        ColumnIndexMetaData::INT64(i) => typed(ci, i, |v| v.to_le_bytes().to_vec()),
        ColumnIndexMetaData::FLOAT(i) => typed(ci, i, |v| v.to_le_bytes().to_vec()),
        ColumnIndexMetaData::DOUBLE(i) => typed(ci, i, |v| v.to_le_bytes().to_vec()),
        ColumnIndexMetaData::BYTE_ARRAY(i) | ColumnIndexMetaData::FIXED_LEN_BYTE_ARRAY(i) => (0
            ..ci.num_pages() as usize)
            .map(|p| Bounds {
                min: i.min_value(p).map(<[u8]>::to_vec),
                max: i.max_value(p).map(<[u8]>::to_vec),
                nulls: ci.null_count(p).expect("null count") as u64,
                nans: ci.nan_count(p).map(|n| n as u64),
            })
            .collect(),
        other => panic!("unexpected column index {other:?}"),
    }
}

/// Chunk statistics as `Bounds`.
fn chunk_bounds(chunk: &ColumnChunkMetaData) -> Bounds {
    let s = chunk.statistics().expect("chunk statistics");
    Bounds {
        min: s.min_bytes_opt().map(<[u8]>::to_vec),
        max: s.max_bytes_opt().map(<[u8]>::to_vec),
        nulls: s.null_count_opt().expect("null count"),
        nans: s.nan_count_opt(),
    }
}

fn is_float_array(a: &dyn Array) -> bool {
    matches!(a.data_type(), DataType::Float32 | DataType::Float64)
}

fn is_float(t: PhysicalType) -> bool {
    matches!(t, PhysicalType::FLOAT | PhysicalType::DOUBLE)
}

/// The pages of one column chunk: the dictionary page (uncompressed size,
/// entries), and per data page (encoding, values, uncompressed size).
struct Pages {
    dictionary: Option<(usize, u32)>,
    data: Vec<(Encoding, u32, usize)>,
}

fn pages(path: &Path, rg: usize, col: usize) -> Pages {
    let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    let mut out = Pages {
        dictionary: None,
        data: Vec::new(),
    };
    let pages = reader
        .get_row_group(rg)
        .unwrap()
        .get_column_page_reader(col)
        .unwrap();
    for page in pages {
        match page.unwrap() {
            Page::DictionaryPage {
                buf, num_values, ..
            } => {
                assert!(out.data.is_empty(), "dictionary page after data pages");
                assert!(out.dictionary.is_none(), "two dictionary pages");
                out.dictionary = Some((buf.len(), num_values));
            }
            p => out
                .data
                .push((p.encoding(), p.num_values(), p.buffer().len())),
        }
    }
    out
}

/// Every check on every column chunk of `path`; `first_row` is the index in
/// `expected` of the file's first row. Returns the rows checked.
fn check_file(
    path: &Path,
    expected: &[ArrayRef],
    first_row: usize,
    dictionary_limit: usize,
    seen: &mut Seen,
) -> usize {
    let meta = metadata(path);
    let file = File::open(path).unwrap();
    let descr = meta.file_metadata().schema_descr();
    let blooms: BTreeSet<&str> = INPUT_BLOOMS.iter().chain(&OPTION_BLOOMS).copied().collect();
    let mut start = first_row;
    for rg in 0..meta.num_row_groups() {
        let group = meta.row_group(rg);
        let rows = group.num_rows() as usize;
        let decoded = read_row_group(path, rg);
        let index = meta.page_index_for_row_group(rg);
        for (c, values) in decoded.iter().enumerate() {
            let chunk = group.column(c);
            let col = descr.column(c);
            let name = col.name().to_string();
            let at = format!("{} row group {rg} column {name}", path.display());
            let flba_len = usize::try_from(col.type_length()).unwrap_or(0);
            let physical = col.physical_type();
            // Values: the reference merge's rows.
            assert_eq!(
                values.as_ref(),
                expected[c].slice(start, rows).as_ref(),
                "{at}: values differ from the reference merge"
            );
            // Statistics from the decoded values.
            assert_eq!(
                chunk_bounds(chunk),
                bounds(values.as_ref(), 0..rows, flba_len),
                "{at}: chunk statistics"
            );
            if is_float(physical) {
                assert_eq!(
                    meta.file_metadata().column_order(c),
                    ColumnOrder::IEEE_754_TOTAL_ORDER,
                    "{at}: float column order"
                );
            }
            // Pages: dictionary first (not for BOOLEAN), data pages RLE_DICTIONARY
            // until the dictionary reaches its limit, PLAIN after.
            let pages = pages(path, rg, c);
            if physical == PhysicalType::BOOLEAN {
                assert!(pages.dictionary.is_none(), "{at}: boolean dictionary");
                for (e, ..) in &pages.data {
                    assert!(matches!(e, Encoding::PLAIN | Encoding::RLE), "{at}: {e}");
                }
            } else {
                let (dict_bytes, entries) = pages.dictionary.expect("dictionary page");
                assert!(chunk.dictionary_page_offset().is_some(), "{at}");
                // Empty only for an all-null chunk (parquet-rs writes the page anyway).
                assert_eq!(
                    entries == 0,
                    values.null_count() == rows,
                    "{at}: {entries} dictionary entries"
                );
                // parquet-rs checks the limit every WRITE_BATCH values: the
                // dictionary may pass it by at most one such batch.
                let widest = (0..rows)
                    .filter_map(|i| value(values.as_ref(), i, flba_len))
                    .map(|v| v.plain.len() + 4)
                    .max()
                    .unwrap_or(0);
                assert!(
                    dict_bytes <= dictionary_limit + WRITE_BATCH * widest,
                    "{at}: dictionary page of {dict_bytes} bytes, limit {dictionary_limit}"
                );
                let mut seen_plain = false;
                for (e, ..) in &pages.data {
                    match e {
                        Encoding::RLE_DICTIONARY => {
                            assert!(!seen_plain, "{at}: dictionary page after PLAIN")
                        }
                        Encoding::PLAIN => seen_plain = true,
                        other => panic!("{at}: data page encoding {other}"),
                    }
                }
                if seen_plain {
                    assert!(
                        dict_bytes >= dictionary_limit,
                        "{at}: PLAIN pages with a dictionary of {dict_bytes} bytes under the limit {dictionary_limit}"
                    );
                    seen.plain_pages.insert(name.clone());
                } else {
                    // Without fallback the dictionary holds each distinct value
                    // of the chunk once, and nothing else.
                    let distinct: BTreeSet<Vec<u8>> = (0..rows)
                        .filter_map(|i| value(values.as_ref(), i, flba_len))
                        .map(|v| v.plain)
                        .collect();
                    assert_eq!(entries as usize, distinct.len(), "{at}: dictionary entries");
                }
            }
            // Column and offset index: one entry per data page, rows adding up,
            // page bounds from the page's values.
            let ci = index.column_index(c).expect("column index");
            let oi = index.offset_index(c).expect("offset index");
            let locations = oi.page_locations();
            assert_eq!(locations.len(), pages.data.len(), "{at}: offset index");
            assert_eq!(
                ci.num_pages() as usize,
                pages.data.len(),
                "{at}: column index"
            );
            assert!(pages.data.len() > 1, "{at}: one data page");
            assert_eq!(locations[0].first_row_index, 0, "{at}");
            let page_bounds = index_bounds(ci);
            let mut total = 0;
            for p in 0..locations.len() {
                let from = locations[p].first_row_index as usize;
                let to = locations
                    .get(p + 1)
                    .map_or(rows, |l| l.first_row_index as usize);
                assert!(from < to, "{at}: empty page {p}");
                // Flat columns: one value (or null) per row.
                assert_eq!(pages.data[p].1 as usize, to - from, "{at}: page {p} values");
                total += to - from;
                let mut want = bounds(values.as_ref(), from..to, flba_len);
                if is_float(physical) {
                    want.nans = Some(want.nans.unwrap_or(0));
                }
                if ci.is_null_page(p) {
                    seen.null_pages.insert(name.clone());
                }
                assert_eq!(
                    ci.is_null_page(p),
                    want.nulls as usize == to - from,
                    "{at}: page {p} null page"
                );
                assert_eq!(page_bounds[p], want, "{at}: page {p} bounds");
            }
            assert_eq!(total, rows, "{at}: page rows");
            // Bloom filters where configured or in an input, holding every value.
            let bloom = Sbbf::read_from_column_chunk(chunk, &file).unwrap();
            if blooms.contains(name.as_str()) {
                let bloom = bloom.unwrap_or_else(|| panic!("{at}: no bloom filter"));
                for i in 0..rows {
                    if let Some(v) = value(values.as_ref(), i, flba_len) {
                        assert!(bloom.check(&v.plain[..]), "{at}: bloom misses row {i}");
                    }
                }
            } else {
                assert!(bloom.is_none(), "{at}: unexpected bloom filter");
            }
        }
        start += rows;
    }
    start - first_row
}

/// The inputs really are what the outputs are checked against: a dictionary
/// page on every non-boolean chunk, bloom filters on `INPUT_BLOOMS`.
fn check_inputs(paths: &[PathBuf]) {
    for p in paths {
        let meta = metadata(p);
        let descr = meta.file_metadata().schema_descr();
        for (c, chunk) in meta
            .row_groups()
            .iter()
            .flat_map(|rg| rg.columns().iter().enumerate())
        {
            let boolean = descr.column(c).physical_type() == PhysicalType::BOOLEAN;
            assert_eq!(
                chunk.dictionary_page_offset().is_some(),
                !boolean,
                "input {} column {c}",
                p.display()
            );
            assert_eq!(
                chunk.bloom_filter_offset().is_some(),
                INPUT_BLOOMS.contains(&descr.column(c).name()),
            );
        }
    }
}

/// Merge the inputs of `shape` and check every output chunk; returns what the
/// checks met.
fn merge_and_check(shape: Shape, dictionary_limit: usize) -> Seen {
    let dir = tempfile::tempdir().unwrap();
    let (inputs, batches) = write_inputs(dir.path(), shape);
    check_inputs(&inputs);
    let outputs = merge(&inputs, &dir.path().join("out"), dictionary_limit);
    let expected: Vec<ArrayRef> = reference(&batches)
        .columns()
        .iter()
        .map(plain_column)
        .collect();
    let mut seen = Seen::default();
    let mut rows = 0;
    for o in &outputs {
        rows += check_file(o, &expected, rows, dictionary_limit, &mut seen);
    }
    assert_eq!(rows, expected[0].len(), "{shape:?}: rows");
    // More than one row group and several pages per chunk were checked.
    assert!(
        outputs
            .iter()
            .map(|o| metadata(o).num_row_groups())
            .sum::<usize>()
            > 1
    );
    // The all-null stretch of f32 made all-null pages.
    assert!(seen.null_pages.contains("f32"), "{shape:?}: {seen:?}");
    seen
}

/// What the checks met on the way: columns with PLAIN data pages, columns with
/// an all-null page.
#[derive(Debug, Default)]
struct Seen {
    plain_pages: BTreeSet<String>,
    null_pages: BTreeSet<String>,
}

const DEFAULT_DICTIONARY_LIMIT: usize = 1024 * 1024;

#[test]
fn gathered_rows_keep_every_column_kind_checked() {
    let plain = merge_and_check(Shape::Gathered, DEFAULT_DICTIONARY_LIMIT).plain_pages;
    assert!(
        plain.is_empty(),
        "PLAIN pages under a 1 MiB limit: {plain:?}"
    );
}

#[test]
fn whole_batches_keep_every_column_kind_checked() {
    let plain = merge_and_check(Shape::WholeBatches, DEFAULT_DICTIONARY_LIMIT).plain_pages;
    assert!(
        plain.is_empty(),
        "PLAIN pages under a 1 MiB limit: {plain:?}"
    );
}

#[test]
fn aligned_regions_keep_every_column_kind_checked() {
    let plain = merge_and_check(Shape::Aligned, DEFAULT_DICTIONARY_LIMIT).plain_pages;
    assert!(
        plain.is_empty(),
        "PLAIN pages under a 1 MiB limit: {plain:?}"
    );
}

#[test]
fn dictionaries_over_their_limit_fall_back_to_plain_pages() {
    // 1 KiB: high-cardinality columns outgrow it within a row group;
    // low-cardinality ones (5, 4 and 50 distinct values) do not.
    for shape in [Shape::Gathered, Shape::WholeBatches] {
        let plain = merge_and_check(shape, 1024).plain_pages;
        for c in ["hi_str", "i64", "u64", "ts_us", "f64", "dec", "fsb"] {
            assert!(
                plain.contains(c),
                "{shape:?}: {c} has no PLAIN page: {plain:?}"
            );
        }
        for c in ["dict_str", "plain_str", "i32_req"] {
            assert!(!plain.contains(c), "{shape:?}: {c} fell back: {plain:?}");
        }
    }
}

/// The merge against parquet-rs' plain `ArrowWriter` writing the reference rows
/// with the same properties and the same row groups: same decoded values, same
/// chunk statistics (min, max, nulls, NaNs), same dictionary pages present;
/// under the default dictionary limit and under one that forces PLAIN pages.
#[test]
fn merge_matches_parquet_rs_plain_writer() {
    let cases = [Shape::Gathered, Shape::WholeBatches, Shape::Aligned]
        .into_iter()
        .flat_map(|s| [(s, DEFAULT_DICTIONARY_LIMIT), (s, 1024)]);
    for (shape, limit) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (inputs, batches) = write_inputs(dir.path(), shape);
        let outputs = merge(&inputs, &dir.path().join("out"), limit);
        let expected = reference(&batches);
        let mut start = 0;
        for (n, o) in outputs.iter().enumerate() {
            let ours = metadata(o);
            let plain = dir.path().join(format!("plain_{n}.parquet"));
            let mut props = output_properties(limit).into_builder();
            for c in INPUT_BLOOMS.iter().chain(&OPTION_BLOOMS) {
                props = props.set_column_bloom_filter_enabled((*c).into(), true);
            }
            let mut w =
                ArrowWriter::try_new(File::create(&plain).unwrap(), schema(), Some(props.build()))
                    .unwrap();
            for rg in ours.row_groups() {
                let rows = rg.num_rows() as usize;
                w.write(&expected.slice(start, rows)).unwrap();
                w.flush().unwrap();
                start += rows;
            }
            w.close().unwrap();
            let theirs = metadata(&plain);
            assert_eq!(ours.num_row_groups(), theirs.num_row_groups());
            assert_eq!(
                ours.file_metadata().column_orders(),
                theirs.file_metadata().column_orders(),
                "{shape:?}: column orders"
            );
            for rg in 0..ours.num_row_groups() {
                let (a, b) = (read_row_group(o, rg), read_row_group(&plain, rg));
                for c in 0..a.len() {
                    let (x, y) = (ours.row_group(rg).column(c), theirs.row_group(rg).column(c));
                    let at = format!(
                        "{shape:?} limit {limit} row group {rg} column {}",
                        x.column_path()
                    );
                    assert_eq!(a[c].as_ref(), b[c].as_ref(), "{at}: values");
                    assert_eq!(chunk_bounds(x), chunk_bounds(y), "{at}: statistics");
                    assert_eq!(x.num_values(), y.num_values(), "{at}: values");
                    assert_eq!(
                        x.dictionary_page_offset().is_some(),
                        y.dictionary_page_offset().is_some(),
                        "{at}: dictionary page"
                    );
                    assert_eq!(
                        x.bloom_filter_offset().is_some(),
                        y.bloom_filter_offset().is_some(),
                        "{at}: bloom filter"
                    );
                }
            }
        }
        assert_eq!(start, expected.num_rows(), "{shape:?}: rows");
    }
}

/// Two inputs of 15,000 rows each: series "s", interleaved ts, and `big`, distinct
/// ~100-byte strings; merged (`props`: the outputs' writer properties, default
/// when `None`) and, as the yardstick, the merged rows written by parquet-rs'
/// plain writer with the same properties. Returns (our output, parquet-rs' file,
/// widest PLAIN value of `big`).
fn distinct_strings(dir: &Path, props: Option<WriterProperties>) -> (PathBuf, PathBuf, usize) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("series", DataType::Utf8, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("big", DataType::Utf8, false),
    ]));
    let rows = 15_000;
    let value = |k: usize, i: usize| format!("{}-{k}-{i:06}", "x".repeat(90));
    let mut inputs = Vec::new();
    let mut all = Vec::new();
    for k in 0..2 {
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["s"; rows])),
                Arc::new(Int64Array::from_iter_values(
                    (0..rows as i64).map(|i| 2 * i + k as i64),
                )),
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| value(k, i)),
                )),
            ],
        )
        .unwrap();
        let path = dir.join(format!("in_{k}.parquet"));
        let mut w =
            ArrowWriter::try_new(File::create(&path).unwrap(), schema.clone(), None).unwrap();
        w.write(&b).unwrap();
        w.close().unwrap();
        inputs.push(path);
        all.push(b);
    }
    let mut builder = MergeBuilder::new(&inputs, dir.join("out"))
        .sort_schema(SORT.parse().unwrap())
        .options(MergeOptions::default().with_verbatim_copy(false));
    if let Some(p) = &props {
        builder = builder.writer_properties(p.clone());
    }
    let result = builder.run().unwrap();
    assert_eq!(result.outputs.len(), 1);
    // parquet-rs' plain writer on the merged rows (interleaved by ts).
    let merged = arrow_select::concat::concat_batches(&schema, &all).unwrap();
    let ts = merged.column(1).as_primitive::<Int64Type>();
    let mut order: Vec<u32> = (0..merged.num_rows() as u32).collect();
    order.sort_by_key(|&i| ts.value(i as usize));
    let merged = arrow_select::take::take_record_batch(&merged, &UInt32Array::from(order)).unwrap();
    let plain = dir.join("plain.parquet");
    let mut w = ArrowWriter::try_new(File::create(&plain).unwrap(), schema, props).unwrap();
    w.write(&merged).unwrap();
    w.close().unwrap();
    (
        result.outputs[0].path.clone(),
        plain,
        value(1, rows).len() + 4,
    )
}

/// With the merge's default writer settings (1 MiB dictionary limit, pages of up
/// to 20,000 rows, write batches of 1024), a string column of distinct ~100-byte
/// values stops growing its dictionary at the limit, as parquet-rs does (checked
/// every write batch, so at most one batch of values over it), and continues with
/// PLAIN pages; parquet-rs' plain writer on the same rows is the yardstick.
#[test]
fn string_dictionary_stops_at_its_limit_with_default_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, plain, widest) = distinct_strings(dir.path(), None);
    let limit = WriterProperties::default().dictionary_page_size_limit();
    let batch = WriterProperties::default().write_batch_size();
    let sizes: Vec<(String, usize, bool)> = [&ours, &plain]
        .iter()
        .map(|path| {
            let p = pages(path, 0, 2);
            let (dict_bytes, _) = p.dictionary.expect("dictionary page");
            let fallback = p.data.iter().any(|(e, ..)| *e == Encoding::PLAIN);
            (path.display().to_string(), dict_bytes, fallback)
        })
        .collect();
    for (path, dict_bytes, fallback) in &sizes {
        assert!(fallback, "{path}: no PLAIN pages");
        assert!(
            *dict_bytes <= limit + batch * widest,
            "{path}: dictionary page of {dict_bytes} bytes, limit {limit} (+ one write batch: {}); all: {sizes:?}",
            limit + batch * widest
        );
    }
}

/// Data pages close at the page size limit, PLAIN ones (after the dictionary
/// fallback) as dictionary ones: at most one write batch of values over it, for
/// our output as for parquet-rs' plain writer of the same rows.
#[test]
fn string_pages_stay_within_the_page_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let page_bytes = 4096;
    let batch = 16;
    let props = WriterProperties::builder()
        .set_data_page_size_limit(page_bytes)
        .set_dictionary_page_size_limit(64 * 1024)
        .set_write_batch_size(batch)
        .build();
    let (ours, plain, widest) = distinct_strings(dir.path(), Some(props));
    for path in [&ours, &plain] {
        let p = pages(path, 0, 2);
        let plain_pages: Vec<usize> = p
            .data
            .iter()
            .filter(|(e, ..)| *e == Encoding::PLAIN)
            .map(|(.., bytes)| *bytes)
            .collect();
        assert!(plain_pages.len() > 10, "{}: PLAIN pages", path.display());
        let largest = p.data.iter().map(|(.., bytes)| *bytes).max().unwrap();
        // Values, plus the definition levels of a required column (none).
        assert!(
            largest <= page_bytes + batch * widest,
            "{}: a data page of {largest} bytes, limit {page_bytes} (+ one write batch: {})",
            path.display(),
            page_bytes + batch * widest
        );
    }
}
