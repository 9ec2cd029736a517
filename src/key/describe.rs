//! Sort-column values of a row, and their `col=value` rendering for messages.

use super::value::{value_at, KeyValue};

/// The values of the named columns at `row` (null for a column the batch lacks or
/// cannot be read as a sort value).
pub fn row_values<S: AsRef<str>>(
    batch: &arrow_array::RecordBatch,
    names: &[S],
    row: usize,
) -> Vec<KeyValue> {
    names
        .iter()
        .map(|n| {
            batch
                .column_by_name(n.as_ref())
                .and_then(|c| value_at(c.as_ref(), row).ok())
                .unwrap_or(KeyValue::Null)
        })
        .collect()
}

/// `col=value, ...` of one row of the named columns.
pub fn describe_row<S: AsRef<str>>(
    batch: &arrow_array::RecordBatch,
    names: &[S],
    row: usize,
) -> String {
    let refs: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    describe(&refs, &row_values(batch, names, row))
}

/// Render decoded values as `col=value, col=value`.
pub fn describe(names: &[&str], values: &[KeyValue]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
