//! Merge order: a k-way merge over the streams' head keys with a loser tree
//! (log k comparisons per row) and run detection: when the same stream wins twice
//! in a row, the runner-up is found once and the winner's rows are emitted while
//! they still sort before it (one comparison per row on long, disjoint runs).
//! Ties go to the earlier stream (input order).
//!
//! With dedup on, rows with equal merge keys (equal full sort keys: the prefix is
//! constant within a region) come out adjacent, ordered by stream; only the last
//! row of each run of equal keys is kept. The engine orders the streams so that
//! the last one is the winner of last-write-wins.

use super::key_layout::KeyLayout;
use super::keys::{KeyRef, OwnedKey};
use super::stream::SortedStream;
use crate::{Error, Result};

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

/// No stream (an exhausted or padding leaf): sorts after everything.
const NONE: usize = usize::MAX;

/// Merge state carried across windows of one region.
#[derive(Default)]
pub(crate) struct MergeState {
    /// Key of the last emitted row of the previous window (for MC-3 and series
    /// transitions across windows).
    last_row: Option<OwnedKey>,
    /// Loser tree: `losers[0]` is the current winner, `losers[1..n]` the losers
    /// kept at internal nodes; leaves `n..2n` are streams. Empty until built.
    losers: Vec<usize>,
    /// Number of leaves (a power of two >= number of streams).
    leaves: usize,
    /// Whether each stream has a head row.
    active: Vec<bool>,
    /// The stream that won the previous pick.
    last_winner: Option<usize>,
    /// Rows picked so far that start a new series (the first row of a region
    /// always does: its prefix differs from the previous region's).
    pub series_starts: u64,
    /// Keep only the last row of each run of equal merge keys.
    pub dedup: bool,
    /// Rows consumed and dropped as superseded duplicates so far (dedup only).
    pub dropped: u64,
}

/// `a` sorts before `b` (heads compared; ties to the lower stream index).
fn before(streams: &[SortedStream], active: &[bool], a: usize, b: usize) -> bool {
    if a == NONE || !active[a] {
        return false;
    }
    if b == NONE || !active[b] {
        return true;
    }
    match streams[a].head().cmp(&streams[b].head()) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => a < b,
        std::cmp::Ordering::Greater => false,
    }
}

impl MergeState {
    fn build(&mut self, streams: &mut [SortedStream], layout: &KeyLayout) -> Result<()> {
        self.active = Vec::with_capacity(streams.len());
        for s in streams.iter_mut() {
            self.active.push(s.ensure_head(layout)?);
        }
        let n = streams.len().next_power_of_two().max(2);
        let mut winners = vec![NONE; 2 * n];
        for (i, w) in winners[n..n + streams.len()].iter_mut().enumerate() {
            *w = i;
        }
        self.losers = vec![NONE; n];
        for node in (1..n).rev() {
            let (a, b) = (winners[2 * node], winners[2 * node + 1]);
            let (win, lose) = if before(streams, &self.active, b, a) {
                (b, a)
            } else {
                (a, b)
            };
            winners[node] = win;
            self.losers[node] = lose;
        }
        self.losers[0] = winners[1];
        self.leaves = n;
        Ok(())
    }

    /// Re-establish the tree after stream `w`'s head changed. The candidate's
    /// head is looked up once per change, not at every node.
    fn replay(&mut self, streams: &[SortedStream], w: usize) {
        let head = |s: usize| (s != NONE && self.active[s]).then(|| streams[s].head());
        let mut candidate = w;
        let mut candidate_head = head(w);
        let mut node = (self.leaves + w) / 2;
        while node >= 1 {
            let loser = self.losers[node];
            let loser_head = head(loser);
            let loser_first = match (&loser_head, &candidate_head) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(l), Some(c)) => match l.cmp(c) {
                    std::cmp::Ordering::Less => true,
                    std::cmp::Ordering::Equal => loser < candidate,
                    std::cmp::Ordering::Greater => false,
                },
            };
            if loser_first {
                self.losers[node] = candidate;
                candidate = loser;
                candidate_head = loser_head;
            }
            node /= 2;
        }
        self.losers[0] = candidate;
    }

    /// The runner-up behind winner `w`: the best loser on `w`'s path to the root.
    fn runner_up(&self, streams: &[SortedStream], w: usize) -> usize {
        let mut best = NONE;
        let mut node = (self.leaves + w) / 2;
        while node >= 1 {
            if before(streams, &self.active, self.losers[node], best) {
                best = self.losers[node];
            }
            node /= 2;
        }
        best
    }
}

/// Fill `out` with picks in merge order, consuming up to `max_rows` rows (with
/// dedup, consumed rows include dropped duplicates). Once the window has consumed
/// at least `cut_after` rows, it ends before the next row that starts a new series.
///
/// With dedup, two adjacent picks never have equal keys, and a window never ends
/// with a pick whose key the next row repeats: when the window fills in the middle
/// of a run of equal keys, its last pick is dropped (the next window starts with
/// the row that supersedes it), so no row is held back across windows.
pub(crate) fn select_window(
    streams: &mut [SortedStream],
    layout: &KeyLayout,
    max_rows: usize,
    cut_after: Option<usize>,
    state: &mut MergeState,
    out: &mut Vec<Pick>,
) -> Result<WindowEnd> {
    out.clear();
    if state.losers.is_empty() {
        state.build(streams, layout)?;
    }
    let mut window = Window {
        out,
        max_rows,
        cut_after,
        dropped: 0,
    };
    let end = loop {
        let w = state.losers[0];
        if w == NONE || !state.active[w] {
            break WindowEnd::Exhausted;
        }
        // A stream that wins twice in a row is likely in a run: find the runner-up
        // once and emit against it; otherwise emit one row and replay.
        let bound = if state.last_winner == Some(w) {
            Some(state.runner_up(streams, w))
        } else {
            None
        };
        let (emitted, stop) = take_run(streams, layout, state, &mut window, w, bound)?;
        if emitted {
            // The winner's head moved: restore the tree before anything else.
            state.replay(streams, w);
            state.last_winner = Some(w);
        }
        if let Some(end) = stop {
            break end;
        }
    };
    if let Some(&(s, pb, pr)) = window.out.last() {
        state.last_row = Some(streams[s].batches[pb].rows.row(pr).owned());
    }
    Ok(end)
}

/// The window being filled: its picks, its limits, and the rows it dropped as
/// duplicates (always 0 without dedup).
struct Window<'o> {
    out: &'o mut Vec<Pick>,
    max_rows: usize,
    cut_after: Option<usize>,
    dropped: usize,
}

/// Take rows from winner `w` while it stays ahead of `bound` (one row when
/// there is no bound). Returns whether any row was taken, and why the window
/// ended if it did.
fn take_run(
    streams: &mut [SortedStream],
    layout: &KeyLayout,
    state: &mut MergeState,
    window: &mut Window<'_>,
    w: usize,
    bound: Option<usize>,
) -> Result<(bool, Option<WindowEnd>)> {
    let mut emitted = false;
    let stop = loop {
        if let (true, Some(b)) = (emitted, bound) {
            if take_bulk(streams, state, window, w, b) > 0 {
                state.active[w] = streams[w].ensure_head(layout)?;
                if state.active[w] && before(streams, &state.active, w, b) {
                    continue;
                }
                break None;
            }
        }
        if let Some(end) = take_row(streams, state, window, w, emitted)? {
            break Some(end);
        }
        emitted = true;
        streams[w].advance();
        state.active[w] = streams[w].ensure_head(layout)?;
        match bound {
            Some(b) if state.active[w] && before(streams, &state.active, w, b) => {}
            _ => break None,
        }
    };
    Ok((emitted, stop))
}

/// Within a run of stream `w` against runner-up `b`: take the run's rows left
/// in `w`'s head batch in one step. They are the rows before `b`'s head (found
/// by binary search: a member's rows are sorted, SS-1), up to the window's
/// room and, if a cut is requested, up to its threshold (so no cut can fall
/// between them). Not with dedup (rows are compared one by one then). Returns
/// the rows taken (0: take the next row one by one).
fn take_bulk(
    streams: &mut [SortedStream],
    state: &mut MergeState,
    window: &mut Window<'_>,
    w: usize,
    b: usize,
) -> usize {
    let taken = window.out.len() + window.dropped;
    let mut room = window.max_rows.saturating_sub(taken);
    if let Some(c) = window.cut_after {
        room = room.min(c.saturating_sub(taken));
    }
    if state.dedup || room < 2 {
        return 0;
    }
    let stream = &streams[w];
    let (batch, start) = (stream.head_batch, stream.head_row);
    let keys = &stream.batches[batch].rows;
    let bound = (b != NONE && state.active[b]).then(|| streams[b].head());
    let ahead = |i: usize| match &bound {
        None => true,
        Some(k) => match keys.row(i).cmp(k) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Equal => w < b,
            std::cmp::Ordering::Greater => false,
        },
    };
    let (mut lo, mut hi) = (start, keys.num_rows().min(start.saturating_add(room)));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if ahead(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let end = lo;
    if end == start {
        return 0;
    }
    let previous = last_key(streams, state, window.out);
    let first_starts = previous.is_none_or(|p| !p.same_series(&keys.row(start)));
    let starts = usize::from(first_starts)
        + (start + 1..end)
            .filter(|&i| !keys.same_series_as_previous(i))
            .count();
    state.series_starts += starts as u64;
    window.out.extend((start..end).map(|i| (w, batch, i)));
    streams[w].advance_by(end - start);
    end - start
}

/// Key of the last row placed: the window's last pick, or the previous
/// window's last row.
fn last_key<'a>(
    streams: &'a [SortedStream],
    state: &'a MergeState,
    out: &[Pick],
) -> Option<KeyRef<'a>> {
    match out.last() {
        Some(&(s, b, r)) => Some(streams[s].batches[b].rows.row(r)),
        None => state.last_row.as_ref().map(|r| r.key()),
    }
}

/// Place stream `w`'s head row in the window: picked, or (dedup) replacing the
/// pick it repeats. Returns the window's end instead when it is full or a cut
/// falls before this row. `in_run`: a row of `w` was already taken in this run
/// (MC-3 then holds by SS-1).
fn take_row(
    streams: &mut [SortedStream],
    state: &mut MergeState,
    window: &mut Window<'_>,
    w: usize,
    in_run: bool,
) -> Result<Option<WindowEnd>> {
    let out = &mut *window.out;
    let stream = &streams[w];
    let (head_batch, head_row) = (stream.head_batch, stream.head_row);
    let row = stream.head();
    let previous = last_key(streams, state, out);
    // Only picks of this window can be superseded: the previous window
    // never ends with a key the next row repeats.
    let duplicate = state.dedup && previous == Some(row);
    if duplicate && out.is_empty() {
        return Err(Error::Invariant {
            rule: "MC-1",
            detail: "dedup: the row a later row supersedes was already written".into(),
        });
    }
    let taken = out.len() + window.dropped;
    if taken >= window.max_rows {
        if duplicate {
            // `row` supersedes the last pick and opens the next window.
            drop_last_pick(streams, state, out);
        }
        return Ok(Some(WindowEnd::Full));
    }
    if duplicate {
        // Last write wins: `row` replaces the pick it repeats (same key,
        // hence same series; order and cuts are unaffected).
        if let Some(last) = out.last_mut() {
            streams[last.0].dropped += 1;
            *last = (w, head_batch, head_row);
        }
        window.dropped += 1;
        state.dropped += 1;
        return Ok(None);
    }
    // MC-3: the merged stream never goes backwards. Within a run the
    // stream's own order (SS-1, checked on load) guarantees it, so only
    // the first row of each run needs the comparison.
    if !in_run && previous.is_some_and(|p| row < p) {
        return Err(Error::Invariant {
            rule: "MC-3",
            detail: "merged output would not be sorted".into(),
        });
    }
    let new_series = previous.is_none_or(|p| !p.same_series(&row));
    // Cuts happen only where a new series starts.
    if new_series && window.cut_after.is_some_and(|c| taken >= c) {
        return Ok(Some(WindowEnd::Cut));
    }
    if new_series {
        state.series_starts += 1;
    }
    out.push((w, head_batch, head_row));
    Ok(None)
}

/// Drop the window's last pick as a superseded duplicate, undoing its count as a
/// series start (the row that supersedes it is counted when it is picked).
fn drop_last_pick(streams: &mut [SortedStream], state: &mut MergeState, out: &mut Vec<Pick>) {
    let Some((s, b, r)) = out.pop() else {
        return;
    };
    let popped = streams[s].batches[b].rows.row(r);
    let previous = last_key(streams, state, out);
    if previous.is_none_or(|p| !p.same_series(&popped)) {
        state.series_starts = state.series_starts.saturating_sub(1);
    }
    streams[s].dropped += 1;
    state.dropped += 1;
}
