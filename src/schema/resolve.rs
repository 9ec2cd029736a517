//! Binding a sort schema to one file's Arrow schema.

use super::kind::is_orderable;
use super::sort_schema::{Direction, SortSchema};
use crate::{Error, Result};
use arrow_schema::{DataType, Schema};
use std::path::Path;

/// A sort column located in a concrete Arrow schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedColumn {
    /// The column's name.
    pub name: String,
    /// Its direction in the sort schema.
    pub direction: Direction,
    /// Index of the top-level field, or `None` when the file lacks the column
    /// (it is then all-null, SS-3).
    pub field_index: Option<usize>,
    /// Arrow type of the column, `None` when absent.
    pub data_type: Option<DataType>,
}

/// Locate every sort column in `arrow`; absent columns are all-null (SS-3); a
/// present column of an unorderable type is an error naming the file and column.
pub fn resolve(sort: &SortSchema, arrow: &Schema, path: &Path) -> Result<Vec<ResolvedColumn>> {
    resolve_columns(sort, arrow).map_err(|(column, data_type)| Error::UnorderableColumn {
        path: path.to_path_buf(),
        column,
        data_type: data_type.to_string(),
    })
}

/// [`resolve`] for record batches in memory (no file): an unorderable sort column is
/// invalid input data.
pub fn resolve_batch(sort: &SortSchema, arrow: &Schema) -> Result<Vec<ResolvedColumn>> {
    resolve_columns(sort, arrow).map_err(|(column, data_type)| {
        Error::InvalidData(format!(
            "batch sort column '{column}' has type {data_type} which cannot be ordered"
        ))
    })
}

/// The resolved columns, or the name and type of the first unorderable one.
fn resolve_columns(
    sort: &SortSchema,
    arrow: &Schema,
) -> std::result::Result<Vec<ResolvedColumn>, (String, DataType)> {
    sort.columns
        .iter()
        .map(|c| {
            let found = arrow.index_of(&c.name).ok();
            let data_type = found.map(|i| arrow.field(i).data_type().clone());
            if let Some(dt) = &data_type {
                if !is_orderable(dt) {
                    return Err((c.name.clone(), dt.clone()));
                }
            }
            Ok(ResolvedColumn {
                name: c.name.clone(),
                direction: c.direction,
                field_index: found,
                data_type,
            })
        })
        .collect()
}
