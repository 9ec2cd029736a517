//! The engine driver: regions in key order, each merged window by window into the
//! outputs; outputs and (for P = 0) row groups are cut only at series transitions.

use super::assemble::assemble;
use super::key_layout::KeyLayout;
use super::order::{select_window, MergeState, WindowEnd};
use super::stream::SortedStream;
use super::MergeOptions;
use crate::input::InputFile;
use crate::key::describe;
use crate::output::OutputSet;
use crate::plan::{OutputTargets, Region};
use crate::schema::SchemaUnion;
use crate::{Error, Result};
use std::sync::atomic::Ordering;

/// Everything the driver needs, borrowed from the builder's run.
pub(crate) struct Engine<'a> {
    pub inputs: &'a [InputFile],
    pub union: &'a SchemaUnion,
    pub layout: KeyLayout,
    pub targets: OutputTargets,
    pub options: &'a MergeOptions,
    pub total_rows: u64,
}

impl Engine<'_> {
    /// Merge every region into `outputs`; returns rows emitted per input.
    pub fn run(&self, regions: &[Region], outputs: &mut OutputSet) -> Result<Vec<u64>> {
        let prefix_len = self.inputs.first().map_or(0, |i| i.prefix_len());
        let prefix_names: Vec<&str> = self
            .inputs
            .first()
            .map(|i| i.sort_schema().column_names().take(prefix_len).collect())
            .unwrap_or_default();
        let mut emitted = vec![0u64; self.inputs.len()];
        let mut written = 0u64;
        let mut next_cut = 0usize;
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
                    .get(next_cut)
                    .map(|&c| c.saturating_sub(written));
                let row_group_left = (prefix_len == 0).then(|| {
                    if outputs.in_progress_bytes() >= self.options.row_group_bytes {
                        0
                    } else {
                        (self.options.row_group_rows as u64)
                            .saturating_sub(outputs.in_progress_rows() as u64)
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
                    if prefix_len > 0 && noted_in != Some(outputs.current_index()) {
                        outputs.note_prefix(&prefix)?;
                        noted_in = Some(outputs.current_index());
                    }
                    outputs.write(&batch)?;
                    written += picks.len() as u64;
                    if let Some(progress) = &self.options.progress {
                        progress(written, self.total_rows);
                    }
                }
                streams.iter_mut().for_each(SortedStream::release);
                match end {
                    WindowEnd::Full => {}
                    WindowEnd::Exhausted => break,
                    WindowEnd::Cut => {
                        if !self.cut_output(outputs, written, &mut next_cut)? {
                            outputs.flush_row_group()?;
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
            }
            self.cut_output(outputs, written, &mut next_cut)?;
        }
        Ok(emitted)
    }

    /// Close the current output if the next cut threshold has been reached
    /// (skipping thresholds a single huge series jumped over).
    fn cut_output(
        &self,
        outputs: &mut OutputSet,
        written: u64,
        next_cut: &mut usize,
    ) -> Result<bool> {
        let cuts = &self.targets.cut_rows;
        if *next_cut >= cuts.len() || written < cuts[*next_cut] {
            return Ok(false);
        }
        outputs.finish_current()?;
        while *next_cut < cuts.len() && written >= cuts[*next_cut] {
            *next_cut += 1;
        }
        Ok(true)
    }
}
