//! SS-1 (every input is sorted): the check shared by the writer, the merge
//! streams, verbatim copies and `verify`, and its message, which shows both rows'
//! sort-column values and a hint on the directions the sort schema declares.

use super::describe::{describe, row_values};
use super::value::KeyValue;
use crate::schema::{Direction, SortColumn, SortSchema};
use crate::Error;
use arrow_array::RecordBatch;
use arrow_row::{OwnedRow, Rows};
use std::path::Path;

/// Encoded sort keys of a batch, compared row by row: arrow `Rows`, or the
/// merge's keys (series encoded once per run).
pub trait SortKeys {
    /// A row kept across batches (the last row seen).
    type Owned;
    /// Rows in the batch.
    fn num_rows(&self) -> usize;
    /// Row `i` sorts strictly before row `j`.
    fn less(&self, i: usize, j: usize) -> bool;
    /// Row `i` sorts strictly before `row`.
    fn less_than(&self, i: usize, row: &Self::Owned) -> bool;
    /// Row `i` (> 0) sorts strictly before row `i - 1`.
    fn less_than_previous(&self, i: usize) -> bool {
        self.less(i, i - 1)
    }
    /// Row `i`, kept.
    fn owned(&self, i: usize) -> Self::Owned;
}

impl SortKeys for Rows {
    type Owned = OwnedRow;

    fn num_rows(&self) -> usize {
        Rows::num_rows(self)
    }

    fn less(&self, i: usize, j: usize) -> bool {
        self.row(i) < self.row(j)
    }

    fn less_than(&self, i: usize, row: &OwnedRow) -> bool {
        self.row(i) < row.row()
    }

    fn owned(&self, i: usize) -> OwnedRow {
        self.row(i).owned()
    }
}

/// The first row of `rows` that sorts before the row preceding it, where the row
/// before `rows[0]` is `previous` (the last row of the previous batch).
pub fn first_unsorted<K: SortKeys>(rows: &K, previous: Option<&K::Owned>) -> Option<usize> {
    let n = rows.num_rows();
    if n == 0 {
        return None;
    }
    if previous.is_some_and(|p| rows.less_than(0, p)) {
        return Some(0);
    }
    (1..n).find(|&i| rows.less_than_previous(i))
}

/// Two neighbouring rows out of sort order (an SS-1 violation).
#[derive(Debug, Clone, PartialEq)]
pub struct Disorder {
    /// Index, within the checked batch, of the row that sorts before its predecessor.
    pub row: usize,
    /// Sort-column values of the row before it, in sort-schema order.
    pub previous: Vec<KeyValue>,
    /// Sort-column values of the offending row.
    pub current: Vec<KeyValue>,
}

impl Disorder {
    /// The SS-1 error ([`Error::Unsorted`]): rows of `path` out of sort order at
    /// `location` ("row group G, row R"), with [`Disorder::message`] as its detail.
    pub fn to_error(&self, path: &Path, location: String, sort: &SortSchema) -> Error {
        Error::Unsorted {
            path: path.to_path_buf(),
            location,
            detail: self.message(sort),
        }
    }

    /// One line for errors and reports: both rows, the sort schema, and a hint on
    /// the direction of the column that decided the order, e.g.
    /// `(k="a", ts=2) comes after (k="a", ts=1) but sorts before it under sort
    /// schema k|ts; hint: ts sorts descending by default: for ascending ts declare
    /// +ts (or ts+) in the sort schema`.
    pub fn message(&self, sort: &SortSchema) -> String {
        let names: Vec<&str> = sort.column_names().collect();
        let names = &names[..self.current.len().min(names.len())];
        let mut text = format!(
            "({}) comes after ({}) but sorts before it under sort schema {sort}",
            describe(names, &self.current),
            describe(names, &self.previous),
        );
        if let Some(hint) = self.hint(&sort.columns) {
            text.push_str("; hint: ");
            text.push_str(&hint);
        }
        text
    }

    /// The direction hint for the first column in which the two rows differ.
    fn hint(&self, columns: &[SortColumn]) -> Option<String> {
        let column = columns
            .iter()
            .zip(self.previous.iter().zip(&self.current))
            .find(|(_, (a, b))| a != b)
            .map(|(c, _)| c)?;
        Some(direction_hint(column))
    }
}

/// `ts sorts descending by default: for ascending ts declare +ts (or ts+) in the
/// sort schema`, and the like for the other cases.
pub fn direction_hint(column: &SortColumn) -> String {
    let name = &column.name;
    let (is, other, flip) = match column.direction {
        Direction::Ascending => ("ascending", "descending", '-'),
        Direction::Descending => ("descending", "ascending", '+'),
    };
    let how = match column.direction {
        Direction::Descending if column.direction == Direction::default_for(name) => {
            " by default".to_string()
        }
        Direction::Descending => format!(" (-{name})"),
        Direction::Ascending => String::new(),
    };
    format!("{name} sorts {is}{how}: for {other} {name} declare {flip}{name} (or {name}{flip}) in the sort schema")
}

/// SS-1 across the batches of one sorted sequence: remembers the last row seen,
/// encoded (to compare; `O`: the kept row of the keys checked, arrow's
/// `OwnedRow` by default) and decoded (to show in a message).
#[derive(Debug)]
pub struct SortedCheck<O = OwnedRow> {
    last: Option<O>,
    last_values: Vec<KeyValue>,
}

impl<O> Default for SortedCheck<O> {
    fn default() -> Self {
        SortedCheck {
            last: None,
            last_values: Vec::new(),
        }
    }
}

impl<O> SortedCheck<O> {
    /// A check that has seen no row yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last row of the batches checked so far.
    pub fn last(&self) -> Option<&O> {
        self.last.as_ref()
    }

    /// Check that `rows`, the encoded sort keys of `batch`, continue the order of
    /// the batches before; on success remember the last row. Values are read from
    /// `batch` by the names of `sort`'s columns (null where a column is missing).
    pub fn check<K: SortKeys<Owned = O>>(
        &mut self,
        rows: &K,
        batch: &RecordBatch,
        sort: &SortSchema,
    ) -> Option<Disorder> {
        let n = rows.num_rows();
        if n == 0 {
            return None;
        }
        let names: Vec<&str> = sort.column_names().collect();
        if let Some(i) = first_unsorted(rows, self.last.as_ref()) {
            let previous = match i {
                0 => self.last_values.clone(),
                _ => row_values(batch, &names, i - 1),
            };
            return Some(Disorder {
                row: i,
                previous,
                current: row_values(batch, &names, i),
            });
        }
        self.last = Some(rows.owned(n - 1));
        self.last_values = row_values(batch, &names, n - 1);
        None
    }

    /// SS-1 as a result: [`check`](Self::check), and on a disorder the
    /// [`Error::Unsorted`] of `path`, located by `locate` from the offending row's
    /// index in `batch`.
    pub fn require<K: SortKeys<Owned = O>>(
        &mut self,
        rows: &K,
        batch: &RecordBatch,
        sort: &SortSchema,
        path: &Path,
        locate: impl FnOnce(usize) -> String,
    ) -> crate::Result<()> {
        match self.check(rows, batch, sort) {
            Some(d) => Err(d.to_error(path, locate(d.row), sort)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse;

    fn disorder(previous: i64, current: i64) -> Disorder {
        Disorder {
            row: 1,
            previous: vec![KeyValue::Utf8("a".into()), KeyValue::Int(previous)],
            current: vec![KeyValue::Utf8("a".into()), KeyValue::Int(current)],
        }
    }

    #[test]
    fn message_shows_both_rows_and_the_default_direction() {
        let sort = parse("k|timestamp_secs/V2").unwrap();
        assert_eq!(
            disorder(1, 2).message(&sort),
            "(k=\"a\", timestamp_secs=2) comes after (k=\"a\", timestamp_secs=1) but sorts \
             before it under sort schema k|timestamp_secs/V2; hint: timestamp_secs sorts \
             descending by default: for ascending timestamp_secs declare +timestamp_secs \
             (or timestamp_secs+) in the sort schema"
        );
    }

    #[test]
    fn hint_names_explicit_and_ascending_directions() {
        let sort = parse("k|-ts").unwrap();
        assert!(disorder(1, 2)
            .message(&sort)
            .ends_with("hint: ts sorts descending (-ts): for ascending ts declare +ts (or ts+) in the sort schema"));
        let sort = parse("k|+ts").unwrap();
        assert!(disorder(2, 1).message(&sort).ends_with(
            "hint: ts sorts ascending: for descending ts declare -ts (or ts-) in the sort schema"
        ));
    }

    #[test]
    fn no_hint_when_the_rows_look_equal() {
        let sort = parse("k|ts").unwrap();
        assert!(!disorder(1, 1).message(&sort).contains("hint"));
    }
}
