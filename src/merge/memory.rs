//! The engine's merge order and assembler over in-memory sorted batches: for
//! callers that already hold decoded data, and for benchmarking the two stages
//! without file I/O.

use super::assemble::assemble;
use super::key_layout::KeyLayout;
use super::order::{select_window, MergeState, WindowEnd};
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

/// The merge order alone: for every merged row, (input, row within that input).
/// Inputs must each be sorted by `sort` (checked, SS-1); ties go to the earlier input.
pub fn merge_order(
    sort: &SortSchema,
    inputs: Vec<Vec<RecordBatch>>,
    window_rows: usize,
) -> Result<Vec<(usize, u64)>> {
    let (layout, mut streams) = streams(sort, inputs)?;
    let mut state = MergeState::default();
    let mut picks = Vec::with_capacity(window_rows);
    let mut order = Vec::new();
    let mut base = vec![0u64; streams.len()];
    loop {
        let end = select_window(
            &mut streams,
            &layout,
            window_rows.max(1),
            None,
            &mut state,
            &mut picks,
        )?;
        for &(s, b, r) in &picks {
            let before: u64 = streams[s]
                .batches
                .iter()
                .take(b)
                .map(|l| l.batch.num_rows() as u64)
                .sum();
            order.push((s, base[s] + before + r as u64));
        }
        for (s, stream) in streams.iter_mut().enumerate() {
            let released: u64 = stream
                .batches
                .iter()
                .take(stream.head_batch)
                .map(|l| l.batch.num_rows() as u64)
                .sum();
            base[s] += released;
            stream.release();
        }
        if end == WindowEnd::Exhausted {
            return Ok(order);
        }
    }
}

/// Merge sorted in-memory inputs into sorted batches of at most `window_rows` rows,
/// with the engine's merge order and interleave assembler.
pub fn merge_batches(
    sort: &SortSchema,
    inputs: Vec<Vec<RecordBatch>>,
    window_rows: usize,
) -> Result<Vec<RecordBatch>> {
    let (layout, mut streams) = streams(sort, inputs)?;
    let mut state = MergeState::default();
    let mut picks = Vec::with_capacity(window_rows);
    let mut out = Vec::new();
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
            out.push(assemble(&streams, &picks)?);
        }
        streams.iter_mut().for_each(SortedStream::release);
        if end == WindowEnd::Exhausted {
            return Ok(out);
        }
    }
}
