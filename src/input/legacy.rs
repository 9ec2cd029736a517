//! The legacy adapter (docs/architecture.md): presents an input whose row groups are not
//! aligned to the target prefix length (P = 0 legacy files cut by row count, or a
//! file whose claim is being re-derived) as virtual regions: runs of rows sharing
//! one prefix key, which may cross physical row groups. Only the prefix columns are
//! read, the prefix order is checked as it goes, and nothing is re-encoded.

use super::column::read_row_group_columns;
use super::file::InputFile;
use super::prefix::encode_values;
use crate::key::{sort_converter, value_at, Disorder, KeyValue, PrefixKey};
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_row::{OwnedRow, RowConverter, Rows};

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
    check_prefix_len(input, prefix_len)?;
    let sort = input.sort_schema();
    let (converter, fields) =
        sort_converter(sort, input.metadata.schema(), prefix_len, Some(&input.path))?;
    if fields.is_empty() {
        return Ok(all_null_region(input, prefix_len));
    }
    let mut cutter = RegionCutter {
        input,
        names: sort.column_names().take(prefix_len).collect(),
        regions: Vec::new(),
        current: None,
    };
    let mut file_row = 0u64;
    for rg in input.row_groups.iter().filter(|rg| rg.rows > 0) {
        let mut row_in_rg = 0u64;
        for batch in read_row_group_columns(input, rg.index, &fields)? {
            let batch = batch.map_err(|e| Error::arrow(&input.path, e))?;
            let rows = prefix_rows(input, &converter, &fields, &batch)?;
            cutter.cut(&batch, &rows, rg.index, file_row, row_in_rg)?;
            row_in_rg += batch.num_rows() as u64;
        }
        file_row += rg.rows;
    }
    Ok(cutter.regions)
}

/// The prefix length must not exceed the file's sort columns.
fn check_prefix_len(input: &InputFile, prefix_len: usize) -> Result<()> {
    let columns = input.sort_schema().columns.len();
    if prefix_len > columns {
        return Err(Error::InvalidArgument(format!(
            "prefix length {prefix_len} exceeds the {columns} sort columns of {}",
            input.path.display()
        )));
    }
    Ok(())
}

/// Every prefix column is absent (all-null, SS-3): one region of all rows.
fn all_null_region(input: &InputFile, prefix_len: usize) -> Vec<VirtualRegion> {
    let values = vec![KeyValue::Null; prefix_len];
    let rows = input.num_rows();
    (rows > 0)
        .then(|| VirtualRegion {
            key: encode_values(input, &values),
            values,
            first_row: 0,
            rows,
        })
        .into_iter()
        .collect()
}

/// The encoded prefix rows of one batch of the prefix columns.
fn prefix_rows(
    input: &InputFile,
    converter: &RowConverter,
    fields: &[usize],
    batch: &RecordBatch,
) -> Result<Rows> {
    let schema = input.metadata.schema();
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
    converter
        .convert_columns(&columns)
        .map_err(|e| Error::arrow(&input.path, e))
}

/// Cuts the rows, batch by batch, into runs of one prefix value.
struct RegionCutter<'a> {
    input: &'a InputFile,
    /// The prefix columns' names.
    names: Vec<&'a str>,
    regions: Vec<VirtualRegion>,
    /// The prefix of the current (last) region.
    current: Option<OwnedRow>,
}

impl RegionCutter<'_> {
    /// Extend the current region or start one at each prefix change in `batch`
    /// (which starts `row_in_rg` rows into row group `rg`, itself `file_row` rows
    /// into the file); a prefix that steps back is an SS-1 error.
    fn cut(
        &mut self,
        batch: &RecordBatch,
        rows: &Rows,
        rg: usize,
        file_row: u64,
        row_in_rg: u64,
    ) -> Result<()> {
        let mut run_start = 0usize;
        for i in 0..rows.num_rows() {
            let row = rows.row(i);
            let changed = match &self.current {
                None => true,
                Some(prev) if row == prev.row() => false,
                Some(prev) if row < prev.row() => {
                    let disorder = Disorder {
                        row: i,
                        previous: self
                            .regions
                            .last()
                            .map(|r| r.values.clone())
                            .unwrap_or_default(),
                        current: self.values_at(batch, i)?,
                    };
                    let location = format!("row group {rg}, row {}", row_in_rg + i as u64);
                    let sort = self.input.sort_schema();
                    return Err(disorder.to_error(&self.input.path, location, sort));
                }
                Some(_) => true,
            };
            if changed {
                if let Some(last) = self.regions.last_mut() {
                    last.rows += (i - run_start) as u64;
                }
                run_start = i;
                let values = self.values_at(batch, i)?;
                self.regions.push(VirtualRegion {
                    key: encode_values(self.input, &values),
                    values,
                    first_row: file_row + row_in_rg + i as u64,
                    rows: 0,
                });
                self.current = Some(row.owned());
            }
        }
        if let Some(last) = self.regions.last_mut() {
            last.rows += (rows.num_rows() - run_start) as u64;
        }
        Ok(())
    }

    /// The prefix values of `row` (null for a column the batch lacks).
    fn values_at(&self, batch: &RecordBatch, row: usize) -> Result<Vec<KeyValue>> {
        self.names
            .iter()
            .map(|n| match batch.column_by_name(n) {
                Some(c) => value_at(c.as_ref(), row).map_err(|e| Error::arrow(&self.input.path, e)),
                None => Ok(KeyValue::Null),
            })
            .collect()
    }
}
