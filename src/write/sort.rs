//! Stable in-memory sort of a batch by a sort schema (nulls last).

use crate::schema::{resolve, SortSchema};
use crate::{Error, Result};
use arrow_array::{RecordBatch, UInt32Array};
use arrow_row::{RowConverter, SortField};
use arrow_schema::SortOptions;
use std::path::Path;

/// Build a row converter over the sort columns present in `schema` (absent ones are
/// all-null and never change the order); also returns their field indices.
pub fn sort_converter(
    sort: &SortSchema,
    schema: &arrow_schema::Schema,
    take: usize,
) -> Result<(RowConverter, Vec<usize>)> {
    let resolved = resolve(sort, schema, Path::new("<batch>"))?;
    let mut fields = Vec::new();
    let mut indices = Vec::new();
    for c in resolved.iter().take(take) {
        if let (Some(i), Some(dt)) = (c.field_index, &c.data_type) {
            let options = SortOptions {
                descending: c.direction.is_descending(),
                nulls_first: false,
            };
            fields.push(SortField::new_with_options(dt.clone(), options));
            indices.push(i);
        }
    }
    let converter = RowConverter::new(fields)
        .map_err(|e| Error::InvalidData(format!("sort columns not comparable: {e}")))?;
    Ok((converter, indices))
}

/// Sort `batch` stably by `sort` (ties keep their input order).
pub fn sort_batch(batch: &RecordBatch, sort: &SortSchema) -> Result<RecordBatch> {
    let n = batch.num_rows();
    if u32::try_from(n).is_err() {
        return Err(Error::InvalidData(format!(
            "{n} rows exceed one in-memory sort"
        )));
    }
    let (converter, indices) = sort_converter(sort, &batch.schema(), usize::MAX)?;
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
