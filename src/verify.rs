//! Deep verification (`prefix-merge verify`): proves from the data itself, not only
//! statistics, that a file is sorted (SS-1) and keeps its alignment claim (PA-1,
//! PA-3, MS-2), that its `qh.*` keys parse and that Parquet `sorting_columns` agree
//! with the sort schema.

use crate::input::{read_row_group_columns, InputFile};
use crate::key::{sort_converter, SortedCheck};
use crate::plan::Violation;
use crate::schema::{describe_sorting_columns, to_sorting_columns, SortSchema};
use crate::{Error, Result};
use arrow_array::ArrayRef;
use arrow_row::{OwnedRow, Rows};
use serde::Serialize;
use std::path::Path;

/// At most this many violations are listed per file.
const MAX_VIOLATIONS: usize = 20;

/// The outcome of verifying one file.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The file, as given.
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// The P the file claims.
    pub prefix_len: usize,
    /// Every violation found (empty: the file is ok).
    pub violations: Vec<Violation>,
}

impl VerifyReport {
    /// True when no rule is broken.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Verify one file. `Err` means the file could not be read at all (not Parquet,
/// I/O error, corrupt pages); broken rules are listed in the report.
pub fn verify_file(path: &Path) -> Result<VerifyReport> {
    verify_file_with_schema(path, None)
}

/// Verify one file against `sort` when given (instead of the sort schema the file
/// declares, e.g. for a file that declares none); otherwise as [`verify_file`].
pub fn verify_file_with_schema(path: &Path, sort: Option<&SortSchema>) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        path: path.display().to_string(),
        rows: 0,
        prefix_len: 0,
        violations: Vec::new(),
    };
    let opened = crate::storage::Storage::default()
        .resolve(path)
        .and_then(|location| InputFile::open_location(&location, sort));
    let input = match opened {
        Ok(i) => i,
        Err(
            e @ (Error::BadMetadata { .. }
            | Error::SortSchemaSyntax { .. }
            | Error::SortSchemaMissing { .. }
            | Error::UnorderableColumn { .. }),
        ) => {
            report.violations.push(Violation {
                rule: "QH-KEYS",
                row_group: 0,
                row: None,
                detail: e.to_string(),
            });
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    report.rows = input.num_rows();
    report.prefix_len = input.prefix_len();
    check_sorting_columns(&input, &mut report.violations);
    check_data(&input, &mut report.violations)?;
    report.violations.truncate(MAX_VIOLATIONS);
    Ok(report)
}

fn check_sorting_columns(input: &InputFile, out: &mut Vec<Violation>) {
    let meta = input.metadata.metadata();
    let expected = to_sorting_columns(input.sort_schema(), meta.file_metadata().schema_descr());
    for (i, rg) in meta.row_groups().iter().enumerate() {
        if let Some(found) = rg.sorting_columns() {
            if *found != expected {
                out.push(Violation {
                    rule: "SORTING-COLUMNS",
                    row_group: i,
                    row: None,
                    detail: format!(
                        "row group {i} sorting_columns ({}) disagree with sort schema {} ({})",
                        describe_sorting_columns(found, meta.file_metadata().schema_descr()),
                        input.sort_schema(),
                        describe_sorting_columns(&expected, meta.file_metadata().schema_descr()),
                    ),
                });
                return;
            }
        }
    }
}

fn check_data(input: &InputFile, out: &mut Vec<Violation>) -> Result<()> {
    let schema = input.metadata.schema();
    let sort = input.sort_schema();
    let p = input.prefix_len();
    let (sort_rows, sort_fields) = sort_converter(sort, schema, usize::MAX, Some(&input.path))?;
    let (prefix_rows, prefix_fields) = sort_converter(sort, schema, p, Some(&input.path))?;
    if sort_fields.is_empty() {
        return Ok(());
    }
    let mut sorted = SortedCheck::new();
    let mut previous_prefix: Option<(usize, OwnedRow)> = None;
    let arrow = |e| Error::arrow(&input.path, e);
    for rg in input.row_groups.iter().filter(|r| r.rows > 0) {
        let mut offset = 0u64;
        let mut rg_prefix: Option<OwnedRow> = None;
        let mut mixed = false;
        for batch in read_row_group_columns(input, rg.index, &sort_fields)? {
            let batch = batch.map_err(arrow)?;
            // Columns of the projected batch, in sort order.
            let columns = |fields: &[usize]| -> Result<Vec<ArrayRef>> {
                fields
                    .iter()
                    .map(|&i| batch.column_by_name(schema.field(i).name()).cloned())
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        Error::InvalidData(format!(
                            "{}: sort column missing in data",
                            input.path.display()
                        ))
                    })
            };
            let rows = sort_rows
                .convert_columns(&columns(&sort_fields)?)
                .map_err(arrow)?;
            let prefixes = if p > 0 && !prefix_fields.is_empty() {
                Some(
                    prefix_rows
                        .convert_columns(&columns(&prefix_fields)?)
                        .map_err(arrow)?,
                )
            } else {
                None
            };
            if let Some(d) = sorted.check(&rows, &batch, sort) {
                let at = offset + d.row as u64;
                // At a row group's first row with a smaller prefix than the row
                // group before, the cause is row-group order (MS-2).
                let ms2 = matches!(
                    (&prefixes, &previous_prefix),
                    (Some(px), Some((_, prev))) if at == 0 && px.row(0) < prev.row()
                );
                let ms2_after = previous_prefix.as_ref().filter(|_| ms2).map(|(r, _)| *r);
                out.push(order_violation(rg.index, at, ms2_after, &d.message(sort)));
                return Ok(());
            }
            if let Some(prefixes) = prefixes.as_ref().filter(|_| !mixed) {
                if let Some(v) = mixed_prefix(rg.index, offset, prefixes, &mut rg_prefix) {
                    out.push(v);
                    mixed = true;
                }
            }
            offset += batch.num_rows() as u64;
        }
        if let Some(prefix) = rg_prefix {
            if let Some(v) = row_group_order(rg.index, &prefix, previous_prefix.as_ref()) {
                out.push(v);
            }
            previous_prefix = Some((rg.index, prefix));
        }
    }
    Ok(())
}

/// SS-1 at row `at` of row group `rg` (`message` from [`Disorder::message`]), or
/// MS-2 when the row group as a whole sorts before row group `ms2_after`.
///
/// [`Disorder::message`]: crate::key::Disorder::message
fn order_violation(rg: usize, at: u64, ms2_after: Option<usize>, message: &str) -> Violation {
    match ms2_after {
        Some(prev_rg) => Violation {
            rule: "MS-2",
            row_group: rg,
            row: Some(0),
            detail: format!("row group {rg} sorts before row group {prev_rg}"),
        },
        None => Violation {
            rule: "SS-1",
            row_group: rg,
            row: Some(at),
            detail: format!("row group {rg}, row {at}: {message}"),
        },
    }
}

/// PA-1: the first row of `prefixes` (rows `offset..` of row group `rg`) whose
/// prefix differs from the row group's first.
fn mixed_prefix(
    rg: usize,
    offset: u64,
    prefixes: &Rows,
    rg_prefix: &mut Option<OwnedRow>,
) -> Option<Violation> {
    for i in 0..prefixes.num_rows() {
        match rg_prefix {
            None => *rg_prefix = Some(prefixes.row(i).owned()),
            Some(first) if first.row() != prefixes.row(i) => {
                let row = offset + i as u64;
                return Some(Violation {
                    rule: "PA-1",
                    row_group: rg,
                    row: Some(row),
                    detail: format!(
                        "row group {rg} holds more than one prefix value (row {row} differs from row 0)"
                    ),
                });
            }
            Some(_) => {}
        }
    }
    None
}

/// PA-3 / MS-2: row group `rg`'s prefix against the previous row group's.
fn row_group_order(
    rg: usize,
    prefix: &OwnedRow,
    previous: Option<&(usize, OwnedRow)>,
) -> Option<Violation> {
    let (prev_rg, prev) = previous?;
    let (rule, what) = match prefix.row().cmp(&prev.row()) {
        std::cmp::Ordering::Equal => ("PA-3", "repeats the prefix of"),
        std::cmp::Ordering::Less => ("MS-2", "sorts before"),
        std::cmp::Ordering::Greater => return None,
    };
    Some(Violation {
        rule,
        row_group: rg,
        row: None,
        detail: format!("row group {rg} {what} row group {prev_rg}"),
    })
}
