//! Coalesced reads: the column chunks of a few small row groups fetched with one
//! positioned read (or, for a remote input, through its prefetch window) and
//! served to parquet-rs' readers from memory, instead of a `dup` + seek +
//! buffered read per page.

use super::file::InputFile;
use crate::page::SharedFile;
use crate::{Error, Result};
use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};
use parquet::file::reader::{ChunkReader, Length};
use std::ops::Range;

/// Row groups whose column chunks span at most this many bytes are read at once.
pub const COALESCE_LIMIT: u64 = 1 << 20;

/// A byte range of an input file held in memory.
pub struct RegionBytes {
    /// File offset of `data[0]`.
    start: u64,
    data: Bytes,
    file_len: u64,
}

/// The byte range spanned by every column chunk of `row_groups` of `input`
/// (`None` if a row group does not exist or has no columns).
pub fn row_groups_range(input: &InputFile, row_groups: &[usize]) -> Option<Range<u64>> {
    let meta = input.metadata.metadata();
    let mut range: Option<Range<u64>> = None;
    for &rg in row_groups {
        let r = row_group_range(meta.row_groups().get(rg)?)?;
        range = Some(match range {
            None => r,
            Some(a) => a.start.min(r.start)..a.end.max(r.end),
        });
    }
    range
}

/// The byte range spanned by the column chunks of one row group.
fn row_group_range(rg: &RowGroupMetaData) -> Option<Range<u64>> {
    rg.columns()
        .iter()
        .map(|c| {
            let (start, len) = c.byte_range();
            start..start.saturating_add(len)
        })
        .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end))
}

/// The data of a remote input cut into fetch blocks: runs of consecutive row
/// groups whose column chunks span at most `limit` bytes (a bigger row group is
/// a block of its own). A chunk of a member's row groups inside one block is
/// then a slice of one GET.
pub fn fetch_blocks(meta: &ParquetMetaData, limit: u64) -> Vec<Range<u64>> {
    let mut blocks: Vec<Range<u64>> = Vec::new();
    let mut current: Option<Range<u64>> = None;
    for r in meta.row_groups().iter().filter_map(row_group_range) {
        current = Some(match current.take() {
            Some(c) if r.start >= c.end && r.end.saturating_sub(c.start) <= limit => c.start..r.end,
            Some(c) => {
                blocks.push(c);
                r
            }
            None => r,
        });
    }
    blocks.extend(current);
    blocks
}

impl RegionBytes {
    /// Bytes `data` found at offset `start` of a file of `file_len` bytes.
    pub fn new(start: u64, data: Bytes, file_len: u64) -> Self {
        RegionBytes {
            start,
            data,
            file_len,
        }
    }

    /// The bytes of every column chunk of `row_groups` of `input`, if they span at
    /// most [`COALESCE_LIMIT`] bytes (`None` otherwise: read page by page).
    pub fn read(
        input: &InputFile,
        file: &SharedFile,
        row_groups: &[usize],
    ) -> Result<Option<Self>> {
        let Some(range) = row_groups_range(input, row_groups) else {
            return Ok(None);
        };
        let (start, end) = (range.start, range.end);
        if end - start > COALESCE_LIMIT || end > input.file_bytes {
            return Ok(None);
        }
        let data = file
            .read_at(start, (end - start) as usize)
            .map_err(|e| Error::io(&input.path, e))?;
        Ok(Some(RegionBytes::new(
            start,
            Bytes::from(data),
            input.file_bytes,
        )))
    }

    fn slice(&self, start: u64, length: Option<usize>) -> parquet::errors::Result<Bytes> {
        let from = start
            .checked_sub(self.start)
            .map(|o| o as usize)
            .filter(|&o| o <= self.data.len());
        let to = from.map(|f| length.map_or(self.data.len(), |l| f.saturating_add(l)));
        match (from, to) {
            (Some(f), Some(t)) if t <= self.data.len() => Ok(self.data.slice(f..t)),
            _ => Err(ParquetError::EOF(format!(
                "offset {start} (+{}) is outside the coalesced range {}..{}",
                length.unwrap_or(0),
                self.start,
                self.start + self.data.len() as u64
            ))),
        }
    }
}

impl Length for RegionBytes {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl ChunkReader for RegionBytes {
    type T = std::io::Cursor<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(std::io::Cursor::new(self.slice(start, None)?))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, Some(length))
    }
}

/// Where a reader of some row groups gets its bytes: the local file (page by
/// page, positional reads), or memory.
pub enum ChunkSource {
    /// The local file, read page by page.
    File(SharedFile),
    /// Row groups fetched into memory (object storage).
    Memory(RegionBytes),
}

/// A `Read` over either kind of [`ChunkSource`].
pub enum ChunkRead {
    /// A positional reader of the local file.
    File(<SharedFile as ChunkReader>::T),
    /// A cursor over fetched bytes.
    Memory(std::io::Cursor<Bytes>),
}

impl std::io::Read for ChunkRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            ChunkRead::File(r) => r.read(buf),
            ChunkRead::Memory(r) => r.read(buf),
        }
    }

    // Page headers are parsed a byte or a few at a time: skip the default
    // loop over `read`.
    fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        match self {
            ChunkRead::File(r) => r.read_exact(buf),
            ChunkRead::Memory(r) => r.read_exact(buf),
        }
    }
}

impl Length for ChunkSource {
    fn len(&self) -> u64 {
        match self {
            ChunkSource::File(f) => f.len(),
            ChunkSource::Memory(m) => m.len(),
        }
    }
}

impl ChunkReader for ChunkSource {
    type T = ChunkRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        match self {
            ChunkSource::File(f) => f.get_read(start).map(ChunkRead::File),
            ChunkSource::Memory(m) => m.get_read(start).map(ChunkRead::Memory),
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match self {
            ChunkSource::File(f) => f.get_bytes(start, length),
            ChunkSource::Memory(m) => m.get_bytes(start, length),
        }
    }
}
