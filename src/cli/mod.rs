//! Command-line front end: argument parsing and dispatch to subcommands.

mod args;
mod cleanup;
mod compact;
mod compactor;
mod defaults;
mod demo;
mod dispatch;
mod gen;
mod inspect;
mod merge;
mod report;
mod signals;
mod table;
mod verify;

pub use args::{open_table, table_name, CatalogArgs, StorageArgs};
pub use dispatch::run;
pub use report::{flag_error, print_io_stats, print_json, CliResult, EXIT_USAGE, EXIT_VIOLATION};
