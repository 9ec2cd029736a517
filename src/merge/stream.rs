//! One region member as a sorted stream: a parquet-rs reader over the member's row
//! groups, small batches adapted to the unified schema, their merge keys, and the
//! SS-1 check as batches arrive.

use super::key_layout::KeyLayout;
use super::keys::{KeyRef, MergeKeys, OwnedKey, SeriesIds};
use super::prefix_check::PrefixCheck;
use crate::input::{
    read_row_groups, row_groups_range, ChunkSource, Guarded, InputFile, InputSource, ReadSpec,
};
use crate::key::SortedCheck;
use crate::plan::RegionMember;
use crate::predicate::{delete_mask, Predicate};
use crate::schema::InputAdapter;
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, RowSelection, RowSelector};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where a stream's batches come from: a parquet-rs reader, or memory.
pub(crate) type BatchSource = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

/// A decoded batch and its sort keys.
pub(crate) struct Loaded {
    pub batch: RecordBatch,
    pub rows: MergeKeys,
}

/// Rows of whole row groups to read: `covered` rows in all, of which `select`
/// after the first `skip` (a virtual region may start and end mid row group).
#[derive(Clone)]
struct Rows3 {
    covered: u64,
    skip: u64,
    select: u64,
}

/// A reader of every column of `row_groups` of `input`, reading through
/// `source` (the engine's page source: no builder, levels computed once).
fn member_reader(
    source: ChunkSource,
    input: &InputFile,
    row_groups: Vec<usize>,
    rows: &Rows3,
    batch_rows: usize,
) -> Result<ParquetRecordBatchReader> {
    let mut selection = None;
    if rows.skip > 0 || rows.select < rows.covered {
        let after = rows.covered.saturating_sub(rows.skip + rows.select);
        let to_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        selection = Some(RowSelection::from(vec![
            RowSelector::skip(to_usize(rows.skip)),
            RowSelector::select(to_usize(rows.select)),
            RowSelector::skip(to_usize(after)),
        ]));
    }
    let spec = ReadSpec {
        source,
        row_groups,
        roots: None,
        batch_rows,
        selection,
    };
    read_row_groups(input, spec)
}

/// A remote member read in chunks of row groups: the member's row groups in
/// one block of the input's prefetch window (see `storage::read`), so that
/// memory holds about one block per input rather than the whole member, and
/// each chunk is a slice of a fetched block.
struct ChunkedMember {
    input: InputFile,
    chunks: VecDeque<(Vec<usize>, Rows3)>,
    current: Option<Guarded<ParquetRecordBatchReader>>,
    batch_rows: usize,
}

impl ChunkedMember {
    fn new(
        input: &InputFile,
        member: &RegionMember,
        rows: &[(usize, u64)],
        batch_rows: usize,
    ) -> Self {
        // The block holding a row group (`None`: a chunk of its own).
        let block = |rg: usize| match &input.source {
            InputSource::Remote(r) => row_groups_range(input, &[rg]).and_then(|x| r.block_of(&x)),
            InputSource::Local(_) => None,
        };
        let (mut lo, hi) = (member.skip_rows, member.skip_rows + member.rows);
        let mut at = 0u64;
        let mut chunks = VecDeque::new();
        let mut group: Vec<usize> = Vec::new();
        let mut group_block: Option<usize> = None;
        let mut group_rows = 0u64;
        let mut flush = |group: &mut Vec<usize>, group_rows: &mut u64, at: &mut u64| {
            if group.is_empty() {
                return;
            }
            let end = *at + *group_rows;
            let (from, to) = (lo.max(*at), hi.min(end));
            if to > from {
                chunks.push_back((
                    std::mem::take(group),
                    Rows3 {
                        covered: *group_rows,
                        skip: from - *at,
                        select: to - from,
                    },
                ));
            }
            group.clear();
            *at = end;
            *group_rows = 0;
            lo = lo.max(from);
        };
        for &(rg, n) in rows {
            let b = block(rg);
            if !group.is_empty() && (b.is_none() || b != group_block) {
                flush(&mut group, &mut group_rows, &mut at);
            }
            group_block = b;
            group.push(rg);
            group_rows += n;
        }
        flush(&mut group, &mut group_rows, &mut at);
        ChunkedMember {
            input: input.clone(),
            chunks,
            current: None,
            batch_rows,
        }
    }
}

impl Iterator for ChunkedMember {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(reader) = self.current.as_mut() {
                match reader.next() {
                    Some(item) => return Some(item),
                    None => self.current = None,
                }
            }
            let (row_groups, rows) = self.chunks.pop_front()?;
            let opened = self.input.chunk_source(&row_groups).and_then(|source| {
                member_reader(source, &self.input, row_groups, &rows, self.batch_rows)
            });
            match opened {
                Ok(reader) => self.current = Some(Guarded::new(reader)),
                Err(e) => return Some(Err(ArrowError::ExternalError(Box::new(e)))),
            }
        }
    }
}

/// An error from a batch source: ours if it carries one, else an arrow error
/// about `path`.
fn source_error(path: &std::path::Path, e: ArrowError) -> Error {
    match e {
        ArrowError::ExternalError(inner) => match inner.downcast::<Error>() {
            Ok(ours) => *ours,
            Err(other) => Error::arrow(path, ArrowError::ExternalError(other)),
        },
        e => Error::arrow(path, e),
    }
}

/// A cursor over one member's rows in sort order.
pub(crate) struct SortedStream {
    /// Index of the input file in the merge's input list.
    pub input: usize,
    path: PathBuf,
    reader: BatchSource,
    adapter: InputAdapter,
    /// Batches still referenced by the window being built; positions are stable
    /// until [`release`](Self::release).
    pub batches: VecDeque<Loaded>,
    pub head_batch: usize,
    pub head_row: usize,
    /// SS-1 across the member's batches.
    sorted: SortedCheck<OwnedKey>,
    loaded_rows: u64,
    /// (row group index, rows) of the member's row groups, for error locations.
    row_groups: Vec<(usize, u64)>,
    /// Rows skipped at the start of the first row group (virtual regions).
    skip_rows: u64,
    /// Rows consumed from the stream (picked, or dropped as duplicates).
    pub consumed: u64,
    /// Of `consumed`, rows dropped as superseded duplicates (dedup only).
    pub dropped: u64,
    pub expected: u64,
    exhausted: bool,
    /// PA-1 check of every batch against the region's prefix (P > 0).
    prefix_check: Option<PrefixCheck>,
    /// Rows matching any of these are deleted as batches arrive.
    deletes: Vec<Arc<Predicate>>,
    /// Rows read and deleted (not counted in `consumed`).
    pub deleted: u64,
    /// Series tags shared with the other streams of the region.
    series_ids: Option<Arc<Mutex<SeriesIds>>>,
}

impl SortedStream {
    /// Open a reader over `member`'s row groups of `input` (footer not parsed again).
    pub fn open(
        input: &InputFile,
        member: &RegionMember,
        adapter: InputAdapter,
        batch_rows: usize,
        prefix_check: Option<PrefixCheck>,
    ) -> Result<Self> {
        let row_groups: Vec<(usize, u64)> = member
            .row_groups
            .iter()
            .map(|&rg| (rg, input.row_groups.get(rg).map_or(0, |r| r.rows)))
            .collect();
        // parquet-rs reserves a batch's worth of values and levels per column up
        // front: a member of a few rows asks for batches of its size, not the
        // run's batch size (at 3,000 tiny regions that reserve was most of the
        // run's allocations and page faults).
        let batch_rows = batch_rows.min(usize::try_from(member.rows.max(1)).unwrap_or(usize::MAX));
        let reader: BatchSource = match &input.source {
            // Small row groups are read with one call (coalesced), big ones page
            // by page.
            InputSource::Local(_) => {
                let rows = Rows3 {
                    covered: row_groups.iter().map(|r| r.1).sum(),
                    skip: member.skip_rows,
                    select: member.rows,
                };
                let source = input.chunk_source(&member.row_groups)?;
                let reader =
                    member_reader(source, input, member.row_groups.clone(), &rows, batch_rows)?;
                Box::new(Guarded::new(reader))
            }
            InputSource::Remote(_) => {
                Box::new(ChunkedMember::new(input, member, &row_groups, batch_rows))
            }
        };
        let mut stream = Self::from_source(
            member.input,
            input.path.clone(),
            reader,
            adapter,
            row_groups,
            member.rows,
        );
        stream.skip_rows = member.skip_rows;
        stream.prefix_check = prefix_check;
        Ok(stream)
    }

    /// A stream over any batch source; `row_groups` only serves error locations.
    pub fn from_source(
        input: usize,
        path: PathBuf,
        reader: BatchSource,
        adapter: InputAdapter,
        row_groups: Vec<(usize, u64)>,
        expected: u64,
    ) -> Self {
        SortedStream {
            input,
            path,
            reader,
            adapter,
            batches: VecDeque::new(),
            head_batch: 0,
            head_row: 0,
            sorted: SortedCheck::new(),
            loaded_rows: 0,
            row_groups,
            skip_rows: 0,
            consumed: 0,
            dropped: 0,
            expected,
            exhausted: false,
            prefix_check: None,
            deletes: Vec::new(),
            deleted: 0,
            series_ids: None,
        }
    }

    /// Delete the rows that match any of `deletes` as they are read: they are
    /// counted in `deleted` and never reach the merge.
    pub fn with_deletes(mut self, deletes: Vec<Arc<Predicate>>) -> Self {
        self.deletes = deletes;
        self
    }

    /// Tag the keys' series from `ids`, shared with the region's other streams
    /// (equal series then compare by tag).
    pub fn with_series_ids(mut self, ids: Arc<Mutex<SeriesIds>>) -> Self {
        self.series_ids = Some(ids);
        self
    }

    /// "row group G, row R" for the member's `offset`-th row.
    fn locate(&self, offset: u64) -> String {
        locate(&self.row_groups, self.skip_rows, offset)
    }

    /// Make the head point at a row; `false` once the stream is exhausted.
    pub fn ensure_head(&mut self, layout: &KeyLayout) -> Result<bool> {
        loop {
            if let Some(b) = self.batches.get(self.head_batch) {
                if self.head_row < b.rows.num_rows() {
                    return Ok(true);
                }
                if self.head_batch + 1 < self.batches.len() {
                    self.head_batch += 1;
                    self.head_row = 0;
                    continue;
                }
            }
            if self.exhausted {
                return Ok(false);
            }
            match self.reader.next() {
                None => {
                    self.exhausted = true;
                    if self.loaded_rows != self.expected {
                        return Err(Error::Invariant {
                            rule: "MC-1",
                            detail: format!(
                                "{}: read {} rows where the footer promises {}",
                                self.path.display(),
                                self.loaded_rows,
                                self.expected
                            ),
                        });
                    }
                }
                Some(batch) => {
                    self.load(batch.map_err(|e| source_error(&self.path, e))?, layout)?
                }
            }
        }
    }

    fn load(&mut self, raw: RecordBatch, layout: &KeyLayout) -> Result<()> {
        let n = raw.num_rows();
        if n == 0 {
            return Ok(());
        }
        let mut batch = self
            .adapter
            .adapt(&raw)
            .map_err(|e| Error::arrow(&self.path, e))?;
        let first_row = self.loaded_rows;
        self.loaded_rows += n as u64;
        if self.loaded_rows > self.expected {
            return Err(Error::Invariant {
                rule: "MC-1",
                detail: format!(
                    "{}: more rows than the footer's {}",
                    self.path.display(),
                    self.expected
                ),
            });
        }
        if !self.deletes.is_empty() {
            let (keep, deleted) =
                delete_mask(&self.deletes, &batch).map_err(|e| Error::arrow(&self.path, e))?;
            if let Some(keep) = keep {
                batch = arrow_select::filter::filter_record_batch(&batch, &keep)
                    .map_err(|e| Error::arrow(&self.path, e))?;
                self.deleted += deleted as u64;
            }
            if batch.num_rows() == 0 {
                return Ok(());
            }
        }
        let mut ids = match &self.series_ids {
            Some(ids) => Some(
                ids.lock()
                    .map_err(|_| Error::Internal("series ids: poisoned lock".into()))?,
            ),
            None => None,
        };
        let rows = layout
            .convert(&batch, ids.as_deref_mut())
            .map_err(|e| Error::arrow(&self.path, e))?;
        drop(ids);
        let (row_groups, skip) = (&self.row_groups, self.skip_rows);
        let at = |row: usize| locate(row_groups, skip, first_row + row as u64);
        self.sorted
            .require(&rows, &batch, layout.sort(), &self.path, at)?;
        if let Some(check) = &self.prefix_check {
            // PA-1 from the data (after deletes a row's location counts the
            // deleted rows before it as if they were kept).
            check.check(&batch, &self.path, |i| self.locate(first_row + i as u64))?;
        }
        self.batches.push_back(Loaded { batch, rows });
        Ok(())
    }

    /// Sort key of the head row. Call only after `ensure_head` returned `true`.
    pub fn head(&self) -> KeyRef<'_> {
        self.batches[self.head_batch].rows.row(self.head_row)
    }

    /// Consume the head row.
    pub fn advance(&mut self) {
        self.advance_by(1);
    }

    /// Consume `n` rows of the head batch.
    pub fn advance_by(&mut self, n: usize) {
        self.head_row += n;
        self.consumed += n as u64;
    }

    /// Drop batches that lie wholly before the head (after a window is assembled).
    pub fn release(&mut self) {
        while self.head_batch > 0 {
            self.batches.pop_front();
            self.head_batch -= 1;
        }
        if let Some(b) = self.batches.front() {
            if self.head_row >= b.rows.num_rows() && self.exhausted {
                self.batches.pop_front();
                self.head_row = 0;
            }
        }
    }
}

/// "row group G, row R" for the `offset`-th row of a member that starts
/// `skip_rows` into its `(row group, rows)` list.
fn locate(row_groups: &[(usize, u64)], skip_rows: u64, offset: u64) -> String {
    let mut rest = offset + skip_rows;
    for &(rg, rows) in row_groups {
        if rest < rows {
            return format!("row group {rg}, row {rest}");
        }
        rest -= rows;
    }
    format!("row {offset} of the region")
}
