//! Storage access in one place: where a file lives (a local path, or an object in
//! S3, GCS, Azure or over HTTP, through the `object_store` crate, with the
//! `object-store` feature), and the I/O the engine does there. The engine stays synchronous; remote I/O runs on a small
//! tokio runtime behind it.
//!
//! - `path`: paths and URLs told apart, [`Location`];
//! - `location`: parsing URLs into remote objects, one client per store;
//! - `options`: `--storage-option key=value`, credentials from the environment;
//! - `runtime`: the I/O runtime and the blocking bridge to it;
//! - `error`: object-store failures as one-line [`Error::Storage`](crate::Error);
//! - `read`: ranged reads with a bounded prefetch window per input;
//! - `upload`: multipart uploads of bounded part size, completed or aborted;
//! - [`stats`]: request and byte counters (for benchmarks and reports);
//! - `local_only`: without the `object-store` feature, local paths only (a URL
//!   is an error) and the remote types without values, in place of the above.

#[cfg(feature = "object-store")]
mod error;
#[cfg(not(feature = "object-store"))]
mod local_only;
#[cfg(feature = "object-store")]
mod location;
mod options;
mod path;
#[cfg(feature = "object-store")]
mod read;
#[cfg(feature = "object-store")]
mod runtime;
pub mod stats;
#[cfg(feature = "object-store")]
mod upload;

#[cfg(feature = "object-store")]
pub use error::storage_error;
#[cfg(not(feature = "object-store"))]
pub use local_only::{
    abort as abort_upload, ErrorSlot, RemoteObject, RemoteReader, Storage, Store, Upload,
    UploadedParts,
};
#[cfg(feature = "object-store")]
pub use location::{RemoteObject, Storage, Store};
pub use options::{parse_size, Tuning};
pub use path::{is_url, Location};
#[cfg(feature = "object-store")]
pub use read::RemoteReader;
#[cfg(feature = "object-store")]
pub use runtime::block_on;
#[cfg(feature = "object-store")]
pub use upload::{abort as abort_upload, ErrorSlot, Upload, UploadedParts};
