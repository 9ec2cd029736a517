//! The catalog in PostgreSQL (rust-postgres, no TLS): many tables in one
//! database, every row keyed by table name; leases timed by the database's
//! clock and fenced at commit, so workers on several machines can share it.
//!
//! Clocks: the `now` and `until` arguments of the [`Catalog`](super::Catalog) methods are the
//! caller's clock. Here they only give a lease's *length* (`until - now`);
//! every expiry, `created_at` and `retired_at` is the database's `now()`, so
//! workers with skewed clocks agree on who holds what. `live_jobs` and
//! `expire_jobs` ignore their argument and use the database's clock.
//!
//! Fencing: a lease is the row `(table, job)` in `pm_jobs`; the job id is a
//! ULID never reused, so it is the lease's generation. A commit locks that row
//! and refuses ([`Error::LeaseLost`](crate::Error::LeaseLost)) when it is gone (reaped, abandoned) or
//! expired by the database's clock, and retires only inputs still claimed by
//! that job id. A renewal never revives an expired lease.

mod catalog;
mod catalog_impl;
mod client;
mod commit;
mod schema;

pub use catalog::PgCatalog;
pub use client::{catalog_stats, connect_stats, display_url, is_postgres_url, valid_table_name};
pub use schema::SCHEMA_VERSION;
