//! Per-output summary, as a metastore needs it: rows, row groups, bytes, first and
//! last sort key (typed values and encoded hex), time range, prefix values, series
//! count, and the distinct values of low-cardinality columns.

use crate::key::{encode_column, row_values, KeyValue};
use crate::schema::Direction;
use arrow_array::{ArrayRef, RecordBatch};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Distinct values kept per summarized column; past this the column is marked
/// high-cardinality and its values are dropped.
pub const DISTINCT_CAP: usize = 1000;

/// What to summarize about the outputs of one merge.
#[derive(Debug, Clone, Default)]
pub struct SummarySpec {
    /// Sort columns with their directions, most significant first.
    pub sort_columns: Vec<(String, Direction)>,
    /// Leading sort columns constant within a region (P).
    pub prefix_len: usize,
    /// The time column, when the sort schema ends in one.
    pub time_column: Option<String>,
    /// Further columns whose distinct values are listed (besides the prefix columns).
    pub summary_columns: Vec<String>,
}

/// A sort key: typed values per sort column and the hex of its encoded bytes
/// (docs/architecture.md, "Prefix keys"), which orders as the key does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SortKey {
    /// One typed value per sort column.
    pub values: Vec<KeyValue>,
    /// The encoded key in lowercase hex; compares bytewise in sort order.
    pub hex: String,
}

/// Distinct values of one column in one output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnValues {
    /// The column's name.
    pub column: String,
    /// More than [`DISTINCT_CAP`] distinct values: `values` is then empty.
    pub high_cardinality: bool,
    /// Distinct non-null values in ascending order, then `null` if there was one.
    pub values: Vec<KeyValue>,
}

/// What one output file holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputSummary {
    /// Where the output is (its final name).
    pub path: PathBuf,
    /// Rows written.
    pub rows: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Row groups written.
    pub row_groups: usize,
    /// Sort key of the first and of the last row (`None` for an empty output).
    pub first_key: Option<SortKey>,
    /// See `first_key`.
    pub last_key: Option<SortKey>,
    /// Smallest and largest value of the time column, when there is one.
    pub time_min: Option<KeyValue>,
    /// See `time_min`.
    pub time_max: Option<KeyValue>,
    /// Distinct prefix tuples (values of the first P sort columns), in key order.
    pub prefixes: Vec<Vec<KeyValue>>,
    /// Number of distinct series (sort columns before the time column).
    pub series: u64,
    /// Distinct values of the prefix columns and of the requested summary columns.
    pub columns: Vec<ColumnValues>,
}

/// Distinct values of one column, capped.
struct Distinct {
    column: String,
    values: BTreeMap<Vec<u8>, KeyValue>,
    high: bool,
}

impl Distinct {
    fn new(column: String) -> Self {
        Distinct {
            column,
            values: BTreeMap::new(),
            high: false,
        }
    }

    fn insert(&mut self, value: KeyValue) {
        if self.high {
            return;
        }
        let mut key = Vec::new();
        encode_column(&mut key, &value, Direction::Ascending);
        self.values.entry(key).or_insert(value);
        if self.values.len() > DISTINCT_CAP {
            self.high = true;
            self.values.clear();
        }
    }

    fn finish(self) -> ColumnValues {
        ColumnValues {
            column: self.column,
            high_cardinality: self.high,
            values: self.values.into_values().collect(),
        }
    }
}

/// Accumulates an [`OutputSummary`] as batches are written.
pub struct SummaryTracker {
    spec: SummarySpec,
    rows: u64,
    first: Option<Vec<KeyValue>>,
    last: Vec<KeyValue>,
    time: Option<(Vec<u8>, KeyValue, Vec<u8>, KeyValue)>,
    prefixes: Vec<Vec<KeyValue>>,
    series: u64,
    /// Requested summary columns that are not prefix columns.
    distinct: Vec<Distinct>,
}

impl SummaryTracker {
    /// A tracker for one output, summarizing what `spec` asks for.
    pub fn new(spec: SummarySpec) -> Self {
        let prefix_names: Vec<&str> = spec
            .sort_columns
            .iter()
            .take(spec.prefix_len)
            .map(|(n, _)| n.as_str())
            .collect();
        let mut distinct: Vec<Distinct> = Vec::new();
        for c in &spec.summary_columns {
            if !prefix_names.contains(&c.as_str()) && !distinct.iter().any(|d| &d.column == c) {
                distinct.push(Distinct::new(c.clone()));
            }
        }
        SummaryTracker {
            spec,
            rows: 0,
            first: None,
            last: Vec::new(),
            time: None,
            prefixes: Vec::new(),
            series: 0,
            distinct,
        }
    }

    fn sort_names(&self) -> Vec<String> {
        self.spec
            .sort_columns
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Account for a written batch (it must hold at least the sort columns and the
    /// summary columns) of which `series_starts` rows start a new series. Outputs
    /// are cut only at series transitions, so the series of an output are the
    /// starts counted in it.
    pub fn observe(&mut self, batch: &RecordBatch, series_starts: u64) {
        let n = batch.num_rows();
        if n == 0 {
            return;
        }
        self.observe_parts((batch, 0), (batch, n - 1), n, series_starts, |name| {
            batch.column_by_name(name).cloned()
        });
    }

    /// As [`observe`](Self::observe) for rows gathered from source batches: only
    /// the time and summary columns are gathered.
    pub fn observe_rows(&mut self, rows: &super::Rows, series_starts: u64) {
        let g = match rows {
            super::Rows::Batch(b) => return self.observe(b, series_starts),
            super::Rows::Gathered(g) => g,
        };
        let n = g.num_rows();
        let (Some(first), Some(last)) = (g.row(0), g.row(n.saturating_sub(1))) else {
            return;
        };
        self.observe_parts(first, last, n, series_starts, |name| {
            g.index_of(name).and_then(|i| g.column(i).ok())
        });
    }

    fn observe_parts(
        &mut self,
        first: (&RecordBatch, usize),
        last: (&RecordBatch, usize),
        n: usize,
        series_starts: u64,
        column: impl Fn(&str) -> Option<ArrayRef>,
    ) {
        let names = self.sort_names();
        if self.first.is_none() {
            self.first = Some(row_values(first.0, &names, first.1));
        }
        self.last = row_values(last.0, &names, last.1);
        self.rows += n as u64;
        self.series += series_starts;
        for d in &mut self.distinct {
            if let Some(col) = column(&d.column) {
                for start in run_starts(std::slice::from_ref(&col)) {
                    if let Ok(v) = crate::key::value_at(col.as_ref(), start) {
                        d.insert(v);
                    }
                }
            }
        }
        let time = self.spec.time_column.as_deref().and_then(&column);
        if let Some((lo, hi)) = time.as_ref().and_then(time_bounds) {
            let key = |v: &KeyValue| {
                let mut k = Vec::new();
                encode_column(&mut k, v, Direction::Ascending);
                k
            };
            let (lo_k, hi_k) = (key(&lo), key(&hi));
            match &mut self.time {
                None => self.time = Some((lo_k, lo, hi_k, hi)),
                Some(t) => {
                    if lo_k < t.0 {
                        (t.0, t.1) = (lo_k, lo);
                    }
                    if hi_k > t.2 {
                        (t.2, t.3) = (hi_k, hi);
                    }
                }
            }
        }
    }

    /// Record a region's prefix values (deduplicated against the previous one).
    pub fn note_prefix(&mut self, values: &[KeyValue]) {
        if self.prefixes.last().map(Vec::as_slice) != Some(values) {
            self.prefixes.push(values.to_vec());
        }
    }

    fn key(&self, values: Option<Vec<KeyValue>>) -> Option<SortKey> {
        let values = values?;
        let mut bytes = Vec::new();
        for (v, (_, dir)) in values.iter().zip(&self.spec.sort_columns) {
            encode_column(&mut bytes, v, *dir);
        }
        let hex = crate::key::to_hex(&bytes);
        Some(SortKey { values, hex })
    }

    /// The finished summary.
    pub fn finish(mut self, path: PathBuf, row_groups: usize, bytes: u64) -> OutputSummary {
        let mut columns = Vec::new();
        for (i, (name, _)) in self
            .spec
            .sort_columns
            .iter()
            .take(self.spec.prefix_len)
            .enumerate()
        {
            let mut d = Distinct::new(name.clone());
            for p in &self.prefixes {
                if let Some(v) = p.get(i) {
                    d.insert(v.clone());
                }
            }
            columns.push(d.finish());
        }
        columns.extend(
            std::mem::take(&mut self.distinct)
                .into_iter()
                .map(Distinct::finish),
        );
        let last = (self.rows > 0).then(|| std::mem::take(&mut self.last));
        let first = self.first.take();
        OutputSummary {
            path,
            rows: self.rows,
            bytes,
            row_groups,
            first_key: self.key(first),
            last_key: self.key(last),
            time_min: self.time.as_ref().map(|t| t.1.clone()),
            time_max: self.time.take().map(|t| t.3),
            prefixes: std::mem::take(&mut self.prefixes),
            series: self.series,
            columns,
        }
    }
}

/// Start rows of the runs of equal values (over all `columns` together).
fn run_starts(columns: &[ArrayRef]) -> Vec<usize> {
    match arrow_ord::partition::partition(columns) {
        Ok(p) => p.ranges().into_iter().map(|r| r.start).collect(),
        // A type the kernel cannot compare: every row is its own run.
        Err(_) => (0..columns.first().map_or(0, |c| c.len())).collect(),
    }
}

/// Smallest and largest non-null value of a time column (integer-like types).
fn time_bounds(array: &ArrayRef) -> Option<(KeyValue, KeyValue)> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int64Type, UInt64Type};
    use arrow_schema::DataType;
    let dt = array.data_type();
    if dt.is_unsigned_integer() {
        let a = arrow_cast::cast(array, &DataType::UInt64).ok()?;
        let a = a.as_primitive::<UInt64Type>();
        let lo = a.iter().flatten().min()?;
        let hi = a.iter().flatten().max()?;
        return Some((KeyValue::UInt(lo), KeyValue::UInt(hi)));
    }
    let integer_like = dt.is_signed_integer()
        || matches!(
            dt,
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64
        );
    if !integer_like {
        return None;
    }
    let a = arrow_cast::cast(array, &DataType::Int64).ok()?;
    let a = a.as_primitive::<Int64Type>();
    let lo = a.iter().flatten().min()?;
    let hi = a.iter().flatten().max()?;
    Some((KeyValue::Int(lo), KeyValue::Int(hi)))
}
