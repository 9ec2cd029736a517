//! Rows handed to the writer: either one batch, or the merge's picks (source
//! batch, row) over the decoded input batches, gathered column by column on the
//! writer thread (dictionary columns by remapping keys, never by merging values).

use crate::{Error, Result};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_select::interleave::interleave;
use std::ops::Range;

/// A run of output rows taken from consecutive rows of one source: (position
/// of the source, its rows).
pub type Run = (usize, Range<usize>);

/// Maximal runs of consecutive rows from one source in gather `indices`.
pub(crate) fn runs(indices: &[(usize, usize)]) -> impl Iterator<Item = Run> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let &(s, first) = indices.get(i)?;
        let mut end = first + 1;
        i += 1;
        while indices.get(i) == Some(&(s, end)) {
            end += 1;
            i += 1;
        }
        Some((s, first..end))
    })
}

/// Picked rows of several source batches (all of the output schema).
pub struct Gathered {
    /// The batches rows are picked from.
    pub(crate) sources: Vec<RecordBatch>,
    /// (index into `sources`, row) per output row, in output order.
    pub(crate) indices: Vec<(usize, usize)>,
    /// The same rows as maximal [`Run`]s, found once for every column.
    pub(crate) runs: Vec<Run>,
    /// Per source, its rows from the first picked to the last (found once for
    /// every column; empty for a source with no pick).
    pub(crate) spans: Vec<Range<usize>>,
}

impl Gathered {
    /// Rows `indices` ((index into `sources`, row) per output row, in output
    /// order) of `sources`.
    pub fn new(sources: Vec<RecordBatch>, indices: Vec<(usize, usize)>) -> Self {
        let runs = runs(&indices).collect();
        // (first, end) per source; a source with no pick ends up empty.
        let mut bounds = vec![(usize::MAX, 0); sources.len()];
        for &(s, r) in &indices {
            if let Some(b) = bounds.get_mut(s) {
                *b = (b.0.min(r), b.1.max(r + 1));
            }
        }
        let spans = bounds.into_iter().map(|(a, b)| a.min(b)..b).collect();
        Gathered {
            sources,
            indices,
            runs,
            spans,
        }
    }

    /// Rows picked.
    pub fn num_rows(&self) -> usize {
        self.indices.len()
    }

    /// Column `i` of the picked rows, gathered with `arrow_select::interleave`.
    pub fn column(&self, i: usize) -> Result<ArrayRef> {
        let arrays: Vec<&dyn arrow_array::Array> =
            self.sources.iter().map(|b| b.column(i).as_ref()).collect();
        interleave(&arrays, &self.indices)
            .map_err(|e| Error::InvalidData(format!("interleave: {e}")))
    }

    /// Index of the column named `name` in the sources' schema.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.sources.first()?.schema_ref().index_of(name).ok()
    }

    /// (source batch, row) of output row `i`.
    pub fn row(&self, i: usize) -> Option<(&RecordBatch, usize)> {
        let &(b, r) = self.indices.get(i)?;
        Some((self.sources.get(b)?, r))
    }

    /// Estimated decoded size of the picked rows: each source batch's bytes per
    /// row times the rows picked from it.
    pub fn memory_estimate(&self) -> usize {
        let mut picked = vec![0usize; self.sources.len()];
        for &(b, _) in &self.indices {
            if let Some(p) = picked.get_mut(b) {
                *p += 1;
            }
        }
        self.sources
            .iter()
            .zip(picked)
            .filter(|(s, _)| s.num_rows() > 0)
            .map(|(s, p)| s.get_array_memory_size() / s.num_rows() * p)
            .sum()
    }
}

/// Rows for the current output.
pub enum Rows {
    /// A whole batch, in order.
    Batch(RecordBatch),
    /// Rows picked from several batches.
    Gathered(Gathered),
}

impl Rows {
    /// Rows held.
    pub fn num_rows(&self) -> usize {
        match self {
            Rows::Batch(b) => b.num_rows(),
            Rows::Gathered(g) => g.num_rows(),
        }
    }

    /// Estimated decoded size (for row-group cuts by bytes).
    pub fn memory_estimate(&self) -> usize {
        match self {
            Rows::Batch(b) => b.get_array_memory_size(),
            Rows::Gathered(g) => g.memory_estimate(),
        }
    }

    /// The rows as one batch (gathering every column).
    pub fn to_batch(&self) -> Result<RecordBatch> {
        match self {
            Rows::Batch(b) => Ok(b.clone()),
            Rows::Gathered(g) => {
                let batches: Vec<&RecordBatch> = g.sources.iter().collect();
                arrow_select::interleave::interleave_record_batch(&batches, &g.indices)
                    .map_err(|e| Error::InvalidData(format!("interleave: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{runs, Gathered};
    use arrow_array::{Int32Array, RecordBatch};
    use std::sync::Arc;

    /// Spans run from each source's first picked row to its last; a source
    /// with no pick has an empty one.
    #[test]
    fn spans_cover_each_sources_picks() {
        let batch = RecordBatch::try_from_iter([(
            "x",
            Arc::new(Int32Array::from(vec![0; 10])) as arrow_array::ArrayRef,
        )])
        .unwrap();
        let picks = Gathered::new(
            vec![batch.clone(), batch.clone(), batch],
            vec![(0, 4), (2, 1), (0, 7), (2, 2)],
        );
        assert_eq!(picks.spans, vec![4..8, 0..0, 1..3]);
        assert_eq!(picks.runs, vec![(0, 4..5), (2, 1..2), (0, 7..8), (2, 2..3)]);
    }

    #[test]
    fn runs_are_maximal_stretches_of_consecutive_rows_of_one_source() {
        let indices = [
            (0, 4),
            (0, 5),
            (0, 6),
            (1, 0),
            (1, 1),
            (0, 7),
            (0, 9),
            (2, 3),
        ];
        let got: Vec<_> = runs(&indices).collect();
        assert_eq!(
            got,
            vec![(0, 4..7), (1, 0..2), (0, 7..8), (0, 9..10), (2, 3..4)]
        );
        assert_eq!(runs(&[]).count(), 0);
    }
}
