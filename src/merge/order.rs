//! Merge order: a k-way merge over the streams' head keys with run detection.
//! The smallest head is emitted together with every following row of the same
//! stream that still sorts before the second-smallest head, so long runs (disjoint
//! inputs) cost one comparison per row. Ties go to the earlier stream (input order).

use super::key_layout::KeyLayout;
use super::stream::SortedStream;
use crate::{Error, Result};
use arrow_row::OwnedRow;

/// Why a window ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowEnd {
    /// The window reached its maximum size.
    Full,
    /// A cut was requested and the next row starts a new series.
    Cut,
    /// Every stream is exhausted.
    Exhausted,
}

/// One merged row: (stream, batch position in that stream, row in the batch).
pub(crate) type Pick = (usize, usize, usize);

/// Merge state carried across windows of one region.
#[derive(Default)]
pub(crate) struct MergeState {
    /// Key of the last emitted row of the previous window (for MC-3 and series
    /// transitions across windows).
    last_row: Option<OwnedRow>,
}

fn before(streams: &[SortedStream], a: usize, b: usize) -> bool {
    match streams[a].head().cmp(&streams[b].head()) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => a < b,
        std::cmp::Ordering::Greater => false,
    }
}

/// Fill `out` with up to `max_rows` picks in merge order. Once `out` holds at least
/// `cut_after` rows, the window ends before the next row that starts a new series.
pub(crate) fn select_window(
    streams: &mut [SortedStream],
    layout: &KeyLayout,
    max_rows: usize,
    cut_after: Option<usize>,
    state: &mut MergeState,
    out: &mut Vec<Pick>,
) -> Result<WindowEnd> {
    out.clear();
    let end = 'outer: loop {
        let mut best: Option<usize> = None;
        let mut second: Option<usize> = None;
        for s in 0..streams.len() {
            if !streams[s].ensure_head(layout)? {
                continue;
            }
            match best {
                None => best = Some(s),
                Some(b) if before(streams, s, b) => {
                    second = best;
                    best = Some(s);
                }
                Some(_) => {
                    if second.is_none_or(|s2| before(streams, s, s2)) {
                        second = Some(s);
                    }
                }
            }
        }
        let Some(b) = best else {
            break WindowEnd::Exhausted;
        };
        let mut run_start = true;
        loop {
            if out.len() >= max_rows {
                break 'outer WindowEnd::Full;
            }
            let stream = &streams[b];
            let row = stream.head();
            let previous = match out.last() {
                Some(&(ps, pb, pr)) => Some(streams[ps].batches[pb].rows.row(pr)),
                None => state.last_row.as_ref().map(|r| r.row()),
            };
            // MC-3: the merged stream never goes backwards. Within a run the
            // stream's own order (SS-1, checked on load) guarantees it, so only the
            // first row of each run needs the comparison.
            if run_start && previous.is_some_and(|p| row < p) {
                return Err(Error::Invariant {
                    rule: "MC-3",
                    detail: "merged output would not be sorted".into(),
                });
            }
            run_start = false;
            // Cuts happen only where a new series starts.
            if cut_after.is_some_and(|c| out.len() >= c) {
                let new_series = previous
                    .is_none_or(|p| layout.series(p.as_ref()) != layout.series(row.as_ref()));
                if new_series {
                    break 'outer WindowEnd::Cut;
                }
            }
            out.push((b, stream.head_batch, stream.head_row));
            streams[b].advance();
            if !streams[b].ensure_head(layout)? {
                break;
            }
            if second.is_some_and(|s2| !before(streams, b, s2)) {
                break;
            }
        }
    };
    if let Some(&(s, pb, pr)) = out.last() {
        state.last_row = Some(streams[s].batches[pb].rows.row(pr).owned());
    }
    Ok(end)
}
