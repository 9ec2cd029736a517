//! Storage in a build without the `object-store` feature: local paths only. A URL
//! is refused when it is resolved, so no remote object, reader or upload ever
//! exists; their types keep the engine's code the same in both builds and have
//! no values (each holds a [`Never`]).

use crate::{Error, Result};
use bytes::Bytes;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::options::{parse_pair, Tuning};
use super::path::{is_url, Location};

/// A type without values: what makes the remote types below impossible to build.
#[derive(Clone, Copy, Debug)]
enum Never {}

/// A store (none is ever used in this build).
#[derive(Debug)]
pub struct Store {
    /// `scheme://bucket` (no trailing slash).
    pub base: String,
    /// I/O sizes (`--storage-option`).
    pub tuning: Tuning,
}

/// An object in a store (none exists in this build).
#[derive(Clone, Debug)]
pub struct RemoteObject {
    /// The store the object lives in.
    pub store: Arc<Store>,
    never: Never,
}

impl RemoteObject {
    /// `scheme://bucket/key`.
    pub fn url(&self) -> String {
        match self.never {}
    }

    /// The object `name` under this key prefix.
    pub fn child(&self, _name: &str) -> RemoteObject {
        match self.never {}
    }

    /// The last segment of the key.
    pub fn file_name(&self) -> Option<&str> {
        match self.never {}
    }

    /// The object's size, or `None` if there is no such object.
    pub fn size(&self) -> Result<Option<u64>> {
        match self.never {}
    }

    /// Bytes `range` of the object.
    pub fn get_range(&self, _range: Range<u64>) -> Result<Bytes> {
        match self.never {}
    }

    /// The last `n` bytes of the object and its size.
    pub fn get_tail(&self, _n: u64) -> Result<(Bytes, u64)> {
        match self.never {}
    }

    /// Write `bytes` as the whole object, failing if it exists.
    pub fn put_new(&self, _bytes: Bytes) -> Result<()> {
        match self.never {}
    }

    /// Delete the object.
    pub fn delete(&self) -> Result<()> {
        match self.never {}
    }

    /// Every object under this key prefix, with its size.
    pub fn list(&self) -> Result<Vec<(RemoteObject, u64)>> {
        match self.never {}
    }
}

/// Turns paths into [`Location`]s; every URL (`file://` too) is an error that
/// names the missing feature.
#[derive(Debug, Default)]
pub struct Storage {
    /// Nothing to keep: no clients, options unused (a private field, so that
    /// `Storage::default()` stays the way to make one, as with the feature).
    _local_only: (),
}

impl Storage {
    /// Storage with `key=value` options: checked for their form, otherwise
    /// unused (they configure object stores).
    pub fn with_options<S: AsRef<str>>(pairs: impl IntoIterator<Item = S>) -> Result<Self> {
        for p in pairs {
            parse_pair(p.as_ref())?;
        }
        Ok(Storage::default())
    }

    /// The location `path` names: a local path; a URL is an error.
    pub fn resolve(&self, path: &Path) -> Result<Location> {
        match path.to_str().filter(|s| is_url(s)) {
            Some(url) => Err(Error::Storage {
                url: url.to_string(),
                detail: "URLs need prefix-merge built with the `object-store` feature \
                         (give a local file as a path)"
                    .into(),
            }),
            None => Ok(Location::Local(path.to_path_buf())),
        }
    }
}

/// A remote input open for ranged reads (none exists in this build).
#[derive(Debug)]
pub struct RemoteReader(Never);

impl RemoteReader {
    /// A reader of `object` whose data is read in `blocks`.
    pub fn new(object: RemoteObject, _blocks: Vec<Range<u64>>) -> Self {
        match object.never {}
    }

    /// The object read.
    pub fn object(&self) -> &RemoteObject {
        match self.0 {}
    }

    /// Index of the block holding all of `range`, if one does.
    pub fn block_of(&self, _range: &Range<u64>) -> Option<usize> {
        match self.0 {}
    }

    /// Bytes `range` of the file.
    pub fn read(&self, _range: Range<u64>) -> Result<Bytes> {
        match self.0 {}
    }
}

/// The first storage error an upload hit, shared with the writer that owns it.
pub type ErrorSlot = Arc<Mutex<Option<Error>>>;

/// A multipart upload in progress (none exists in this build).
pub struct Upload(Never);

impl Upload {
    /// Start a multipart upload to `object`.
    pub fn create(object: &RemoteObject) -> Result<Self> {
        match object.never {}
    }

    /// The upload id the store gave.
    pub fn id(&self) -> &str {
        match self.0 {}
    }

    /// The object being uploaded.
    pub fn object(&self) -> &RemoteObject {
        match self.0 {}
    }

    /// Where the first storage error is kept.
    pub fn error_slot(&self) -> ErrorSlot {
        match self.0 {}
    }

    /// Send the last part and wait for every part.
    pub fn finish(self) -> Result<UploadedParts> {
        match self.0 {}
    }

    /// Abort the upload.
    pub fn abort(self) -> Result<()> {
        match self.0 {}
    }
}

impl std::io::Write for Upload {
    fn write(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
        match self.0 {}
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0 {}
    }
}

/// Every part of an upload is stored, the object not visible yet (none exists
/// in this build).
pub struct UploadedParts {
    never: Never,
    /// Size of the object.
    pub bytes: u64,
}

impl UploadedParts {
    /// The object being uploaded.
    pub fn object(&self) -> &RemoteObject {
        match self.never {}
    }

    /// The upload id the store gave.
    pub fn id(&self) -> &str {
        match self.never {}
    }

    /// Complete the upload.
    pub fn complete(&mut self) -> Result<()> {
        match self.never {}
    }

    /// Abort the upload.
    pub fn abort(&mut self) -> Result<()> {
        match self.never {}
    }

    /// Whether the upload was completed or aborted.
    pub fn is_done(&self) -> bool {
        match self.never {}
    }
}

/// Abort upload `id` of `object`.
pub fn abort(object: &RemoteObject, _id: &str) -> Result<()> {
    match object.never {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_and_urls_are_refused_naming_the_feature() {
        let storage = Storage::with_options(["aws_region=eu-west-1"]).expect("pair");
        assert!(matches!(
            storage.resolve(Path::new("/tmp/a.parquet")),
            Ok(Location::Local(p)) if p == Path::new("/tmp/a.parquet")
        ));
        for url in ["s3://bucket/x.parquet", "file:///tmp/x.parquet"] {
            let err = storage.resolve(Path::new(url)).expect_err("a URL");
            assert!(matches!(&err, Error::Storage { url: u, .. } if u == url));
            assert!(err.to_string().contains("`object-store` feature"), "{err}");
        }
        assert!(Storage::with_options(["novalue"]).is_err());
    }
}
