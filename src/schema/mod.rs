//! Sort schema: the ordered list of columns a split is sorted by.
//!
//! - [`SortSchema`] (`sort_schema`): the schema, its columns and directions;
//! - [`parse`]: the Quickwit/Husky grammar found in `qh.sort_fields`;
//! - `display`: the inverse of parsing (`parse(display(s)) == s`);
//! - [`resolve`]: binding a schema to a file's Arrow schema;
//! - [`ValueKind`]: which column types may be sort columns ([`is_orderable`]);
//! - [`from_sorting_columns`]: fallback to Parquet's standard `sorting_columns`;
//! - [`union_schemas`]: the unified output schema of several inputs (MC-4).

mod display;
mod kind;
mod parse;
mod resolve;
mod sort_schema;
mod sorting_columns;
mod union;

pub use kind::{is_orderable, ValueKind};
pub use parse::parse;
pub use resolve::{resolve, resolve_batch, ResolvedColumn};
pub use sort_schema::{describe_fields, is_time_column_name, Direction, SortColumn, SortSchema};
pub use sorting_columns::{describe_sorting_columns, from_sorting_columns, to_sorting_columns};
pub use union::{union_schemas, InputAdapter, SchemaUnion};
