//! Body assembly: the rows picked by the merge order are gathered from the
//! streams' decoded batches with `arrow_select::interleave` (linear in rows).

use super::order::Pick;
use super::stream::SortedStream;
use crate::{Error, Result};
use arrow_array::RecordBatch;

/// Build the output batch for one window of picks.
pub(crate) fn assemble(streams: &[SortedStream], picks: &[Pick]) -> Result<RecordBatch> {
    let mut base = Vec::with_capacity(streams.len());
    let mut batches = Vec::new();
    for s in streams {
        base.push(batches.len());
        batches.extend(s.batches.iter().map(|l| &l.batch));
    }
    let Some(&(s0, b0, r0)) = picks.first() else {
        return Err(Error::InvalidArgument("empty window".into()));
    };
    // A window that is one contiguous slice of one batch needs no copy.
    let contiguous = picks
        .iter()
        .enumerate()
        .all(|(i, &(s, b, r))| s == s0 && b == b0 && r == r0 + i);
    if contiguous {
        return Ok(batches[base[s0] + b0].slice(r0, picks.len()));
    }
    let indices: Vec<(usize, usize)> = picks.iter().map(|&(s, b, r)| (base[s] + b, r)).collect();
    arrow_select::interleave::interleave_record_batch(&batches, &indices)
        .map_err(|e| Error::InvalidData(format!("interleave: {e}")))
}
