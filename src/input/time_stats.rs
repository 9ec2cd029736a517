//! Per row group bounds of a column (the time column), from the
//! footer's statistics.

use super::file::InputFile;
use crate::key::{value_at, KeyValue};
use arrow_array::{Array, ArrayRef};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;

/// Per row group minimum and maximum of `column` (Arrow arrays, one entry per
/// row group, null where a row group has no statistics), from the footer with
/// statistics; None when the column is not in the file or its statistics
/// cannot be read.
pub fn row_group_min_max(input: &InputFile, column: &str) -> Option<(ArrayRef, ArrayRef)> {
    // The footer with column statistics (the opened input keeps a slim one).
    let meta = input.full_metadata().ok()?;
    let converter = StatisticsConverter::try_new(
        column,
        input.metadata.schema(),
        meta.file_metadata().schema_descr(),
    )
    .ok()?;
    let mins = converter.row_group_mins(meta.row_groups()).ok()?;
    let maxs = converter.row_group_maxes(meta.row_groups()).ok()?;
    Some((mins, maxs))
}

/// Smallest and largest value of `column` in each row group of `input`, in
/// file order (None for a row group without statistics). None when the column
/// is not in the file or its statistics cannot be read. Unsigned values above
/// i64::MAX saturate.
pub fn row_group_int_bounds(input: &InputFile, column: &str) -> Option<Vec<Option<(i64, i64)>>> {
    let (mins, maxs) = row_group_min_max(input, column)?;
    let int = |a: &dyn Array, i: usize| match value_at(a, i).ok()? {
        KeyValue::Int(v) => Some(v),
        KeyValue::UInt(v) => Some(i64::try_from(v).unwrap_or(i64::MAX)),
        _ => None,
    };
    Some(
        (0..mins.len().min(maxs.len()))
            .map(|i| Some((int(mins.as_ref(), i)?, int(maxs.as_ref(), i)?)))
            .collect(),
    )
}
