//! An input file opened once for the whole run and read with positional reads (no per-member open, dup or seek).

use bytes::Bytes;
use parquet::errors::{ParquetError, Result};
use parquet::file::reader::{ChunkReader, Length};
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// Buffer of the reader parquet-rs parses page headers from.
const HEADER_BUFFER: usize = 4 << 10;

/// A shared handle on an open input file of known length.
#[derive(Debug, Clone)]
pub struct SharedFile {
    file: Arc<File>,
    len: u64,
}

impl SharedFile {
    /// Share `file`, of `len` bytes.
    pub fn new(file: File, len: u64) -> Self {
        SharedFile {
            file: Arc::new(file),
            len,
        }
    }

    /// Open `path` for reading.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self::new(file, len))
    }

    /// `len` bytes at `start`, with one positional read.
    pub fn read_at(&self, start: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let mut data = vec![0u8; len];
        self.file.read_exact_at(&mut data, start)?;
        Ok(data)
    }
}

/// A `Read` from a position of a shared file.
pub struct ReadAt {
    file: Arc<File>,
    pos: u64,
}

impl Read for ReadAt {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Length for SharedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for SharedFile {
    type T = BufReader<ReadAt>;

    fn get_read(&self, start: u64) -> Result<Self::T> {
        let at = ReadAt {
            file: self.file.clone(),
            pos: start,
        };
        Ok(BufReader::with_capacity(HEADER_BUFFER, at))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        let end = start.checked_add(length as u64).filter(|&e| e <= self.len);
        if end.is_none() {
            return Err(ParquetError::EOF(format!(
                "range {start} (+{length}) is past the end of the file ({} bytes)",
                self.len
            )));
        }
        self.read_at(start, length)
            .map(Bytes::from)
            .map_err(|e| ParquetError::External(Box::new(e)))
    }
}
