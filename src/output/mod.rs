//! Output files and the commit protocol (docs/architecture.md): outputs are written under
//! temporary names carrying the run id, fsynced, and given final names that never
//! replace a file only when the whole merge succeeded; the manifest comes last.
//!
//! - [`OutputSet`] (`set`): the outputs of one merge, from temporary files to
//!   sealed ones; `names`: output names and the output directory;
//! - [`run`]: run ids, temporary names, the lock/journal file;
//! - [`durable`]: fsync of files and directories, no-replace publication;
//! - [`commit`]: sealed outputs, publication and rollback;
//! - [`cleanup`]: removal of what dead runs left behind;
//! - [`manifest`]: the run manifest, the hand-off document of a merge;
//! - `summary`, `file_writer`, `sink`: per-output summary, one output file (its
//!   columns encoded in parallel), the encoding pool;
//! - [`writer_options`]: the outputs' compression, page size, row-group cap and
//!   bloom filters, one validated type;
//! - `rows`, `chunk_writer`, `truncate`: rows handed to the writer (gathered on
//!   its thread), our page writer for flat string and fixed-width columns, and the cut of
//!   long statistics bounds.

mod chunk_writer;
pub mod cleanup;
pub mod commit;
pub mod durable;
mod file_writer;
pub mod manifest;
mod names;
mod rows;
pub mod run;
mod set;
mod sink;
mod summary;
mod truncate;
pub mod writer_options;

pub use cleanup::{cleanup_dir, cleanup_dir_with, CleanupReport};
pub use commit::{ManifestTarget, Pending, Sealed};
pub use file_writer::{OutputFileWriter, OutputIo};
pub use manifest::{InputEntry, Manifest, SortColumnEntry};
pub use names::{check_output_prefix, create_dir, default_output_prefix, output_name};
pub use rows::{Gathered, Rows};
pub use set::{OutputConfig, OutputSet};
pub use sink::OutputSink;
pub use summary::{
    ColumnValues, OutputSummary, SortKey, SummarySpec, SummaryTracker, DISTINCT_CAP,
};
pub use writer_options::{CompressionSpec, WriterOptions};
