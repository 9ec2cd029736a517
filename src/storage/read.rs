//! Ranged reads of one remote input with a bounded prefetch window: the file's
//! data is fetched in `fetch_size` GETs, in order, up to `prefetch` bytes ahead
//! of the last range asked for. A merge reads each input front to back, so the
//! next row groups are usually in memory (or on their way) when the merge thread
//! asks; bytes behind the reader are dropped. A range outside the window is
//! fetched with one GET of its own.

use super::location::RemoteObject;
use super::runtime::runtime;
use super::stats;
use crate::{Error, Result};
use bytes::{Bytes, BytesMut};
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

struct Block {
    range: Range<u64>,
    data: Data,
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Data::Pending(h) = &self.data {
            h.abort();
        }
    }
}

/// The blocks in memory or in flight: contiguous, in file order.
#[derive(Default)]
struct Window {
    blocks: VecDeque<Block>,
}

impl Window {
    fn end(&self) -> Option<u64> {
        self.blocks.back().map(|b| b.range.end)
    }
}

/// A remote input file open for ranged reads (see the module doc).
pub struct RemoteReader {
    object: RemoteObject,
    /// Where the prefetch stops: the start of the footer.
    data_end: u64,
    window: Mutex<Window>,
}

impl std::fmt::Debug for RemoteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteReader({})", self.object.url())
    }
}

impl RemoteReader {
    /// A reader of `object`, whose data (row groups) ends at `data_end`.
    pub fn new(object: RemoteObject, data_end: u64) -> Self {
        RemoteReader {
            object,
            data_end,
            window: Mutex::new(Window::default()),
        }
    }

    pub fn object(&self) -> &RemoteObject {
        &self.object
    }

    fn spawn(&self, range: Range<u64>) -> Result<Block> {
        let rt = runtime().ok_or_else(|| {
            Error::InvalidArgument("could not start the object-store I/O threads".into())
        })?;
        let store = self.object.object_store().clone();
        let key = self.object.key.clone();
        let r = range.clone();
        let handle = rt.spawn(async move {
            let bytes = store.get_range(&key, r).await?;
            stats::count_get(bytes.len() as u64);
            Ok(bytes)
        });
        Ok(Block {
            range,
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
            let want = block.range.end - block.range.start;
            if bytes.len() as u64 != want {
                return Err(Error::Storage {
                    url: self.object.url(),
                    detail: format!(
                        "asked for bytes {}..{}, got {} bytes (object changed or truncated?)",
                        block.range.start,
                        block.range.end,
                        bytes.len()
                    ),
                });
            }
            block.data = Data::Ready(bytes);
        }
        match &block.data {
            Data::Ready(b) => Ok(b.clone()),
            Data::Pending(_) => Err(Error::InvalidArgument("fetch not finished".into())),
        }
    }

    /// Bytes `range` of the file (see the module doc for how they are fetched).
    pub fn read(&self, range: Range<u64>) -> Result<Bytes> {
        let tuning = &self.object.store.tuning;
        let (start, end) = (range.start, range.end);
        if end <= start {
            return Ok(Bytes::new());
        }
        if end > self.data_end {
            // The footer, or bytes past it: never prefetched.
            return self.object.get_range(start..end);
        }
        let mut window = self
            .window
            .lock()
            .map_err(|_| Error::InvalidArgument("prefetch window poisoned".into()))?;
        while window.blocks.front().is_some_and(|b| b.range.end <= start) {
            window.blocks.pop_front();
        }
        let covered = window
            .blocks
            .front()
            .is_some_and(|b| b.range.start <= start);
        if !covered {
            window.blocks.clear();
        }
        let ahead = tuning.prefetch;
        if end - start > tuning.fetch_size.max(ahead) {
            // Larger than the window: one GET of its own, then prefetch after it.
            window.blocks.clear();
            let bytes = self.object.get_range(start..end)?;
            self.fill(&mut window, end, end.saturating_add(ahead))?;
            return Ok(bytes);
        }
        let from = window.end().unwrap_or(start);
        self.fill(&mut window, from, end.saturating_add(ahead))?;
        // Collect the blocks overlapping the range.
        let mut parts: Vec<(Bytes, u64)> = Vec::new();
        for i in 0..window.blocks.len() {
            let block_range = window.blocks[i].range.clone();
            if block_range.start >= end {
                break;
            }
            if block_range.end <= start {
                continue;
            }
            let bytes = self.wait(&mut window.blocks[i])?;
            parts.push((bytes, block_range.start));
        }
        let slice = |(bytes, at): &(Bytes, u64)| {
            let from = start.max(*at) - at;
            let to = end.min(at + bytes.len() as u64) - at;
            bytes.slice(from as usize..to as usize)
        };
        match parts.as_slice() {
            [one] => Ok(slice(one)),
            many => {
                let mut out = BytesMut::with_capacity((end - start) as usize);
                for p in many {
                    out.extend_from_slice(&slice(p));
                }
                if out.len() as u64 != end - start {
                    return Err(Error::Storage {
                        url: self.object.url(),
                        detail: format!("bytes {start}..{end} are beyond the end of the object"),
                    });
                }
                Ok(out.freeze())
            }
        }
    }

    /// Schedule blocks from `from` (the window's end) until `until`, never past
    /// the data.
    fn fill(&self, window: &mut Window, mut from: u64, until: u64) -> Result<()> {
        let step = self.object.store.tuning.fetch_size;
        let limit = until.min(self.data_end);
        while from < limit {
            let to = from
                .saturating_add(step)
                .min(limit.max(from.saturating_add(1)));
            let to = to.min(self.data_end);
            window.blocks.push_back(self.spawn(from..to)?);
            from = to;
        }
        Ok(())
    }
}
