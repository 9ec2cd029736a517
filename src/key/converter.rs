//! The arrow row converter over a sort schema's columns (nulls last), shared by the
//! writer, the legacy adapter and `verify`.

use crate::schema::{resolve, resolve_batch, SortSchema};
use crate::{Error, Result};
use arrow_row::{RowConverter, SortField};
use arrow_schema::SortOptions;
use std::path::Path;

/// Build a row converter over the first `take` sort columns present in `schema`
/// (absent ones are all-null and never change the order); also returns their field
/// indices. `path` names the file `schema` is from (`None`: batches in memory) in
/// the error for an unorderable sort column.
pub fn sort_converter(
    sort: &SortSchema,
    schema: &arrow_schema::Schema,
    take: usize,
    path: Option<&Path>,
) -> Result<(RowConverter, Vec<usize>)> {
    let resolved = match path {
        Some(path) => resolve(sort, schema, path)?,
        None => resolve_batch(sort, schema)?,
    };
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
