//! PA-1 from the data: every row a region member yields must carry the region's
//! prefix. Regions are planned from statistics (or the legacy adapter's scan); a
//! file whose data contradicts its statistics would otherwise be merged into
//! unsorted output without an error.

use crate::key::{describe, encode_column, row_values, PrefixKey};
use crate::schema::{Direction, SortSchema};
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_schema::Schema;
use std::path::Path;

/// Checks batches of one region against its prefix key.
pub(crate) struct PrefixCheck {
    names: Vec<String>,
    directions: Vec<Direction>,
    expected: PrefixKey,
}

impl PrefixCheck {
    /// A check for the first `prefix_len` sort columns, or `None` when P = 0.
    /// Fails at once when a prefix column is missing from `schema`.
    pub fn new(
        sort: &SortSchema,
        prefix_len: usize,
        schema: &Schema,
        expected: &PrefixKey,
    ) -> Result<Option<Self>> {
        if prefix_len == 0 {
            return Ok(None);
        }
        let names: Vec<String> = sort
            .column_names()
            .take(prefix_len)
            .map(str::to_string)
            .collect();
        if let Some(missing) = names.iter().find(|n| schema.index_of(n).is_err()) {
            return Err(Error::InvalidData(format!(
                "prefix column {missing} is not in the merged schema"
            )));
        }
        Ok(Some(PrefixCheck {
            names,
            directions: sort
                .columns
                .iter()
                .take(prefix_len)
                .map(|c| c.direction)
                .collect(),
            expected: expected.clone(),
        }))
    }

    /// The encoded prefix of `row` of `batch`.
    fn key(&self, batch: &RecordBatch, row: usize) -> Vec<u8> {
        let mut key = Vec::new();
        for (v, d) in row_values(batch, &self.names, row)
            .iter()
            .zip(&self.directions)
        {
            encode_column(&mut key, v, *d);
        }
        key
    }

    /// Fail with PA-1 at the first row of `batch` whose prefix is not the region's.
    /// `locate` turns a row of the batch into "row group G, row R". The batch's
    /// rows are in sort order (SS-1, checked by the caller), and the prefix
    /// columns lead the sort key, so its first and last rows decide; the rows
    /// between are looked at only to name the first one that differs.
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
        let expected = &self.expected.0;
        if self.key(batch, 0) == *expected && self.key(batch, n - 1) == *expected {
            return Ok(());
        }
        let row = (0..n)
            .find(|&i| self.key(batch, i) != *expected)
            .unwrap_or(0);
        let found = describe(
            &self.names.iter().map(String::as_str).collect::<Vec<_>>(),
            &row_values(batch, &self.names, row),
        );
        Err(Error::Alignment {
            path: path.to_path_buf(),
            rule: "PA-1",
            detail: format!(
                "{}: prefix ({found}) differs from the region's prefix planned from the footer",
                locate(row)
            ),
        })
    }
}
