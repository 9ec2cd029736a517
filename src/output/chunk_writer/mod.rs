//! The engine's own page writer for flat columns, with long-lived per-column
//! state fed run by run from the merge's gather (never a gathered array).
//!
//! - `pages`: the stages every kind shares: settings, data pages compressed with
//!   the file's one codec, column index entries, and at close the dictionary
//!   page, data pages, chunk metadata, offset index and bloom filter;
//! - `chunk`, `source`, `writer`: string columns: a chunk's dictionary is the
//!   union of the input dictionaries (each input value hashed once per input
//!   dictionary; plain strings hashed only where the value changes), rows become
//!   remapped indices;
//! - `fixed`: the writer of INT32 / INT64 / FLOAT / DOUBLE columns: values
//!   hashed by their bits only where they change from the previous row;
//! - `native`: its value kinds (order, statistics, eligible columns).
//!
//! As in parquet-rs, a chunk whose dictionary outgrows the dictionary page limit
//! continues with PLAIN pages. Data pages close at the writer properties'
//! row-count or size limit (the size estimated as parquet-rs estimates it).

mod chunk;
mod fixed;
mod native;
mod pages;
mod source;
mod writer;

pub(crate) use fixed::FixedChunkWriter;
pub(crate) use native::fixed_eligible;
pub(crate) use writer::{eligible, DictChunkWriter};
