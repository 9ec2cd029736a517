//! PA-1 from the data: every row a region member yields must carry the region's
//! prefix. Regions are planned from statistics (or the legacy adapter's scan); a
//! file whose data contradicts its statistics would otherwise be merged into
//! unsorted output without an error.

use crate::key::{describe, encode_column, row_values, PrefixKey};
use crate::schema::{Direction, SortSchema};
use crate::write::sort_converter;
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_row::RowConverter;
use arrow_schema::Schema;
use std::path::Path;

/// Checks batches of one region against its prefix key.
pub(crate) struct PrefixCheck {
    names: Vec<String>,
    directions: Vec<Direction>,
    converter: RowConverter,
    fields: Vec<String>,
    expected: PrefixKey,
}

impl PrefixCheck {
    /// A check for the first `prefix_len` sort columns, or `None` when P = 0.
    pub fn new(
        sort: &SortSchema,
        prefix_len: usize,
        schema: &Schema,
        expected: &PrefixKey,
    ) -> Result<Option<Self>> {
        if prefix_len == 0 {
            return Ok(None);
        }
        let (converter, indices) = sort_converter(sort, schema, prefix_len)?;
        Ok(Some(PrefixCheck {
            names: sort
                .column_names()
                .take(prefix_len)
                .map(str::to_string)
                .collect(),
            directions: sort
                .columns
                .iter()
                .take(prefix_len)
                .map(|c| c.direction)
                .collect(),
            converter,
            fields: indices
                .iter()
                .map(|&i| schema.field(i).name().clone())
                .collect(),
            expected: expected.clone(),
        }))
    }

    /// Fail with PA-1 at the first row of `batch` whose prefix is not the region's.
    /// `locate` turns a row of the batch into "row group G, row R".
    pub fn check(
        &self,
        batch: &RecordBatch,
        path: &Path,
        locate: impl Fn(usize) -> String,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let fail = |row: usize| {
            let found = describe(
                &self.names.iter().map(String::as_str).collect::<Vec<_>>(),
                &row_values(batch, &self.names, row),
            );
            Error::Alignment {
                path: path.to_path_buf(),
                rule: "PA-1",
                detail: format!(
                    "{}: prefix ({found}) differs from the region's prefix planned from the footer",
                    locate(row)
                ),
            }
        };
        let mut key = Vec::new();
        for (v, d) in row_values(batch, &self.names, 0)
            .iter()
            .zip(&self.directions)
        {
            encode_column(&mut key, v, *d);
        }
        if key != self.expected.0 {
            return Err(fail(0));
        }
        if !self.fields.is_empty() {
            let columns = self
                .fields
                .iter()
                .map(|f| batch.column_by_name(f).cloned())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Error::InvalidData(format!("{}: prefix column missing", path.display()))
                })?;
            let rows = self
                .converter
                .convert_columns(&columns)
                .map_err(|e| Error::arrow(path, e))?;
            if let Some(i) = (1..n).find(|&i| rows.row(i) != rows.row(0)) {
                return Err(fail(i));
            }
        }
        Ok(())
    }
}
