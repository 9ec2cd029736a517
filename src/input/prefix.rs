//! Prefix keys of row groups: from statistics when they are exact, otherwise by
//! reading the prefix columns (truncated or missing statistics, float columns).

use super::column::read_row_group_columns;
use super::file::{InputFile, RowGroupInfo};
use crate::key::{encode_column, value_at, KeyValue, PrefixKey, ValueKind};
use crate::{Error, Result};
use arrow_array::{Array, ArrayRef};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use serde::Serialize;

/// How a row group's prefix key was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeySource {
    /// Exact min == max statistics.
    Statistics,
    /// The prefix column(s) were read.
    Data,
}

/// The first row of a row group whose prefix differs from the row group's first row
/// (a PA-1 violation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixedPrefix {
    /// Row number within the row group.
    pub row: u64,
    /// Its prefix values.
    pub values: Vec<KeyValue>,
}

/// A row group's prefix key: the prefix of its first row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowGroupPrefix {
    /// The encoded prefix key.
    pub key: PrefixKey,
    /// The prefix values, one per prefix column.
    pub values: Vec<KeyValue>,
    /// Whether the key came from statistics or from reading the column.
    pub source: KeySource,
    /// Set when the row group holds more than one prefix value.
    pub mixed: Option<MixedPrefix>,
}

/// What statistics say about one prefix column in one row group.
enum StatValue {
    Known(KeyValue),
    Unknown,
}

pub(super) fn row_group_infos(input: &InputFile) -> Result<Vec<RowGroupInfo>> {
    let meta = input.metadata.metadata();
    let p = input.prefix_len();
    let stats = (0..p)
        .map(|c| column_stats(input, c))
        .collect::<Result<Vec<_>>>()?;
    meta.row_groups()
        .iter()
        .enumerate()
        .map(|(index, rg)| {
            let rows = u64::try_from(rg.num_rows()).unwrap_or(0);
            let bytes = u64::try_from(rg.compressed_size()).unwrap_or(0);
            let prefix = if p == 0 {
                None
            } else {
                let known: Option<Vec<KeyValue>> = stats
                    .iter()
                    .map(|s| match &s[index] {
                        StatValue::Known(v) => Some(v.clone()),
                        StatValue::Unknown => None,
                    })
                    .collect();
                Some(match known {
                    Some(values) if rows > 0 => RowGroupPrefix {
                        key: encode_values(input, &values),
                        values,
                        source: KeySource::Statistics,
                        mixed: None,
                    },
                    _ => scan_prefix(input, index)?,
                })
            };
            Ok(RowGroupInfo {
                index,
                rows,
                bytes,
                prefix,
            })
        })
        .collect()
}

/// Encode prefix values with the directions of `input`'s sort columns.
pub(crate) fn encode_values(input: &InputFile, values: &[KeyValue]) -> PrefixKey {
    let mut key = Vec::new();
    for (v, c) in values.iter().zip(&input.sort_columns) {
        encode_column(&mut key, v, c.direction);
    }
    PrefixKey(key)
}

/// Per row group, what statistics prove about prefix column `c`.
fn column_stats(input: &InputFile, c: usize) -> Result<Vec<StatValue>> {
    let meta = input.metadata.metadata();
    let n = meta.num_row_groups();
    let col = &input.sort_columns[c];
    let Some(dt) = &col.data_type else {
        // Absent column: all-null (SS-3).
        return Ok((0..n).map(|_| StatValue::Known(KeyValue::Null)).collect());
    };
    if matches!(
        ValueKind::of(dt),
        Some(ValueKind::Float32 | ValueKind::Float64)
    ) {
        // Statistics exclude NaN, so they cannot prove a float column constant.
        return Ok((0..n).map(|_| StatValue::Unknown).collect());
    }
    let converter = match StatisticsConverter::try_new(
        &col.name,
        input.metadata.schema(),
        meta.file_metadata().schema_descr(),
    ) {
        Ok(c) => c.with_missing_null_counts_as_zero(false),
        Err(_) => return Ok((0..n).map(|_| StatValue::Unknown).collect()),
    };
    let rgs = || meta.row_groups().iter();
    let arrays = (|| -> parquet::errors::Result<_> {
        Ok((
            converter.row_group_mins(rgs())?,
            converter.row_group_maxes(rgs())?,
            converter.row_group_null_counts(rgs())?,
            converter.row_group_is_min_value_exact(rgs())?,
            converter.row_group_is_max_value_exact(rgs())?,
        ))
    })();
    let Ok((mins, maxes, nulls, min_exact, max_exact)) = arrays else {
        return Ok((0..n).map(|_| StatValue::Unknown).collect());
    };
    let dir = col.direction;
    Ok((0..n)
        .map(|i| {
            let rows = u64::try_from(meta.row_group(i).num_rows()).unwrap_or(0);
            let null_count = (i < nulls.len() && nulls.is_valid(i)).then(|| nulls.value(i));
            if rows > 0 && null_count == Some(rows) {
                return StatValue::Known(KeyValue::Null);
            }
            let exact = i < min_exact.len()
                && i < max_exact.len()
                && min_exact.is_valid(i)
                && max_exact.is_valid(i)
                && min_exact.value(i)
                && max_exact.value(i);
            if null_count != Some(0) || !exact {
                return StatValue::Unknown;
            }
            match (stat_value(&mins, i), stat_value(&maxes, i)) {
                (Some(min), Some(max)) => {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    encode_column(&mut a, &min, dir);
                    encode_column(&mut b, &max, dir);
                    if a == b && min != KeyValue::Null {
                        StatValue::Known(min)
                    } else {
                        StatValue::Unknown
                    }
                }
                _ => StatValue::Unknown,
            }
        })
        .collect())
}

fn stat_value(array: &ArrayRef, i: usize) -> Option<KeyValue> {
    value_at(array.as_ref(), i).ok()
}

/// Read the prefix columns of one row group: the key of its first row, and the
/// first row whose prefix differs, if any.
fn scan_prefix(input: &InputFile, rg: usize) -> Result<RowGroupPrefix> {
    let p = input.prefix_len();
    let prefix_cols = &input.sort_columns[..p];
    let present: Vec<usize> = prefix_cols.iter().filter_map(|c| c.field_index).collect();
    let mut first: Option<(Vec<u8>, Vec<KeyValue>)> = None;
    let mut mixed = None;
    let mut row_base = 0u64;
    if !present.is_empty() {
        let reader = read_row_group_columns(input, rg, &present)?;
        'scan: for batch in reader {
            let batch = batch.map_err(|e| Error::arrow(&input.path, e))?;
            // Columns of the batch in prefix order (None for absent columns).
            let columns: Vec<Option<&ArrayRef>> = prefix_cols
                .iter()
                .map(|c| c.field_index.and_then(|_| batch.column_by_name(&c.name)))
                .collect();
            for row in 0..batch.num_rows() {
                let values = columns
                    .iter()
                    .map(|col| match col {
                        Some(a) => value_at(a.as_ref(), row),
                        None => Ok(KeyValue::Null),
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| Error::arrow(&input.path, e))?;
                let key = encode_values(input, &values).0;
                match &first {
                    None => first = Some((key, values)),
                    Some((k, _)) if *k != key => {
                        mixed = Some(MixedPrefix {
                            row: row_base + row as u64,
                            values,
                        });
                        break 'scan;
                    }
                    Some(_) => {}
                }
            }
            row_base += batch.num_rows() as u64;
        }
    }
    let (key, values) = first.unwrap_or_else(|| {
        let values = vec![KeyValue::Null; p];
        (encode_values(input, &values).0, values)
    });
    Ok(RowGroupPrefix {
        key: PrefixKey(key),
        values,
        source: KeySource::Data,
        mixed,
    })
}
