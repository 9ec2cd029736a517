//! Binding a sort schema to one file's Arrow schema.

use super::{Direction, SortSchema};
use crate::key::is_orderable;
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
    sort.columns
        .iter()
        .map(|c| {
            let found = arrow.index_of(&c.name).ok();
            let data_type = found.map(|i| arrow.field(i).data_type().clone());
            if let Some(dt) = &data_type {
                if !is_orderable(dt) {
                    return Err(Error::UnorderableColumn {
                        path: path.to_path_buf(),
                        column: c.name.clone(),
                        data_type: dt.to_string(),
                    });
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
