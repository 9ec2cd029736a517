//! Stable in-memory sort of a batch by a sort schema (nulls last).

use crate::key::sort_converter;
use crate::schema::SortSchema;
use crate::{Error, Result};
use arrow_array::{RecordBatch, UInt32Array};

/// Sort `batch` stably by `sort` (ties keep their input order).
pub fn sort_batch(batch: &RecordBatch, sort: &SortSchema) -> Result<RecordBatch> {
    let n = batch.num_rows();
    if u32::try_from(n).is_err() {
        return Err(Error::InvalidData(format!(
            "{n} rows exceed one in-memory sort"
        )));
    }
    let (converter, indices) = sort_converter(sort, &batch.schema(), usize::MAX, None)?;
    if indices.is_empty() {
        return Ok(batch.clone());
    }
    let columns: Vec<_> = indices.iter().map(|&i| batch.column(i).clone()).collect();
    let rows = converter
        .convert_columns(&columns)
        .map_err(|e| Error::InvalidData(e.to_string()))?;
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
    let order = UInt32Array::from(order);
    arrow_select::take::take_record_batch(batch, &order)
        .map_err(|e| Error::InvalidData(e.to_string()))
}
