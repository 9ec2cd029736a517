//! Conversion between a [`SortSchema`] and Parquet's standard `sorting_columns`
//! (what DataFusion, DuckDB and Spark write).

use super::sort_schema::{Direction, SortColumn, SortSchema};
use crate::{Error, Result};
use parquet::file::metadata::SortingColumn;
use parquet::schema::types::SchemaDescriptor;
use std::path::Path;

/// Build a sort schema from `sorting_columns`. Nulls-first columns are rejected:
/// prefix-merge orders nulls last.
pub fn from_sorting_columns(
    sorting: &[SortingColumn],
    parquet: &SchemaDescriptor,
    path: &Path,
) -> Result<SortSchema> {
    let bad = |reason: String| Error::BadMetadata {
        path: path.to_path_buf(),
        key: "sorting_columns".into(),
        value: describe_sorting_columns(sorting, parquet),
        reason,
    };
    if sorting.is_empty() {
        return Err(bad("empty".into()));
    }
    let mut columns = Vec::with_capacity(sorting.len());
    for s in sorting {
        let idx = usize::try_from(s.column_idx)
            .ok()
            .filter(|&i| i < parquet.num_columns())
            .ok_or_else(|| bad(format!("column index {} out of range", s.column_idx)))?;
        let name = parquet.column(idx).path().string();
        if s.nulls_first {
            return Err(bad(format!(
                "column '{name}' sorts nulls first; only nulls-last is supported"
            )));
        }
        let direction = if s.descending {
            Direction::Descending
        } else {
            Direction::Ascending
        };
        columns.push(SortColumn::with_direction(name, direction));
    }
    Ok(SortSchema::new(columns))
}

/// Express a sort schema as `sorting_columns` for a file with the given Parquet
/// schema. Stops at the first sort column the file lacks: the listed prefix of the
/// order is then still true.
pub fn to_sorting_columns(sort: &SortSchema, parquet: &SchemaDescriptor) -> Vec<SortingColumn> {
    let mut out = Vec::new();
    for c in &sort.columns {
        let found =
            (0..parquet.num_columns()).find(|&i| parquet.column(i).path().string() == c.name);
        let Some(idx) = found.and_then(|i| i32::try_from(i).ok()) else {
            break;
        };
        out.push(SortingColumn {
            column_idx: idx,
            descending: c.direction.is_descending(),
            nulls_first: false,
        });
    }
    out
}

/// `name asc, name desc nulls first, ...` of Parquet `sorting_columns`, for messages
/// (an index outside the schema shows as `#index`).
pub fn describe_sorting_columns(sorting: &[SortingColumn], parquet: &SchemaDescriptor) -> String {
    sorting
        .iter()
        .map(|s| {
            let name = usize::try_from(s.column_idx)
                .ok()
                .filter(|&i| i < parquet.num_columns())
                .map(|i| parquet.column(i).path().string())
                .unwrap_or_else(|| format!("#{}", s.column_idx));
            let dir = if s.descending { "desc" } else { "asc" };
            let nulls = if s.nulls_first { " nulls first" } else { "" };
            format!("{name} {dir}{nulls}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
