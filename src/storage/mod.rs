//! Storage access in one place: where a file lives (a local path, or an object in
//! S3, GCS, Azure or over HTTP, through the `object_store` crate), and the I/O the
//! engine does there. The engine stays synchronous; remote I/O runs on a small
//! tokio runtime behind it.
//!
//! - `location`: parsing paths and URLs into [`Location`]s, one client per store;
//! - `options`: `--storage-option key=value`, credentials from the environment;
//! - `runtime`: the I/O runtime and the blocking bridge to it;
//! - `error`: object-store failures as one-line [`Error::Storage`](crate::Error);
//! - `read`: ranged reads with a bounded prefetch window per input;
//! - `upload`: multipart uploads of bounded part size, completed or aborted;
//! - [`stats`]: request and byte counters (for benchmarks and reports).

mod error;
mod location;
mod options;
mod read;
mod runtime;
pub mod stats;
mod upload;

pub use error::storage_error;
pub use location::{is_url, Location, RemoteObject, Storage, Store};
pub use options::{parse_size, Tuning};
pub use read::RemoteReader;
pub use runtime::block_on;
pub use upload::{abort as abort_upload, ErrorSlot, Upload, UploadedParts};
