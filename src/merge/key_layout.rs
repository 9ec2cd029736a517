//! The merge key: sort columns after the region's constant prefix, split into
//! the series columns and the time column (the series: docs/contract.md), and
//! encoded per batch as [`MergeKeys`].

use super::keys::{KeyColumns, MergeKeys, SeriesIds};
use crate::schema::SortSchema;
use crate::{Error, Result};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{ArrowError, Schema, SortOptions};

/// Key columns of one part of the key (series or time): unified-schema indices,
/// names (for batches that hold only some columns) and their converter.
struct Part {
    converter: RowConverter,
    fields: Vec<usize>,
    names: Vec<String>,
}

impl Part {
    fn new(
        fields: Vec<SortField>,
        indices: Vec<usize>,
        names: Vec<String>,
    ) -> Result<Option<Self>> {
        if fields.is_empty() {
            return Ok(None);
        }
        let converter = RowConverter::new(fields)
            .map_err(|e| Error::InvalidData(format!("sort columns cannot be compared: {e}")))?;
        Ok(Some(Part {
            converter,
            fields: indices,
            names,
        }))
    }

    fn columns(&self, batch: &RecordBatch) -> Vec<ArrayRef> {
        self.fields
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect()
    }

    fn named_columns(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>, ArrowError> {
        self.names
            .iter()
            .map(|n| {
                batch
                    .column_by_name(n)
                    .cloned()
                    .ok_or_else(|| ArrowError::SchemaError(format!("key column '{n}' missing")))
            })
            .collect()
    }
}

/// How rows of the unified schema turn into comparable merge keys.
pub(crate) struct KeyLayout {
    /// The series columns after the prefix that the schema has (`None`: none).
    series: Option<Part>,
    /// The time column, if the sort schema has one and the schema holds it.
    time: Option<Part>,
    /// The sort schema (what SS-1 messages show).
    sort: SortSchema,
}

impl KeyLayout {
    pub fn new(sort: &SortSchema, prefix_len: usize, schema: &Schema) -> Result<Self> {
        let series_len = sort.series_len();
        let mut parts: [(Vec<SortField>, Vec<usize>, Vec<String>); 2] = Default::default();
        for (pos, c) in sort.columns.iter().enumerate().skip(prefix_len) {
            let Ok(i) = schema.index_of(&c.name) else {
                continue;
            };
            let dt = schema.field(i).data_type();
            let options = SortOptions {
                descending: c.direction.is_descending(),
                nulls_first: false,
            };
            let is_time = pos >= series_len;
            if is_time && dt.primitive_width().is_none() {
                return Err(Error::InvalidData(format!(
                    "time column '{}' has type {dt}; a fixed-width type is required",
                    c.name
                )));
            }
            let part = &mut parts[usize::from(is_time)];
            part.0
                .push(SortField::new_with_options(dt.clone(), options));
            part.1.push(i);
            part.2.push(c.name.clone());
        }
        let [series, time] = parts;
        Ok(KeyLayout {
            series: Part::new(series.0, series.1, series.2)?,
            time: Part::new(time.0, time.1, time.2)?,
            sort: sort.clone(),
        })
    }

    /// Merge keys of a unified-schema batch.
    pub fn convert(
        &self,
        batch: &RecordBatch,
        ids: Option<&mut SeriesIds>,
    ) -> Result<MergeKeys, ArrowError> {
        MergeKeys::build(KeyColumns {
            ids,
            series: self
                .series
                .as_ref()
                .map(|p| (&p.converter, p.columns(batch))),
            time: self
                .time
                .as_ref()
                .and_then(|p| Some((&p.converter, p.columns(batch).pop()?))),
            len: batch.num_rows(),
        })
    }

    /// Merge keys of a batch holding (at least) the key columns, found by name.
    pub fn convert_named(&self, batch: &RecordBatch) -> Result<MergeKeys, ArrowError> {
        let series = match &self.series {
            Some(p) => Some((&p.converter, p.named_columns(batch)?)),
            None => None,
        };
        let time = match &self.time {
            Some(p) => p.named_columns(batch)?.pop().map(|c| (&p.converter, c)),
            None => None,
        };
        MergeKeys::build(KeyColumns {
            ids: None,
            series,
            time,
            len: batch.num_rows(),
        })
    }

    /// The sort schema the keys follow.
    pub fn sort(&self) -> &SortSchema {
        &self.sort
    }
}
