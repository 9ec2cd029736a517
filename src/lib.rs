//! prefix-merge: streaming, page-bounded merge of sorted Parquet files.
//!
//! Data flows one way: inputs -> plan -> merge -> outputs.
//! - [`schema`]: the sort schema (parse, display, resolve against a file);
//! - [`key`]: prefix keys, an order-preserving byte encoding of sort values;
//! - [`input`]: opening a file once and deriving its contract and row-group keys;
//! - [`plan`]: metadata-only checks and planning (alignment);
//! - [`write`](mod@write): the indexing-side writer that produces aligned files;
//! - [`gen`]: deterministic sample metrics data;
//! - [`inspect`]: the report behind `prefix-merge inspect`;
//! - [`verify`]: deep data checks behind `prefix-merge verify`;
//! - [`predicate`]: delete predicates (parse, test rows and metadata);
//! - [`merge`], [`output`]: the streaming merge engine and its output files;
//! - [`page`]: the page source the readers decode from (one open file per input,
//!   long-lived codecs);
//! - [`storage`]: local paths and object-store URLs, and all I/O on the latter;
//! - [`compact`]: tables of splits kept compacted (catalog, policy, jobs, gc), on
//!   top of the engine.
//!
//! # Cargo features
//!
//! The default features are all of them (what `cargo run` and `cargo test`
//! build); with `default-features = false` only the engine and writer remain
//! (everything above except [`compact`], and local paths only in [`storage`]):
//! - `object-store`: inputs and outputs behind `s3://`, `gs://`, `az://`,
//!   `http(s)://` and `file://` URLs (object_store, url, futures, tokio's
//!   multi-thread runtime); without it resolving a URL is an
//!   [`Error::Storage`] that names the feature;
//! - `sqlite`: the [`compact`] layer with its SQLite catalog (rusqlite);
//! - `postgres`: the shared PostgreSQL catalog and the compactor service
//!   (postgres; implies `sqlite`);
//! - `cli`: the `prefix-merge` binary (clap, indicatif, signal-hook,
//!   tracing-subscriber; implies `sqlite` and `postgres`).
//!
//! The design (pipeline, prefix keys, invariants, commit protocol, compactor,
//! storage) is in `docs/architecture.md`; the file contract (`qh.*` keys, sort
//! schema grammar, P, `sorting_columns`) in `docs/contract.md`.

// Every public item carries a doc comment (CI denies warnings).
#![warn(missing_docs)]

#[cfg(feature = "sqlite")]
pub mod compact;
pub mod error;
pub mod gen;
pub mod input;
pub mod inspect;
pub mod key;
pub mod merge;
pub mod output;
pub mod page;
pub mod plan;
pub mod predicate;
pub mod schema;
pub mod storage;
pub mod verify;
pub mod write;

pub use error::{Error, Result};

/// The README's code blocks, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
pub use input::InputFile;
pub use merge::{MergeBuilder, MergeResult};
pub use output::{CompressionSpec, WriterOptions};
pub use schema::{Direction, SortColumn, SortSchema};
