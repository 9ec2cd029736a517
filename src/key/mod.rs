//! Prefix keys (docs/architecture.md): an order-preserving byte encoding of a tuple of
//! sort-column values, so that `memcmp` of two keys equals the sort schema's
//! comparison of the tuples (directions and nulls-last included).
//!
//! - `value`: typed cell values read from Arrow arrays or statistics;
//! - `encode`: the byte encoding;
//! - `decode`: back to values, for display;
//! - `sorted`: the SS-1 check ([`SortedCheck`]) and its message.

mod decode;
mod encode;
mod sorted;
mod value;

pub use decode::decode_key;
pub use encode::{encode_column, encode_row};
pub use sorted::{direction_hint, first_unsorted, Disorder, SortedCheck};
pub use value::{is_orderable, value_at, KeyValue, ValueKind};

use serde::Serialize;
use std::fmt;

/// An encoded prefix key. Ordering is plain byte order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct PrefixKey(pub Vec<u8>);

impl PrefixKey {
    /// The raw encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for PrefixKey {
    /// Hex dump; use [`decode_key`] for a readable form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

/// Lowercase hex of `bytes` (encoded keys and binary values in JSON).
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The values of the named columns at `row` (null for a column the batch lacks or
/// cannot be read as a sort value).
pub fn row_values<S: AsRef<str>>(
    batch: &arrow_array::RecordBatch,
    names: &[S],
    row: usize,
) -> Vec<KeyValue> {
    names
        .iter()
        .map(|n| {
            batch
                .column_by_name(n.as_ref())
                .and_then(|c| value_at(c.as_ref(), row).ok())
                .unwrap_or(KeyValue::Null)
        })
        .collect()
}

/// `col=value, ...` of one row of the named columns.
pub fn describe_row<S: AsRef<str>>(
    batch: &arrow_array::RecordBatch,
    names: &[S],
    row: usize,
) -> String {
    let refs: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    describe(&refs, &row_values(batch, names, row))
}

/// Render decoded values as `col=value, col=value`.
pub fn describe(names: &[&str], values: &[KeyValue]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
