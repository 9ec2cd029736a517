//! Rows per input a merge wrote, dropped as duplicates and deleted, and the
//! MC-1 check of their sums against the rows read.

use crate::input::InputFile;
use crate::{Error, Result};

/// Rows of each input written to the outputs, dropped as duplicates, and
/// deleted by the row filter.
pub(crate) struct RowCounts {
    pub emitted: Vec<u64>,
    pub dropped: Vec<u64>,
    pub deleted: Vec<u64>,
}

impl RowCounts {
    /// All zero, for `inputs` inputs.
    pub fn new(inputs: usize) -> Self {
        RowCounts {
            emitted: vec![0; inputs],
            dropped: vec![0; inputs],
            deleted: vec![0; inputs],
        }
    }

    /// MC-1: every input's rows were merged, and rows out == rows in; with
    /// dedup and deletes, rows emitted + rows dropped as duplicates + rows
    /// deleted == rows in, per input and in total. Returns the rows dropped
    /// and deleted.
    pub fn check(
        &self,
        inputs: &[InputFile],
        rows_out: u64,
        rows_in: u64,
        dedup: bool,
    ) -> Result<(u64, u64)> {
        let mut dropped_total = 0u64;
        let mut deleted_total = 0u64;
        for (i, input) in inputs.iter().enumerate() {
            let (n, dropped, deleted) = (self.emitted[i], self.dropped[i], self.deleted[i]);
            if dropped > 0 && !dedup {
                return Err(Error::Invariant {
                    rule: "MC-1",
                    detail: format!(
                        "{}: {dropped} rows dropped without dedup",
                        input.path.display()
                    ),
                });
            }
            if n.checked_add(dropped).and_then(|x| x.checked_add(deleted)) != Some(input.num_rows())
            {
                return Err(Error::Invariant {
                    rule: "MC-1",
                    detail: format!(
                        "{}: {n} rows merged + {dropped} dropped as duplicates + {deleted} deleted, {} in the file",
                        input.path.display(),
                        input.num_rows()
                    ),
                });
            }
            dropped_total = dropped_total.saturating_add(dropped);
            deleted_total = deleted_total.saturating_add(deleted);
        }
        if rows_out
            .checked_add(dropped_total)
            .and_then(|x| x.checked_add(deleted_total))
            != Some(rows_in)
        {
            return Err(Error::Invariant {
                rule: "MC-1",
                detail: format!(
                    "{rows_out} rows written + {dropped_total} dropped as duplicates + {deleted_total} deleted, {rows_in} read"
                ),
            });
        }
        Ok((dropped_total, deleted_total))
    }
}
