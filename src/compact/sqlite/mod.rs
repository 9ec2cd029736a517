//! The catalog in an SQLite file (rusqlite, bundled): WAL mode, one immediate
//! transaction per operation, a busy timeout so concurrent processes queue.

mod catalog;
mod catalog_impl;
mod commit;
mod rows;
mod schema;

pub use catalog::SqliteCatalog;
