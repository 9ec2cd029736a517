//! The legacy adapter (docs/architecture.md): presents an input whose row groups are not
//! aligned to the target prefix length (P = 0 legacy files cut by row count, or a
//! file whose claim is being re-derived) as virtual regions: runs of rows sharing
//! one prefix key, which may cross physical row groups. Only the prefix columns are
//! read, the prefix order is checked as it goes, and nothing is re-encoded.

use super::column::read_row_group_columns;
use super::prefix::encode_values;
use super::InputFile;
use crate::key::{value_at, Disorder, KeyValue, PrefixKey};
use crate::write::sort_converter;
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_row::OwnedRow;

/// Rows `first_row .. first_row + rows` of an input share one prefix key.
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualRegion {
    /// The encoded prefix key of these rows.
    pub key: PrefixKey,
    /// The prefix values, one per prefix column.
    pub values: Vec<KeyValue>,
    /// Row number within the whole file.
    pub first_row: u64,
    /// Number of rows.
    pub rows: u64,
}

/// Scan the first `prefix_len` sort columns of `input` and cut it into virtual
/// regions. Fails with [`Error::Unsorted`], naming the file, row group and row, at
/// the first row whose prefix sorts before the previous row's.
pub fn scan_virtual_regions(input: &InputFile, prefix_len: usize) -> Result<Vec<VirtualRegion>> {
    let sort = input.sort_schema();
    if prefix_len > sort.columns.len() {
        return Err(Error::InvalidArgument(format!(
            "prefix length {prefix_len} exceeds the {} sort columns of {}",
            sort.columns.len(),
            input.path.display()
        )));
    }
    let schema = input.metadata.schema();
    let (converter, fields) = sort_converter(sort, schema, prefix_len)?;
    let names: Vec<&str> = sort.column_names().take(prefix_len).collect();
    if fields.is_empty() {
        // Every prefix column is absent (all-null, SS-3): one region of all rows.
        let values = vec![KeyValue::Null; prefix_len];
        let rows = input.num_rows();
        return Ok((rows > 0)
            .then(|| VirtualRegion {
                key: encode_values(input, &values),
                values,
                first_row: 0,
                rows,
            })
            .into_iter()
            .collect());
    }
    let mut regions: Vec<VirtualRegion> = Vec::new();
    let mut current: Option<OwnedRow> = None;
    let mut file_row = 0u64;
    let values_at = |batch: &RecordBatch, row: usize| -> Result<Vec<KeyValue>> {
        names
            .iter()
            .map(|n| match batch.column_by_name(n) {
                Some(c) => value_at(c.as_ref(), row).map_err(|e| Error::arrow(&input.path, e)),
                None => Ok(KeyValue::Null),
            })
            .collect()
    };
    for rg in &input.row_groups {
        if rg.rows == 0 {
            continue;
        }
        let mut row_in_rg = 0u64;
        for batch in read_row_group_columns(input, rg.index, &fields)? {
            let batch = batch.map_err(|e| Error::arrow(&input.path, e))?;
            let columns: Vec<_> = fields
                .iter()
                .map(|&i| batch.column_by_name(schema.field(i).name()).cloned())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Error::InvalidData(format!(
                        "{}: prefix column missing in data",
                        input.path.display()
                    ))
                })?;
            let rows = converter
                .convert_columns(&columns)
                .map_err(|e| Error::arrow(&input.path, e))?;
            let mut run_start = 0usize;
            for i in 0..rows.num_rows() {
                let row = rows.row(i);
                let changed = match &current {
                    None => true,
                    Some(prev) if row == prev.row() => false,
                    Some(prev) if row < prev.row() => {
                        let disorder = Disorder {
                            row: i,
                            previous: regions.last().map(|r| r.values.clone()).unwrap_or_default(),
                            current: values_at(&batch, i)?,
                        };
                        let location =
                            format!("row group {}, row {}", rg.index, row_in_rg + i as u64);
                        return Err(Error::unsorted(&input.path, location, &disorder, sort));
                    }
                    Some(_) => true,
                };
                if changed {
                    if let Some(last) = regions.last_mut() {
                        last.rows += (i - run_start) as u64;
                    }
                    run_start = i;
                    let values = values_at(&batch, i)?;
                    regions.push(VirtualRegion {
                        key: encode_values(input, &values),
                        values,
                        first_row: file_row + row_in_rg + i as u64,
                        rows: 0,
                    });
                    current = Some(row.owned());
                }
            }
            if let Some(last) = regions.last_mut() {
                last.rows += (rows.num_rows() - run_start) as u64;
            }
            row_in_rg += batch.num_rows() as u64;
        }
        file_row += rg.rows;
    }
    Ok(regions)
}
