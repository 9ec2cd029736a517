//! Prefix keys (DESIGN §3): an order-preserving byte encoding of a tuple of
//! sort-column values, so that `memcmp` of two keys equals the sort schema's
//! comparison of the tuples (directions and nulls-last included).
//!
//! - [`value`]: typed cell values read from Arrow arrays or statistics;
//! - [`encode`]: the byte encoding;
//! - [`decode`]: back to values, for display.

mod decode;
mod encode;
mod value;

pub use decode::decode_key;
pub use encode::{encode_column, encode_row};
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
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
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
