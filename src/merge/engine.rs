//! The engine driver: regions in key order, each merged window by window into the
//! outputs; outputs and (for P = 0) row groups are cut only at series transitions.

use super::assemble::assemble;
use super::key_layout::KeyLayout;
use super::order::{select_window, MergeState, WindowEnd};
use super::stream::SortedStream;
use super::MergeOptions;
use crate::input::InputFile;
use crate::key::describe;
use crate::output::OutputSink;
use crate::plan::{OutputTargets, Region};
use crate::schema::SchemaUnion;
use crate::{Error, Result};
use std::sync::atomic::Ordering;

/// Everything the driver needs, borrowed from the builder's run.
pub(crate) struct Engine<'a> {
    /// Prefix length of the outputs (regions hold one prefix value each).
    pub prefix_len: usize,
    pub inputs: &'a [InputFile],
    pub union: &'a SchemaUnion,
    pub layout: KeyLayout,
    pub targets: OutputTargets,
    pub options: &'a MergeOptions,
    pub total_rows: u64,
}

impl Engine<'_> {
    /// Merge every region into `outputs`; returns rows emitted per input.
    pub fn run(&self, regions: &[Region], outputs: &mut OutputSink) -> Result<Vec<u64>> {
        let prefix_len = self.prefix_len;
        let prefix_names: Vec<&str> = self
            .inputs
            .first()
            .map(|i| i.sort_schema().column_names().take(prefix_len).collect())
            .unwrap_or_default();
        let mut emitted = vec![0u64; self.inputs.len()];
        let mut cuts = CutState::default();
        let mut picks = Vec::with_capacity(self.options.batch_rows);
        for region in regions {
            let mut streams = region
                .members
                .iter()
                .map(|m| {
                    SortedStream::open(
                        &self.inputs[m.input],
                        m,
                        self.union.adapters[m.input].clone(),
                        self.options.batch_rows,
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            let prefix = describe(&prefix_names, &region.values);
            let mut noted_in = None;
            let mut state = MergeState::default();
            loop {
                if self.options.cancel.load(Ordering::Relaxed) {
                    return Err(Error::Cancelled);
                }
                let output_left = self
                    .targets
                    .cut_rows
                    .get(cuts.next)
                    .map(|&c| c.saturating_sub(cuts.written));
                let row_group_left = (prefix_len == 0).then(|| {
                    if cuts.row_group_bytes >= self.options.row_group_bytes {
                        0
                    } else {
                        (self.options.row_group_rows as u64).saturating_sub(cuts.row_group_rows)
                    }
                });
                let cut_after = [output_left, row_group_left]
                    .into_iter()
                    .flatten()
                    .min()
                    .map(|v| usize::try_from(v).unwrap_or(usize::MAX));
                let end = select_window(
                    &mut streams,
                    &self.layout,
                    self.options.batch_rows,
                    cut_after,
                    &mut state,
                    &mut picks,
                )?;
                if !picks.is_empty() {
                    let batch = assemble(&streams, &picks)?;
                    if prefix_len > 0 && noted_in != Some(cuts.output) {
                        outputs.note_prefix(prefix.clone())?;
                        noted_in = Some(cuts.output);
                    }
                    cuts.written += picks.len() as u64;
                    cuts.row_group_rows += picks.len() as u64;
                    cuts.row_group_bytes += batch.get_array_memory_size();
                    outputs.write(batch)?;
                    if let Some(progress) = &self.options.progress {
                        progress(cuts.written, self.total_rows);
                    }
                }
                streams.iter_mut().for_each(SortedStream::release);
                match end {
                    WindowEnd::Full => {}
                    WindowEnd::Exhausted => break,
                    WindowEnd::Cut => {
                        if !self.cut_output(outputs, &mut cuts)? {
                            outputs.flush_row_group()?;
                            cuts.row_group_done();
                        }
                    }
                }
            }
            for s in &streams {
                if s.emitted != s.expected {
                    return Err(Error::Invariant {
                        rule: "MC-1",
                        detail: format!(
                            "{}: {} rows merged, {} expected",
                            self.inputs[s.input].path.display(),
                            s.emitted,
                            s.expected
                        ),
                    });
                }
                emitted[s.input] += s.emitted;
            }
            if prefix_len > 0 {
                outputs.flush_row_group()?;
                cuts.row_group_done();
            }
            self.cut_output(outputs, &mut cuts)?;
        }
        Ok(emitted)
    }

    /// Close the current output if the next cut threshold has been reached
    /// (skipping thresholds a single huge series jumped over).
    fn cut_output(&self, outputs: &mut OutputSink, cuts: &mut CutState) -> Result<bool> {
        let targets = &self.targets.cut_rows;
        if targets.get(cuts.next).is_none_or(|&t| cuts.written < t) {
            return Ok(false);
        }
        outputs.finish_current()?;
        cuts.output += 1;
        cuts.row_group_done();
        while targets.get(cuts.next).is_some_and(|&t| cuts.written >= t) {
            cuts.next += 1;
        }
        Ok(true)
    }
}

/// Counters that decide where outputs and row groups are cut.
#[derive(Default)]
struct CutState {
    /// Rows written to all outputs so far.
    written: u64,
    /// Index of the next output cut threshold.
    next: usize,
    /// Index of the output being written.
    output: usize,
    /// Rows and decoded bytes in the row group in progress (P = 0 cuts).
    row_group_rows: u64,
    row_group_bytes: usize,
}

impl CutState {
    fn row_group_done(&mut self) {
        self.row_group_rows = 0;
        self.row_group_bytes = 0;
    }
}
