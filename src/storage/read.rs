//! Ranged reads of one remote input with a bounded prefetch window. The caller
//! cuts the file's data into blocks (for a Parquet input: runs of whole row
//! groups of about `fetch_size` bytes); each block is one GET. A merge reads an
//! input front to back, so when a block is asked for, the next blocks (up to
//! `prefetch` bytes) are fetched behind it and blocks before it are dropped.
//! A read inside one block is a slice of it (no copy); any other range is one
//! GET of its own.

use super::location::RemoteObject;
use super::runtime::runtime;
use super::stats;
use crate::{Error, Result};
use bytes::Bytes;
use object_store::ObjectStoreExt;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Mutex;
use tokio::task::JoinHandle;

type Fetch = JoinHandle<std::result::Result<Bytes, object_store::Error>>;

enum Data {
    Pending(Fetch),
    Ready(Bytes),
}

/// One block in the window: its index in the reader's block list and its data.
struct Block {
    index: usize,
    data: Data,
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Data::Pending(h) = &self.data {
            h.abort();
        }
    }
}

/// A remote input file open for ranged reads (see the module doc).
pub struct RemoteReader {
    object: RemoteObject,
    /// The data cut into blocks: sorted, not overlapping.
    blocks: Vec<Range<u64>>,
    /// Blocks in memory or in flight: consecutive indexes, in file order.
    window: Mutex<VecDeque<Block>>,
}

impl std::fmt::Debug for RemoteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteReader({})", self.object.url())
    }
}

impl RemoteReader {
    /// A reader of `object` whose data is read in `blocks` (sorted, not
    /// overlapping; ranges outside them are read with a GET each).
    pub fn new(object: RemoteObject, mut blocks: Vec<Range<u64>>) -> Self {
        blocks.retain(|b| b.end > b.start);
        blocks.sort_by_key(|b| b.start);
        blocks.dedup_by(|b, a| b.start < a.end);
        RemoteReader {
            object,
            blocks,
            window: Mutex::new(VecDeque::new()),
        }
    }

    /// The object read.
    pub fn object(&self) -> &RemoteObject {
        &self.object
    }

    /// Index of the block holding all of `range`, if one does.
    pub fn block_of(&self, range: &Range<u64>) -> Option<usize> {
        let i = self.blocks.partition_point(|b| b.end <= range.start);
        self.blocks
            .get(i)
            .filter(|b| b.start <= range.start && range.end <= b.end)
            .map(|_| i)
    }

    fn spawn(&self, index: usize) -> Result<Block> {
        let rt = runtime().ok_or_else(|| {
            Error::Internal("could not start the object-store I/O threads".into())
        })?;
        let range = self.blocks.get(index).cloned().unwrap_or(0..0);
        let store = self.object.object_store().clone();
        let key = self.object.key.clone();
        let handle = rt.spawn(async move {
            let bytes = store.get_range(&key, range).await?;
            stats::count_get(bytes.len() as u64);
            Ok(bytes)
        });
        Ok(Block {
            index,
            data: Data::Pending(handle),
        })
    }

    fn wait(&self, block: &mut Block) -> Result<Bytes> {
        if let Data::Pending(handle) = &mut block.data {
            let joined = super::runtime::block_on(handle)?;
            let bytes = joined
                .map_err(|e| Error::Storage {
                    url: self.object.url(),
                    detail: format!("fetch task failed: {e}"),
                })?
                .map_err(|e| super::error::storage_error(&self.object.url(), e))?;
            let range = self.blocks.get(block.index).cloned().unwrap_or(0..0);
            if bytes.len() as u64 != range.end - range.start {
                return Err(Error::Storage {
                    url: self.object.url(),
                    detail: format!(
                        "asked for bytes {}..{}, got {} bytes (object changed or truncated?)",
                        range.start,
                        range.end,
                        bytes.len()
                    ),
                });
            }
            block.data = Data::Ready(bytes);
        }
        match &block.data {
            Data::Ready(b) => Ok(b.clone()),
            Data::Pending(_) => Err(Error::Internal("fetch not finished".into())),
        }
    }

    /// Bytes `range` of the file (see the module doc for how they are fetched).
    pub fn read(&self, range: Range<u64>) -> Result<Bytes> {
        if range.end <= range.start {
            return Ok(Bytes::new());
        }
        let Some(index) = self.block_of(&range) else {
            return self.object.get_range(range);
        };
        let mut window = self
            .window
            .lock()
            .map_err(|_| Error::Internal("prefetch window lock poisoned".into()))?;
        // Blocks before this one are behind the reader: drop them. A window that
        // does not hold this block (a jump) starts again from it.
        while window.front().is_some_and(|b| b.index < index) {
            window.pop_front();
        }
        if window.front().is_none_or(|b| b.index != index) {
            window.clear();
            window.push_back(self.spawn(index)?);
        }
        self.fill(&mut window, index)?;
        let block = window
            .front_mut()
            .ok_or_else(|| Error::Internal("prefetch window empty".into()))?;
        let bytes = self.wait(block)?;
        let at = self.blocks[index].start;
        Ok(bytes.slice((range.start - at) as usize..(range.end - at) as usize))
    }

    /// Schedule the blocks after `index` while they fit in `prefetch` bytes
    /// (at least one when `prefetch` is not zero).
    fn fill(&self, window: &mut VecDeque<Block>, index: usize) -> Result<()> {
        let prefetch = self.object.store.tuning.prefetch;
        let mut ahead: u64 = window
            .iter()
            .skip(1)
            .filter_map(|b| self.blocks.get(b.index))
            .map(|r| r.end - r.start)
            .sum();
        let mut next = window.back().map_or(index, |b| b.index) + 1;
        while let Some(r) = self.blocks.get(next) {
            let size = r.end - r.start;
            let first = next == index + 1;
            if prefetch == 0 || (!first && ahead + size > prefetch) {
                break;
            }
            window.push_back(self.spawn(next)?);
            ahead += size;
            next += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::options::Tuning;

    /// A 10,000-byte object cut into ten 1,000-byte blocks, prefetch 2,000.
    fn reader() -> (RemoteReader, Vec<u8>) {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let tuning = Tuning {
            prefetch: 2_000,
            ..Tuning::default()
        };
        let object = RemoteObject::in_memory(tuning, "x.parquet", Bytes::from(data.clone()));
        let blocks = (0..10u64).map(|i| i * 1000..(i + 1) * 1000).collect();
        (RemoteReader::new(object, blocks), data)
    }

    fn window(r: &RemoteReader) -> Vec<usize> {
        r.window.lock().unwrap().iter().map(|b| b.index).collect()
    }

    #[test]
    fn reads_return_the_object_bytes_and_the_window_stays_bounded() {
        let (r, data) = reader();
        // In-block ranges front to back, a range across blocks, a jump back.
        let ranges = [
            0..10,
            10..1000,
            1500..1600,
            2999..3000,
            3500..4700,
            5000..6000,
            9000..10_000,
            100..200,
        ];
        for range in ranges {
            let got = r.read(range.clone()).unwrap();
            assert_eq!(&got[..], &data[range.start as usize..range.end as usize]);
            // At most the block read plus `prefetch` (2 blocks) ahead of it.
            assert!(window(&r).len() <= 3, "{:?}", window(&r));
        }
        assert!(r.read(5..5).unwrap().is_empty());
    }

    #[test]
    fn the_window_follows_the_reader() {
        let (r, _) = reader();
        r.read(0..10).unwrap();
        assert_eq!(window(&r), [0, 1, 2]);
        r.read(2100..2200).unwrap();
        assert_eq!(window(&r), [2, 3, 4]);
        // A range across blocks is a GET of its own; the window is unchanged.
        r.read(2500..3500).unwrap();
        assert_eq!(window(&r), [2, 3, 4]);
        // A jump back starts the window again at the block read.
        r.read(100..200).unwrap();
        assert_eq!(window(&r), [0, 1, 2]);
        r.read(9000..9001).unwrap();
        assert_eq!(window(&r), [9]);
    }

    #[test]
    fn a_block_of_the_wrong_size_is_an_error_naming_the_object() {
        let tuning = Tuning::default();
        let object = RemoteObject::in_memory(tuning, "short.parquet", Bytes::from(vec![0u8; 100]));
        let r = RemoteReader::new(object, vec![0..50, 50..200]);
        assert_eq!(r.read(0..50).unwrap().len(), 50);
        let err = r.read(60..70).unwrap_err().to_string();
        assert!(err.contains("memory://test/short.parquet"), "{err}");
    }
}
