//! One output streamed to object storage as a multipart upload: bytes are cut
//! into parts of `part_size` (doubled every 1000 parts), at most
//! `upload_concurrency` parts in flight while the next one fills. The
//! object becomes visible only when [`UploadedParts::complete`] is called; an
//! upload dropped before that is aborted, so nothing partial is visible or left
//! billed (when the store can be reached; see `cleanup` for when it cannot).

use super::error::storage_error;
use super::location::RemoteObject;
use super::runtime::{block_on, runtime};
use super::stats;
use crate::{Error, Result};
use bytes::Bytes;
use object_store::multipart::PartId;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

type PartFetch = JoinHandle<std::result::Result<PartId, object_store::Error>>;

/// The first storage error an upload hit, shared with the writer that owns it
/// (whose own error would only say "I/O error").
pub type ErrorSlot = Arc<Mutex<Option<Error>>>;

/// A multipart upload in progress, written through [`std::io::Write`].
pub struct Upload {
    object: RemoteObject,
    id: String,
    buffer: Vec<u8>,
    in_flight: VecDeque<(usize, PartFetch)>,
    parts: Vec<Option<PartId>>,
    bytes: u64,
    error: ErrorSlot,
    open: bool,
}

impl Upload {
    /// Start a multipart upload to `object`.
    pub fn create(object: &RemoteObject) -> Result<Self> {
        let store = object.multipart()?.clone();
        let key = object.key.clone();
        let id = block_on(async move { store.create_multipart(&key).await })?
            .map_err(|e| storage_error(&object.url(), e))?;
        Ok(Upload {
            object: object.clone(),
            id,
            buffer: Vec::new(),
            in_flight: VecDeque::new(),
            parts: Vec::new(),
            bytes: 0,
            error: Arc::new(Mutex::new(None)),
            open: true,
        })
    }

    /// The upload id the store gave (what `cleanup` aborts after a crash).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The object being uploaded.
    pub fn object(&self) -> &RemoteObject {
        &self.object
    }

    /// Where the first storage error is kept.
    pub fn error_slot(&self) -> ErrorSlot {
        self.error.clone()
    }

    fn record(&self, e: Error) -> std::io::Error {
        let text = e.to_string();
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(e);
        }
        std::io::Error::other(text)
    }

    fn wait_oldest(&mut self) -> Result<()> {
        if let Some((index, handle)) = self.in_flight.pop_front() {
            let url = self.object.url();
            let part = block_on(handle)?
                .map_err(|e| Error::Storage {
                    url: url.clone(),
                    detail: format!("upload task failed: {e}"),
                })?
                .map_err(|e| storage_error(&url, e))?;
            if let Some(slot) = self.parts.get_mut(index) {
                *slot = Some(part);
            }
        }
        Ok(())
    }

    /// Send the buffer as the next part (waiting first if too many are in flight).
    fn send_part(&mut self) -> Result<()> {
        let concurrency = self.object.store.tuning.upload_concurrency;
        while self.in_flight.len() >= concurrency {
            self.wait_oldest()?;
        }
        let data = Bytes::from(std::mem::take(&mut self.buffer));
        let len = data.len() as u64;
        let index = self.parts.len();
        self.parts.push(None);
        let store = self.object.multipart()?.clone();
        let key = self.object.key.clone();
        let id = self.id.clone();
        let rt = runtime().ok_or_else(|| {
            Error::Internal("could not start the object-store I/O threads".into())
        })?;
        let handle = rt.spawn(async move {
            let part = store.put_part(&key, &id, index, data.into()).await?;
            stats::count_put(len);
            Ok(part)
        });
        self.in_flight.push_back((index, handle));
        Ok(())
    }

    /// Send the last part and wait for every part: the object is complete on the
    /// store but not visible until [`UploadedParts::complete`].
    pub fn finish(mut self) -> Result<UploadedParts> {
        if !self.buffer.is_empty() || self.parts.is_empty() {
            self.send_part()?;
        }
        while !self.in_flight.is_empty() {
            self.wait_oldest()?;
        }
        let parts = std::mem::take(&mut self.parts)
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::Storage {
                url: self.object.url(),
                detail: "a part of the upload has no id".into(),
            })?;
        self.open = false;
        Ok(UploadedParts {
            object: self.object.clone(),
            id: std::mem::take(&mut self.id),
            parts,
            bytes: self.bytes,
            done: false,
        })
    }
}

impl Upload {
    /// Abort the upload, waiting for the store's answer.
    pub fn abort(mut self) -> Result<()> {
        self.open = false;
        for (_, h) in self.in_flight.drain(..) {
            h.abort();
        }
        abort(&self.object, &self.id)
    }
}

/// Parts per step of the part size: it doubles every this many parts, so that
/// an object never needs more than the 10,000 parts S3 allows.
const PARTS_PER_SIZE: usize = 1000;

impl Upload {
    /// Size of the part being filled: `part_size`, doubled every
    /// [`PARTS_PER_SIZE`] parts.
    fn part_len(&self) -> usize {
        let steps = (self.parts.len() / PARTS_PER_SIZE).min(16) as u32;
        self.object
            .store
            .tuning
            .part_size
            .saturating_mul(1 << steps)
    }
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let part_size = self.part_len();
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(part_size);
        }
        let room = part_size.saturating_sub(self.buffer.len()).max(1);
        let n = buf.len().min(room);
        self.buffer.extend_from_slice(&buf[..n]);
        self.bytes += n as u64;
        if self.buffer.len() >= part_size {
            self.send_part().map_err(|e| self.record(e))?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Abort upload `id` of `object`, waiting for the store's answer.
pub fn abort(object: &RemoteObject, id: &str) -> Result<()> {
    let store = object.multipart()?.clone();
    let key = object.key.clone();
    let id = id.to_string();
    match block_on(async move { store.abort_multipart(&key, &id).await })? {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(storage_error(&object.url(), e)),
    }
}

impl Drop for Upload {
    /// An upload that never finished is aborted (best effort).
    fn drop(&mut self) {
        if self.open {
            for (_, h) in self.in_flight.drain(..) {
                h.abort();
            }
            let _ = abort(&self.object, &self.id);
        }
    }
}

/// Every part of an upload is stored; the object is not visible yet. Dropped
/// without [`complete`](Self::complete), the upload is aborted.
pub struct UploadedParts {
    object: RemoteObject,
    id: String,
    parts: Vec<PartId>,
    /// Size of the object.
    pub bytes: u64,
    done: bool,
}

impl UploadedParts {
    /// The object being uploaded.
    pub fn object(&self) -> &RemoteObject {
        &self.object
    }

    /// The upload id the store gave.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Complete the upload: the object becomes visible, whole.
    pub fn complete(&mut self) -> Result<()> {
        let store = self.object.multipart()?.clone();
        let key = self.object.key.clone();
        let id = self.id.clone();
        let parts = self.parts.clone();
        block_on(async move { store.complete_multipart(&key, &id, parts).await })?
            .map_err(|e| storage_error(&self.object.url(), e))?;
        self.done = true;
        Ok(())
    }

    /// Abort the upload: nothing becomes visible and the parts are freed.
    pub fn abort(&mut self) -> Result<()> {
        abort(&self.object, &self.id)?;
        self.done = true;
        Ok(())
    }

    /// Whether the upload was completed or aborted.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl Drop for UploadedParts {
    fn drop(&mut self) {
        if !self.done {
            let _ = abort(&self.object, &self.id);
        }
    }
}
