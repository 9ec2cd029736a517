//! The engine's merge order and assembler over in-memory sorted batches: for
//! callers that already hold decoded data, and for benchmarking the two stages
//! without file I/O.

use super::assemble::assemble;
use super::key_layout::KeyLayout;
use super::order::{select_window, MergeState, Pick, WindowEnd};
use super::stream::SortedStream;
use crate::schema::{union_schemas, SortSchema};
use crate::{Error, Result};
use arrow_array::RecordBatch;
use std::path::{Path, PathBuf};

fn streams(
    sort: &SortSchema,
    inputs: Vec<Vec<RecordBatch>>,
) -> Result<(KeyLayout, Vec<SortedStream>)> {
    let names: Vec<PathBuf> = (0..inputs.len())
        .map(|i| PathBuf::from(format!("<memory input {i}>")))
        .collect();
    let schemas: Vec<_> = inputs
        .iter()
        .map(|b| b.first().map(|b| b.schema()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::InvalidArgument("every input needs at least one batch".into()))?;
    let pairs: Vec<(&Path, &arrow_schema::Schema)> = names
        .iter()
        .map(PathBuf::as_path)
        .zip(schemas.iter().map(|s| s.as_ref()))
        .collect();
    let union = union_schemas(&pairs)?;
    let layout = KeyLayout::new(sort, 0, &union.schema)?;
    let streams = inputs
        .into_iter()
        .zip(union.adapters)
        .enumerate()
        .map(|(i, (batches, adapter))| {
            let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
            let source = Box::new(batches.into_iter().map(Ok));
            SortedStream::from_source(i, names[i].clone(), source, adapter, vec![(0, rows)], rows)
        })
        .collect();
    Ok((layout, streams))
}

/// Run the merge window by window, handing each window's picks (before the
/// streams release consumed batches) to `on_window`.
fn for_each_window(
    sort: &SortSchema,
    inputs: Vec<Vec<RecordBatch>>,
    window_rows: usize,
    mut on_window: impl FnMut(&[SortedStream], &[Pick]) -> Result<()>,
) -> Result<()> {
    let (layout, mut streams) = streams(sort, inputs)?;
    let mut state = MergeState::default();
    let mut picks = Vec::with_capacity(window_rows);
    loop {
        let end = select_window(
            &mut streams,
            &layout,
            window_rows.max(1),
            None,
            &mut state,
            &mut picks,
        )?;
        if !picks.is_empty() {
            on_window(&streams, &picks)?;
        }
        streams.iter_mut().for_each(SortedStream::release);
        if end == WindowEnd::Exhausted {
            return Ok(());
        }
    }
}

/// Rows held by a stream's batches before deque position `position`.
fn rows_before(stream: &SortedStream, position: usize) -> u64 {
    stream
        .batches
        .iter()
        .take(position)
        .map(|l| l.batch.num_rows() as u64)
        .sum()
}

/// The merge order alone: for every merged row, (input, row within that input).
/// Inputs must each be sorted by `sort` (checked, SS-1); ties go to the earlier input.
pub fn merge_order(
    sort: &SortSchema,
    inputs: Vec<Vec<RecordBatch>>,
    window_rows: usize,
) -> Result<Vec<(usize, u64)>> {
    let mut order = Vec::new();
    let mut base = vec![0u64; inputs.len()];
    for_each_window(sort, inputs, window_rows, |streams, picks| {
        for &(s, b, r) in picks {
            order.push((s, base[s] + rows_before(&streams[s], b) + r as u64));
        }
        // Batches before each head are released after this window.
        for (s, stream) in streams.iter().enumerate() {
            base[s] += rows_before(stream, stream.head_batch);
        }
        Ok(())
    })?;
    Ok(order)
}

/// Merge sorted in-memory inputs into sorted batches of at most `window_rows` rows,
/// with the engine's merge order and interleave assembler.
pub fn merge_batches(
    sort: &SortSchema,
    inputs: Vec<Vec<RecordBatch>>,
    window_rows: usize,
) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for_each_window(sort, inputs, window_rows, |streams, picks| {
        out.push(assemble(streams, picks)?.to_batch()?);
        Ok(())
    })?;
    Ok(out)
}
