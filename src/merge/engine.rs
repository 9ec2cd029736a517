//! The engine driver: regions in key order, each merged window by window into the
//! outputs; outputs and (for P = 0) row groups are cut only at series transitions.
//! A row-group row cap cuts P = 0 row groups; with P > 0 (one row group per
//! region and file) it ends the output instead, and the region continues in the
//! next output.
//!
//! With dedup on (last write wins), a region's streams are ordered by input
//! position (the caller lists inputs oldest first), so that in every run of
//! equal keys the merge order puts the winner last; the merge order keeps only
//! that last row. Regions hold one prefix key each, so duplicates never cross
//! regions, and verbatim row-group copies (which cannot drop rows) are off.
//!
//! Deletes (a row filter per input): a region whose prefix values no delete
//! predicate of a member's input can match is merged (or copied verbatim) as
//! if there were none; a member whose rows all match is counted as deleted and
//! not read; other members' rows are tested as they are read, and the ones
//! that match never reach the merge (MC-1: merged + deleted == read, per
//! input). A predicate's time range is first checked against the member's row
//! groups' statistics of the time column: outside it, the predicate cannot
//! match; around it, only its other tests remain.

use super::assemble::assemble;
use super::counts::RowCounts;
use super::key_layout::KeyLayout;
use super::keys::{OwnedKey, SeriesIds};
use super::options::{MergeOptions, RunControls};
use super::order::{select_window, MergeState, Pick, WindowEnd};
use super::prefix_check::PrefixCheck;
use super::stream::SortedStream;
use crate::input::read_row_group_columns;
use crate::input::InputFile;
use crate::key::SortedCheck;
use crate::output::OutputSink;
use crate::plan::{OutputTargets, Region, RegionMember};
use crate::predicate::{Coverage, Predicate};
use crate::schema::SchemaUnion;
use crate::{Error, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Everything the driver needs, borrowed from the builder's run.
pub(crate) struct Engine<'a> {
    /// Prefix length of the outputs (regions hold one prefix value each).
    pub prefix_len: usize,
    /// Per input: its row groups may be copied verbatim into outputs.
    pub verbatim: Vec<bool>,
    pub inputs: &'a [InputFile],
    pub union: &'a SchemaUnion,
    pub layout: &'a KeyLayout,
    pub targets: OutputTargets,
    pub options: &'a MergeOptions,
    /// Dedup, deletes, progress and the cancel flag of the run.
    pub controls: &'a RunControls,
    pub total_rows: u64,
    /// Columns summarized per output besides the sort columns (read along with the
    /// sort columns of verbatim-copied row groups).
    pub summary_columns: &'a [String],
    /// Cap on the rows of an output row group (writer options): for P = 0 it
    /// lowers `options.row_group_rows`; for P > 0 a region over it continues in
    /// the next output (PA-3: one row group per prefix value and file).
    pub max_row_group_rows: Option<u64>,
    /// Per input, the time column's bounds per row group (read from the
    /// footer when a delete predicate with a time range first needs them).
    pub time_bounds: RefCell<HashMap<usize, Option<RowGroupBounds>>>,
}

/// Per row group of an input: the smallest and largest value of a column
/// (None without statistics).
pub(crate) type RowGroupBounds = Vec<Option<(i64, i64)>>;

/// Where a member's rows lie against a predicate's time range.
enum TimeFit {
    /// No row can be inside.
    Outside,
    /// Every row is inside.
    Inside,
    /// Some may be (or the predicate has no time range, or no statistics).
    Unknown,
}

/// What the walk over the regions carries from one to the next.
struct Walk {
    /// Rows per input written, dropped and deleted so far.
    counts: RowCounts,
    /// Where outputs and row groups are cut.
    cuts: CutState,
    /// The current window's picks (allocated once).
    picks: Vec<Pick>,
    /// The output the current region's prefix was last noted in (P > 0).
    noted_in: Option<usize>,
}

impl Engine<'_> {
    /// Merge every region into `outputs`, in key order; returns rows emitted,
    /// dropped and deleted per input.
    pub fn run(&self, regions: &[Region], outputs: &mut OutputSink) -> Result<RowCounts> {
        let mut walk = Walk {
            counts: RowCounts::new(self.inputs.len()),
            cuts: CutState::default(),
            picks: Vec::with_capacity(self.options.batch_rows()),
            noted_in: None,
        };
        for region in regions {
            self.controls.check_cancel()?;
            self.merge_region(region, outputs, &mut walk)?;
        }
        Ok(walk.counts)
    }

    /// One region: copied verbatim when it can be, else its members opened as
    /// sorted streams, merged window by window, counted (MC-1), and closed
    /// (row group for P > 0, output at its cut threshold).
    fn merge_region(
        &self,
        region: &Region,
        outputs: &mut OutputSink,
        walk: &mut Walk,
    ) -> Result<()> {
        let deletes: Vec<(Coverage, Vec<Arc<Predicate>>)> = region
            .members
            .iter()
            .map(|m| self.member_deletes(region, m))
            .collect();
        let untouched = deletes.iter().all(|d| d.0 == Coverage::None);
        let verbatim = if untouched {
            self.verbatim_member(region, self.output_left(&walk.cuts))
        } else {
            None
        };
        if let Some(member) = verbatim {
            return self.copy_verbatim(region, member, outputs, walk);
        }
        let mut streams = self.open_streams(region, deletes, &mut walk.counts)?;
        if streams.is_empty() {
            return Ok(());
        }
        self.merge_windows(region, &mut streams, outputs, walk)?;
        self.count_streams(&streams, &mut walk.counts)?;
        if self.prefix_len > 0 {
            outputs.flush_row_group()?;
            walk.cuts.row_group_done();
        }
        self.cut_output(outputs, &mut walk.cuts)?;
        Ok(())
    }

    /// A region copied verbatim: the copy, then its rows counted and the
    /// output cut if its threshold is reached.
    fn copy_verbatim(
        &self,
        region: &Region,
        member: &RegionMember,
        outputs: &mut OutputSink,
        walk: &mut Walk,
    ) -> Result<()> {
        outputs.note_prefix(region.values.clone())?;
        self.copy_region(region, member, outputs)?;
        walk.counts.emitted[member.input] += member.rows;
        walk.cuts.written += member.rows;
        walk.cuts.row_group_done();
        self.controls
            .report_progress(walk.cuts.written, self.total_rows);
        self.cut_output(outputs, &mut walk.cuts)?;
        Ok(())
    }

    /// The region's members as sorted streams with their delete predicates
    /// (members deleted whole are counted, not opened); with dedup, in input
    /// order.
    fn open_streams(
        &self,
        region: &Region,
        deletes: Vec<(Coverage, Vec<Arc<Predicate>>)>,
        counts: &mut RowCounts,
    ) -> Result<Vec<SortedStream>> {
        let mut streams = Vec::with_capacity(region.members.len());
        let ids = Arc::new(Mutex::new(SeriesIds::new()));
        for (m, (coverage, preds)) in region.members.iter().zip(deletes) {
            if coverage == Coverage::All {
                // Every row matches: deleted without being read.
                counts.deleted[m.input] += m.rows;
                continue;
            }
            let stream = SortedStream::open(
                &self.inputs[m.input],
                m,
                self.union.adapters[m.input].clone(),
                self.options.batch_rows(),
                self.prefix_check(&self.union.schema, region)?,
            )?;
            streams.push(stream.with_deletes(preds).with_series_ids(ids.clone()));
        }
        if self.controls.dedup {
            // Ties go to the earlier stream, so the winner of a run of equal
            // keys (the latest input in the list) comes last. The sort is
            // stable: one input's members keep their order.
            streams.sort_by_key(|s| s.input);
        }
        Ok(streams)
    }

    /// Merge a region's streams window by window until they are exhausted,
    /// cutting row groups and outputs where the thresholds fall.
    fn merge_windows(
        &self,
        region: &Region,
        streams: &mut [SortedStream],
        outputs: &mut OutputSink,
        walk: &mut Walk,
    ) -> Result<()> {
        walk.noted_in = None;
        let mut state = MergeState::default();
        state.dedup = self.controls.dedup;
        loop {
            self.controls.check_cancel()?;
            let end = self.merge_window(region, streams, &mut state, outputs, walk)?;
            match end {
                WindowEnd::Full => {}
                WindowEnd::Exhausted => return Ok(()),
                WindowEnd::Cut => self.cut_in_region(outputs, &mut walk.cuts)?,
            }
        }
    }
    /// One window: pick up to a batch of rows in merge order (ending early at
    /// a series transition once a cut is due), assemble and write them, count
    /// the input rows consumed, report progress, and release spent batches.
    fn merge_window(
        &self,
        region: &Region,
        streams: &mut [SortedStream],
        state: &mut MergeState,
        outputs: &mut OutputSink,
        walk: &mut Walk,
    ) -> Result<WindowEnd> {
        let cuts = &mut walk.cuts;
        let cut_after = [self.output_left(cuts), self.row_group_left(cuts)]
            .into_iter()
            .flatten()
            .min()
            .map(|v| usize::try_from(v).unwrap_or(usize::MAX));
        let starts_before = state.series_starts;
        let dropped_before = state.dropped;
        let end = select_window(
            streams,
            self.layout,
            self.options.batch_rows(),
            cut_after,
            state,
            &mut walk.picks,
        )?;
        // Input rows this window consumed: picked, or dropped as duplicates.
        let consumed = walk.picks.len() as u64 + (state.dropped - dropped_before);
        cuts.written += consumed;
        cuts.row_group_rows += consumed;
        if !walk.picks.is_empty() {
            let rows = assemble(streams, &walk.picks)?;
            if self.prefix_len > 0 && walk.noted_in != Some(cuts.output) {
                outputs.note_prefix(region.values.clone())?;
                walk.noted_in = Some(cuts.output);
            }
            cuts.row_group_bytes += rows.memory_estimate();
            outputs.write(rows, state.series_starts.saturating_sub(starts_before))?;
        }
        if consumed > 0 {
            self.controls.report_progress(cuts.written, self.total_rows);
        }
        streams.iter_mut().for_each(SortedStream::release);
        Ok(end)
    }

    /// A cut due inside a region that is not an output's threshold: the
    /// row-group cap. For P > 0 a second row group of this prefix in the file
    /// would break PA-3, so the region continues in the next output; for P = 0
    /// the row group is flushed.
    fn cut_in_region(&self, outputs: &mut OutputSink, cuts: &mut CutState) -> Result<()> {
        if !self.cut_output(outputs, cuts)? {
            if self.prefix_len > 0 {
                outputs.finish_current()?;
                cuts.output += 1;
            } else {
                outputs.flush_row_group()?;
            }
            cuts.row_group_done();
        }
        Ok(())
    }

    /// MC-1 per stream (rows merged + deleted == rows expected), then its rows
    /// added to the per-input counts.
    fn count_streams(&self, streams: &[SortedStream], counts: &mut RowCounts) -> Result<()> {
        for s in streams {
            if s.consumed.checked_add(s.deleted) != Some(s.expected) || s.dropped > s.consumed {
                return Err(Error::Invariant {
                    rule: "MC-1",
                    detail: format!(
                        "{}: {} rows merged ({} dropped as duplicates) + {} deleted, {} expected",
                        self.inputs[s.input].path.display(),
                        s.consumed,
                        s.dropped,
                        s.deleted,
                        s.expected
                    ),
                });
            }
            counts.emitted[s.input] += s.consumed - s.dropped;
            counts.dropped[s.input] += s.dropped;
            counts.deleted[s.input] += s.deleted;
        }
        Ok(())
    }

    /// The delete predicates of `member`'s input that may match rows of
    /// `region`, and whether they match none, some or all of them (decided
    /// from the region's prefix values).
    fn member_deletes(
        &self,
        region: &Region,
        member: &RegionMember,
    ) -> (Coverage, Vec<Arc<Predicate>>) {
        let Some(preds) = self.controls.deletes.get(member.input) else {
            return (Coverage::None, Vec::new());
        };
        let mut some = Vec::new();
        for p in preds {
            let p = match self.time_fit(member, p) {
                TimeFit::Outside => continue,
                TimeFit::Inside => Arc::new(p.without_time()),
                TimeFit::Unknown => p.clone(),
            };
            match p.region_coverage(&region.values) {
                Coverage::All => return (Coverage::All, Vec::new()),
                Coverage::Some => some.push(p),
                Coverage::None => {}
            }
        }
        let coverage = if some.is_empty() {
            Coverage::None
        } else {
            Coverage::Some
        };
        (coverage, some)
    }

    /// Where `member`'s rows lie against `p`'s time range, from the row
    /// groups' statistics of the time column.
    fn time_fit(&self, member: &RegionMember, p: &Predicate) -> TimeFit {
        let (false, Some(column)) = (p.time.is_all(), &p.time_column) else {
            return TimeFit::Unknown;
        };
        let mut cache = self.time_bounds.borrow_mut();
        let bounds = cache.entry(member.input).or_insert_with(|| {
            crate::input::row_group_int_bounds(&self.inputs[member.input], column)
        });
        let Some(bounds) = bounds else {
            return TimeFit::Unknown;
        };
        let mut range: Option<(i64, i64)> = None;
        for rg in &member.row_groups {
            let Some(Some((lo, hi))) = bounds.get(*rg) else {
                return TimeFit::Unknown;
            };
            range = Some(range.map_or((*lo, *hi), |(a, b)| (a.min(*lo), b.max(*hi))));
        }
        let Some((lo, hi)) = range else {
            return TimeFit::Unknown;
        };
        if p.time.to.is_some_and(|t| lo >= t) || p.time.from.is_some_and(|f| hi < f) {
            TimeFit::Outside
        } else if p.time.contains(lo) && p.time.contains(hi) {
            TimeFit::Inside
        } else {
            TimeFit::Unknown
        }
    }

    /// The PA-1 data check for members of `region` whose batches have `schema`.
    fn prefix_check(
        &self,
        schema: &arrow_schema::Schema,
        region: &Region,
    ) -> Result<Option<PrefixCheck>> {
        match self.inputs.first() {
            Some(first) => {
                PrefixCheck::new(first.sort_schema(), self.prefix_len, schema, &region.key)
            }
            None => Ok(None),
        }
    }

    /// Rows the row group in progress may still take before a cut: for P = 0 the
    /// row-group rows (capped by the writer options) and bytes; for P > 0 only
    /// the writer options' cap.
    fn row_group_left(&self, cuts: &CutState) -> Option<u64> {
        if self.prefix_len > 0 {
            return self
                .max_row_group_rows
                .map(|cap| cap.saturating_sub(cuts.row_group_rows));
        }
        if cuts.row_group_bytes >= self.options.row_group_bytes() {
            return Some(0);
        }
        let cap = self
            .max_row_group_rows
            .map_or(self.options.row_group_rows() as u64, |c| {
                c.min(self.options.row_group_rows() as u64)
            });
        Some(cap.saturating_sub(cuts.row_group_rows))
    }

    /// Rows the current output may still take before its cut threshold.
    fn output_left(&self, cuts: &CutState) -> Option<u64> {
        self.targets
            .cut_rows
            .get(cuts.next)
            .map(|&c| c.saturating_sub(cuts.written))
    }

    /// The region's only member, if its row group can be copied verbatim: one whole
    /// row group of an input whose schema equals the output's, with P > 0 (one
    /// output row group per region), no output cut due inside the region, and no
    /// dedup (a verbatim copy cannot drop the input's own duplicates).
    fn verbatim_member<'r>(
        &self,
        region: &'r Region,
        output_left: Option<u64>,
    ) -> Option<&'r RegionMember> {
        let [member] = region.members.as_slice() else {
            return None;
        };
        let input = &self.inputs[member.input];
        let whole_row_group = member.skip_rows == 0
            && matches!(member.row_groups.as_slice(), [rg] if input.row_groups.get(*rg).is_some_and(|r| r.rows == member.rows));
        let fits = output_left.is_none_or(|left| left >= member.rows)
            && self.max_row_group_rows.is_none_or(|cap| member.rows <= cap);
        (self.prefix_len > 0
            && !self.controls.dedup
            && self.verbatim.get(member.input) == Some(&true)
            && whole_row_group
            && fits)
            .then_some(member)
    }

    /// Copy a member's row group verbatim, after proving from its sort columns that
    /// it is sorted (SS-1) and holds the promised rows (MC-1).
    fn copy_region(
        &self,
        region: &Region,
        member: &RegionMember,
        outputs: &mut OutputSink,
    ) -> Result<()> {
        let input = &self.inputs[member.input];
        let schema = input.metadata.schema();
        let prefix_check = self.prefix_check(schema, region)?;
        let mut key_fields: Vec<usize> = input
            .sort_schema()
            .column_names()
            .chain(self.summary_columns.iter().map(String::as_str))
            .filter_map(|n| schema.index_of(n).ok())
            .collect();
        key_fields.sort_unstable();
        key_fields.dedup();
        let mut sorted = SortedCheck::<OwnedKey>::new();
        let mut rows = 0u64;
        let rg = member.row_groups[0];
        if !key_fields.is_empty() {
            for batch in read_row_group_columns(input, rg, &key_fields)? {
                let batch = batch.map_err(|e| Error::arrow(&input.path, e))?;
                if let Some(check) = &prefix_check {
                    check.check(&batch, &input.path, |i| {
                        format!("row group {rg}, row {}", rows + i as u64)
                    })?;
                }
                let keys = self
                    .layout
                    .convert_named(&batch)
                    .map_err(|e| Error::arrow(&input.path, e))?;
                let n = keys.num_rows();
                // Rows that start a new series (the region's first row always does).
                let first = n > 0
                    && sorted
                        .last()
                        .is_none_or(|p: &OwnedKey| !p.key().same_series(&keys.row(0)));
                let later = (1..n).filter(|&i| !keys.same_series_as_previous(i)).count();
                let series_starts = u64::from(first) + later as u64;
                sorted.require(&keys, &batch, self.layout.sort(), &input.path, |row| {
                    format!("row group {rg}, row {}", rows + row as u64)
                })?;
                rows += n as u64;
                outputs.observe(batch, series_starts)?;
            }
        } else {
            rows = member.rows;
        }
        if rows != member.rows {
            return Err(Error::Invariant {
                rule: "MC-1",
                detail: format!(
                    "{}: row group {rg} has {rows} rows, the footer promises {}",
                    input.path.display(),
                    member.rows
                ),
            });
        }
        outputs.copy_row_group(
            input.path.clone(),
            input.copy_source(rg)?,
            input.full_metadata()?,
            rg,
        )
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
    /// Input rows merged so far: written to the outputs, or dropped as duplicates
    /// (output cut thresholds count input rows, so dedup keeps outputs balanced).
    written: u64,
    /// Index of the next output cut threshold.
    next: usize,
    /// Index of the output being written.
    output: usize,
    /// Input rows (as `written`) and decoded bytes in the row group in progress
    /// (P = 0 cuts).
    row_group_rows: u64,
    row_group_bytes: usize,
}

impl CutState {
    fn row_group_done(&mut self) {
        self.row_group_rows = 0;
        self.row_group_bytes = 0;
    }
}
