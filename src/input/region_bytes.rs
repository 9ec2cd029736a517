//! Coalesced reads: the column chunks of a few small row groups fetched with one
//! positioned read and served to parquet-rs' readers from memory, instead of a
//! `dup` + seek + buffered read per page.

use super::InputFile;
use crate::{Error, Result};
use bytes::{Buf, Bytes};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Row groups whose column chunks span at most this many bytes are read at once.
pub const COALESCE_LIMIT: u64 = 1 << 20;

/// A byte range of an input file held in memory.
pub struct RegionBytes {
    /// File offset of `data[0]`.
    start: u64,
    data: Bytes,
    file_len: u64,
}

impl RegionBytes {
    /// The bytes of every column chunk of `row_groups` of `input`, if they span at
    /// most [`COALESCE_LIMIT`] bytes (`None` otherwise: read page by page).
    pub fn read(input: &InputFile, file: &File, row_groups: &[usize]) -> Result<Option<Self>> {
        let meta = input.metadata.metadata();
        let mut range: Option<(u64, u64)> = None;
        for &rg in row_groups {
            let Some(rg) = meta.row_groups().get(rg) else {
                return Ok(None);
            };
            for c in rg.columns() {
                let (start, len) = c.byte_range();
                let end = start.saturating_add(len);
                range = Some(match range {
                    None => (start, end),
                    Some((s, e)) => (s.min(start), e.max(end)),
                });
            }
        }
        let Some((start, end)) = range else {
            return Ok(None);
        };
        if end - start > COALESCE_LIMIT || end > input.file_bytes {
            return Ok(None);
        }
        let mut data = vec![0u8; (end - start) as usize];
        file.read_exact_at(&mut data, start)
            .map_err(|e| Error::io(&input.path, e))?;
        Ok(Some(RegionBytes {
            start,
            data: Bytes::from(data),
            file_len: input.file_bytes,
        }))
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
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(self.slice(start, None)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, Some(length))
    }
}
