//! Per-output summary: rows, row groups, bytes, first and last sort key, time
//! range and distinct prefix values.

use crate::key::{describe, row_values, KeyValue};
use arrow_array::{ArrayRef, RecordBatch};
use serde::Serialize;
use std::path::PathBuf;

/// What one output file holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputSummary {
    pub path: PathBuf,
    pub rows: u64,
    pub row_groups: usize,
    pub bytes: u64,
    /// Decoded sort key of the first row, e.g. `metric_name="cpu", host="a", ...`.
    pub first_key: String,
    /// Decoded sort key of the last row.
    pub last_key: String,
    /// Smallest and largest value of the time column, when there is one.
    pub time_min: Option<KeyValue>,
    pub time_max: Option<KeyValue>,
    /// Distinct prefix values, in order (empty when P = 0).
    pub prefixes: Vec<String>,
}

/// Accumulates an [`OutputSummary`] as batches are written.
pub struct SummaryTracker {
    sort_names: Vec<String>,
    time_column: Option<String>,
    rows: u64,
    first: Option<Vec<KeyValue>>,
    last: Vec<KeyValue>,
    time: Option<(Vec<u8>, KeyValue, Vec<u8>, KeyValue)>,
    prefixes: Vec<String>,
}

impl SummaryTracker {
    pub fn new(sort_names: Vec<String>, time_column: Option<String>) -> Self {
        SummaryTracker {
            sort_names,
            time_column,
            rows: 0,
            first: None,
            last: Vec::new(),
            time: None,
            prefixes: Vec::new(),
        }
    }

    fn row_values(&self, batch: &RecordBatch, row: usize) -> Vec<KeyValue> {
        row_values(batch, &self.sort_names, row)
    }

    /// Account for a written batch.
    pub fn observe(&mut self, batch: &RecordBatch) {
        let n = batch.num_rows();
        if n == 0 {
            return;
        }
        if self.first.is_none() {
            self.first = Some(self.row_values(batch, 0));
        }
        self.last = self.row_values(batch, n - 1);
        self.rows += n as u64;
        let time = self
            .time_column
            .as_deref()
            .and_then(|t| batch.column_by_name(t));
        if let Some((lo, hi)) = time.and_then(time_bounds) {
            let key = |v: &KeyValue| {
                let mut k = Vec::new();
                crate::key::encode_column(&mut k, v, crate::Direction::Ascending);
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
    pub fn note_prefix(&mut self, values: &str) {
        if self.prefixes.last().map(String::as_str) != Some(values) {
            self.prefixes.push(values.to_string());
        }
    }

    /// The finished summary.
    pub fn finish(self, path: PathBuf, row_groups: usize, bytes: u64) -> OutputSummary {
        let names: Vec<&str> = self.sort_names.iter().map(String::as_str).collect();
        OutputSummary {
            path,
            rows: self.rows,
            row_groups,
            bytes,
            first_key: self.first.map(|v| describe(&names, &v)).unwrap_or_default(),
            last_key: describe(&names, &self.last),
            time_min: self.time.as_ref().map(|t| t.1.clone()),
            time_max: self.time.map(|t| t.3),
            prefixes: self.prefixes,
        }
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
