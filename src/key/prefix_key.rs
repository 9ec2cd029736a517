//! [`PrefixKey`]: an encoded prefix key, ordered bytewise, shown as hex.

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
    /// Hex dump; use [`decode_key`](super::decode_key) for a readable form.
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
