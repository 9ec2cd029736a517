//! Body assembly: the rows picked by the merge order, as a slice of one batch or
//! as (batch, row) picks over the streams' decoded batches that the writer
//! thread gathers column by column (linear in rows, off the merge thread).

use super::order::Pick;
use super::stream::SortedStream;
use crate::output::{Gathered, Rows};
use crate::{Error, Result};

/// Build the output batch for one window of picks.
pub(crate) fn assemble(streams: &[SortedStream], picks: &[Pick]) -> Result<Rows> {
    let mut base = Vec::with_capacity(streams.len());
    let mut sources = Vec::new();
    for s in streams {
        base.push(sources.len());
        sources.extend(s.batches.iter().map(|l| l.batch.clone()));
    }
    let Some(&(s0, b0, r0)) = picks.first() else {
        return Err(Error::Internal("empty merge window".into()));
    };
    // A window that is one contiguous slice of one batch needs no copy.
    let contiguous = picks
        .iter()
        .enumerate()
        .all(|(i, &(s, b, r))| s == s0 && b == b0 && r == r0 + i);
    if contiguous {
        return Ok(Rows::Batch(sources[base[s0] + b0].slice(r0, picks.len())));
    }
    let indices = picks.iter().map(|&(s, b, r)| (base[s] + b, r)).collect();
    Ok(Rows::Gathered(Gathered::new(sources, indices)))
}
