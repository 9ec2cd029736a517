//! Prefix keys (docs/architecture.md): an order-preserving byte encoding of a tuple of
//! sort-column values, so that `memcmp` of two keys equals the sort schema's
//! comparison of the tuples (directions and nulls-last included).
//!
//! - [`PrefixKey`] (`prefix_key`): an encoded key, ordered bytewise;
//! - `describe`: a row's sort values and their `col=value` text;
//! - `value`: typed cell values read from Arrow arrays or statistics;
//! - `encode`: the byte encoding;
//! - `decode`: back to values, for display;
//! - `converter`: the arrow row converter over sort columns ([`sort_converter`]);
//! - `sorted`: the SS-1 check ([`SortedCheck`]) and its message.

pub use crate::schema::{is_orderable, ValueKind};

mod converter;
mod decode;
mod describe;
mod encode;
mod prefix_key;
mod sorted;
mod value;

pub use converter::sort_converter;
pub use decode::decode_key;
pub use describe::{describe, describe_row, row_values};
pub use encode::{encode_column, encode_row};
pub use prefix_key::{to_hex, PrefixKey};
pub use sorted::{direction_hint, first_unsorted, Disorder, SortKeys, SortedCheck};
pub use value::{key_value_from_json, value_at, KeyValue};
