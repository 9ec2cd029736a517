//! The merge key: sort columns after the region's constant prefix, encoded as
//! arrow `Rows`; and where in a row the series ends (the series: docs/contract.md).

use crate::schema::SortSchema;
use crate::{Error, Result};
use arrow_array::{ArrayRef, NullArray, RecordBatch};
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::{ArrowError, DataType, Schema, SortOptions};
use std::sync::Arc;

/// How rows of the unified schema turn into comparable merge keys.
pub(crate) struct KeyLayout {
    converter: RowConverter,
    /// Unified-schema indices of the key columns (sort columns P..n present).
    fields: Vec<usize>,
    /// Names of the key columns, for batches that hold only some columns.
    field_names: Vec<String>,
    /// Bytes at the end of every row that hold the time column (0: none), so
    /// `row[..len - tail]` identifies the series.
    tail: usize,
    /// The sort schema (what SS-1 messages show).
    sort: SortSchema,
}

impl KeyLayout {
    pub fn new(sort: &SortSchema, prefix_len: usize, schema: &Schema) -> Result<Self> {
        let mut sort_fields = Vec::new();
        let mut fields = Vec::new();
        let mut field_names = Vec::new();
        let series_len = sort.series_len();
        let mut tail = 0;
        for (pos, c) in sort.columns.iter().enumerate().skip(prefix_len) {
            let Ok(i) = schema.index_of(&c.name) else {
                continue;
            };
            let dt = schema.field(i).data_type();
            let options = SortOptions {
                descending: c.direction.is_descending(),
                nulls_first: false,
            };
            sort_fields.push(SortField::new_with_options(dt.clone(), options));
            fields.push(i);
            field_names.push(c.name.clone());
            if pos >= series_len {
                let width = dt.primitive_width().ok_or_else(|| {
                    Error::InvalidData(format!(
                        "time column '{}' has type {dt}; a fixed-width type is required",
                        c.name
                    ))
                })?;
                tail = 1 + width;
            }
        }
        if sort_fields.is_empty() {
            sort_fields.push(SortField::new(DataType::Null));
        }
        let converter = RowConverter::new(sort_fields)
            .map_err(|e| Error::InvalidData(format!("sort columns cannot be compared: {e}")))?;
        Ok(KeyLayout {
            converter,
            fields,
            field_names,
            tail,
            sort: sort.clone(),
        })
    }

    /// Merge keys of a unified-schema batch.
    pub fn convert(&self, batch: &RecordBatch) -> Result<Rows, ArrowError> {
        let cols: Vec<ArrayRef> = if self.fields.is_empty() {
            vec![Arc::new(NullArray::new(batch.num_rows()))]
        } else {
            self.fields
                .iter()
                .map(|&i| batch.column(i).clone())
                .collect()
        };
        self.converter.convert_columns(&cols)
    }

    /// Merge keys of a batch holding (at least) the key columns, found by name.
    pub fn convert_named(&self, batch: &RecordBatch) -> Result<Rows, ArrowError> {
        let cols: Vec<ArrayRef> = if self.field_names.is_empty() {
            vec![Arc::new(NullArray::new(batch.num_rows()))]
        } else {
            self.field_names
                .iter()
                .map(|n| {
                    batch
                        .column_by_name(n)
                        .cloned()
                        .ok_or_else(|| ArrowError::SchemaError(format!("key column '{n}' missing")))
                })
                .collect::<Result<_, _>>()?
        };
        self.converter.convert_columns(&cols)
    }

    /// The series part of an encoded row.
    pub fn series<'r>(&self, row: &'r [u8]) -> &'r [u8] {
        &row[..row.len().saturating_sub(self.tail)]
    }

    /// The sort schema the keys follow.
    pub fn sort(&self) -> &SortSchema {
        &self.sort
    }
}
