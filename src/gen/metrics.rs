//! The metrics table: schema, series identities and one file's rows.

use super::files::{GenConfig, Overlap};
use crate::schema::{SortColumn, SortSchema};
use crate::{Error, Result};
use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array, UInt8Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::sync::Arc;

/// Start of the generated window (a multiple of 900 s).
pub const WINDOW_START: i64 = 1_699_999_200;
/// Minimum window length.
pub const WINDOW_DURATION_SECS: u64 = 900;
/// Points per series per file (the last file's series may get fewer).
const POINTS_PER_SERIES: usize = 60;

const SORT_COLUMNS: [&str; 8] = [
    "metric_name",
    "service",
    "env",
    "datacenter",
    "region",
    "host",
    "timeseries_id",
    "timestamp_secs",
];
const METRICS: [&str; 20] = [
    "cpu.usage",
    "cpu.load1",
    "mem.used",
    "mem.free",
    "disk.read_bytes",
    "disk.write_bytes",
    "net.rx_bytes",
    "net.tx_bytes",
    "http.requests",
    "http.errors",
    "http.latency_p99",
    "gc.pause",
    "jvm.heap_used",
    "db.connections",
    "db.query_time",
    "queue.depth",
    "cache.hits",
    "cache.misses",
    "process.threads",
    "process.fds",
];
const SERVICES: [&str; 8] = [
    "api", "auth", "billing", "checkout", "frontend", "indexer", "search", "worker",
];
const ENVS: [&str; 3] = ["prod", "staging", "dev"];
const DATACENTERS: [&str; 4] = ["dc1", "dc2", "dc3", "dc4"];
const REGIONS: [&str; 6] = [
    "eu-west-1",
    "eu-central-1",
    "us-east-1",
    "us-west-2",
    "ap-south-1",
    "ap-northeast-1",
];
const UNITS: [&str; 4] = ["percent", "bytes", "count", "seconds"];

/// The sort schema of the generated table.
pub fn sort_schema() -> SortSchema {
    SortSchema {
        name: None,
        columns: SORT_COLUMNS.iter().map(|c| SortColumn::new(*c)).collect(),
        version: Some("V2".into()),
    }
}

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Arrow schema of the generated table.
pub fn metrics_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("metric_name", dict(), false),
        Field::new("service", dict(), true),
        Field::new("env", dict(), true),
        Field::new("datacenter", dict(), true),
        Field::new("region", dict(), true),
        Field::new("host", dict(), true),
        Field::new("timeseries_id", DataType::Int64, false),
        Field::new("timestamp_secs", DataType::UInt64, false),
        Field::new("value", DataType::Float64, false),
        Field::new("metric_type", DataType::UInt8, false),
        Field::new("metric_unit", DataType::Utf8, false),
    ]))
}

/// SplitMix64: a small, well-mixed deterministic hash.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn fnv1a(parts: &[Option<&str>]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.unwrap_or("\u{0}null").bytes().chain([0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h as i64
}

fn metric_name(k: usize) -> String {
    let base = METRICS[k % METRICS.len()];
    match k / METRICS.len() {
        0 => base.to_string(),
        n => format!("{base}_{n}"),
    }
}

fn pick<'a>(list: &[&'a str], h: u64) -> &'a str {
    list[(h % list.len() as u64) as usize]
}

struct Series {
    metric: usize,
    tags: [Option<String>; 5],
    id: i64,
}

fn series(config: &GenConfig, s: usize) -> Series {
    let metric = s % config.metrics;
    let h = mix(config.seed ^ (s as u64).wrapping_mul(0x1000_0001));
    let null_if = |shift: u32, one_in: u64, v: &str| {
        (!(h >> shift).is_multiple_of(one_in)).then(|| v.to_string())
    };
    let tags = [
        Some(pick(&SERVICES, h).to_string()),
        null_if(8, 20, pick(&ENVS, h >> 16)),
        null_if(24, 25, pick(&DATACENTERS, h >> 32)),
        null_if(40, 30, pick(&REGIONS, h >> 48)),
        Some(format!("host-{:05}", s / config.metrics)),
    ];
    let name = metric_name(metric);
    let mut parts = vec![Some(name.as_str())];
    parts.extend(tags.iter().map(|t| t.as_deref()));
    Series {
        metric,
        id: fnv1a(&parts),
        tags,
    }
}

fn num_series(config: &GenConfig) -> usize {
    config
        .series
        .unwrap_or(config.rows / POINTS_PER_SERIES)
        .max(1)
}

fn points_per_file(config: &GenConfig) -> usize {
    config.rows.div_ceil(num_series(config)).max(1)
}

/// Window length covering every generated timestamp, a multiple of 900 s.
pub(super) fn window_duration(config: &GenConfig) -> u64 {
    let span = (points_per_file(config) * config.files) as u64;
    span.div_ceil(WINDOW_DURATION_SECS).max(1) * WINDOW_DURATION_SECS
}

/// The rows of file `file` (unsorted: rows are in generation order).
pub fn metrics_batch(config: &GenConfig, file: usize) -> Result<RecordBatch> {
    metrics_batch_at(config, file, WINDOW_START, config.seed)
}

/// The rows of file `file` with timestamps starting at `window_start` and values
/// drawn with `value_seed` (series and keys come from `config.seed` alone).
pub fn metrics_batch_at(
    config: &GenConfig,
    file: usize,
    window_start: i64,
    value_seed: u64,
) -> Result<RecordBatch> {
    let n_series = num_series(config);
    let points = points_per_file(config);
    let all_series: Vec<Series> = (0..n_series).map(|s| series(config, s)).collect();
    let mut names = StringDictionaryBuilder::<Int32Type>::new();
    let mut tags: Vec<StringDictionaryBuilder<Int32Type>> =
        (0..5).map(|_| StringDictionaryBuilder::new()).collect();
    let mut ids = Vec::with_capacity(config.rows);
    let mut timestamps = Vec::with_capacity(config.rows);
    let mut values = Vec::with_capacity(config.rows);
    let mut types = Vec::with_capacity(config.rows);
    let mut units = Vec::with_capacity(config.rows);
    let metric_names: Vec<String> = (0..config.metrics).map(metric_name).collect();
    for r in 0..config.rows {
        let s = &all_series[r % n_series];
        let point = (r / n_series) as u64;
        let offset = match config.overlap {
            Overlap::Disjoint => file as u64 * points as u64 + point,
            Overlap::Interleave => point * config.files as u64 + file as u64,
        };
        names.append_value(&metric_names[s.metric]);
        for (b, t) in tags.iter_mut().zip(&s.tags) {
            b.append_option(t.as_deref());
        }
        ids.push(s.id);
        timestamps.push(window_start as u64 + offset);
        let h = mix(value_seed ^ mix(file as u64) ^ (r as u64));
        values.push((h >> 11) as f64 / (1u64 << 53) as f64 * 100.0);
        types.push((s.metric % 3) as u8);
        units.push(UNITS[s.metric % UNITS.len()]);
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(names.finish())];
    columns.extend(tags.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.push(Arc::new(Int64Array::from(ids)));
    columns.push(Arc::new(UInt64Array::from(timestamps)));
    columns.push(Arc::new(Float64Array::from(values)));
    columns.push(Arc::new(UInt8Array::from(types)));
    columns.push(Arc::new(StringArray::from(units)));
    RecordBatch::try_new(metrics_schema(), columns)
        .map_err(|e| Error::Internal(format!("generated batch: {e}")))
}
