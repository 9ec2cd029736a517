//! The compactor (docs/architecture.md): a table of splits kept compacted, on top of the
//! merge engine (which knows nothing of tables).
//!
//! - `catalog`: the catalog trait and its records (splits, leases, job history);
//! - `sqlite`: the catalog in an SQLite file;
//! - `postgres`: the catalog in PostgreSQL, shared by workers on many machines
//!   (the `postgres` feature, as are `service` and `metrics`);
//! - `table`: a table directory: create, open, add, list;
//! - `delete`: tombstones: which apply to a split, delete-only jobs, retirement;
//! - `live_set`: the reader's view of a table (`table ls --json`);
//! - `worker`: job ids, leases and their heartbeat, dead-owner detection;
//! - `policy`: which jobs to run (windows, stable-log levels, final merge, retention);
//! - `job`: one job: prepare, lease, merge, commit, skip bad inputs;
//! - `compactor`: rounds of jobs under a memory budget;
//! - `service`: the long-running compactor over a shared catalog's tables;
//! - `metrics`: the service's Prometheus metrics;
//! - `gc`: deletion of retired splits after a grace period, orphans, dead jobs;
//! - `failpoint`: crash points for the simulation tests.

pub mod catalog;
pub mod compactor;
pub mod delete;
pub mod failpoint;
pub mod gc;
pub mod job;
pub mod live_set;
#[cfg(feature = "postgres")]
pub mod metrics;
pub mod policy;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "postgres")]
pub mod service;
mod sql_row;
pub mod sqlite;
pub mod table;
pub mod worker;

pub use catalog::{Added, Catalog, JobRecord, Lease, Split, SplitState, TableSettings, Tombstone};
pub use compactor::{compact, plan, CompactOptions, CompactReport, PlannedJob};
pub use delete::{Deletes, Pending, TombstoneReport};
pub use gc::{gc, GcReport};
pub use job::Outcome;
pub use live_set::{LiveSet, LiveSplit, LIVE_SET_VERSION};
pub use policy::{JobKind, JobSpec, Policy, WindowPlan};
#[cfg(feature = "postgres")]
pub use postgres::PgCatalog;
pub use sqlite::SqliteCatalog;
pub use table::Table;
pub use worker::Worker;
