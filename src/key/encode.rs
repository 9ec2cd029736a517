//! The byte encoding of prefix keys (docs/architecture.md, "Prefix keys").
//!
//! Per column: presence byte (`0x01` value, `0x02` null, so nulls sort last in
//! both directions); for a value, its order-preserving bytes escaped
//! (`0x00 -> 0x00 0x01`) and terminated by `0x00 0x00`, all complemented for a
//! descending column. Each column's encoding is self-delimiting, so no key is a
//! proper prefix of another key with the same columns.

use super::value::KeyValue;
use crate::schema::Direction;

const PRESENT: u8 = 0x01;
const NULL: u8 = 0x02;

/// Append the encoding of one column value to `out`.
pub fn encode_column(out: &mut Vec<u8>, value: &KeyValue, direction: Direction) {
    let raw: smallvec::SmallVec<[u8; 16]> = match value {
        KeyValue::Null => {
            out.push(NULL);
            return;
        }
        KeyValue::Bool(b) => smallvec::smallvec![u8::from(*b)],
        KeyValue::Int(v) => (*v as u64 ^ (1 << 63)).to_be_bytes().into_iter().collect(),
        KeyValue::UInt(v) => v.to_be_bytes().into_iter().collect(),
        KeyValue::Float32(v) => {
            let bits = v.to_bits();
            let ordered = if bits >> 31 == 1 {
                !bits
            } else {
                bits ^ (1 << 31)
            };
            ordered.to_be_bytes().into_iter().collect()
        }
        KeyValue::Float64(v) => {
            let bits = v.to_bits();
            let ordered = if bits >> 63 == 1 {
                !bits
            } else {
                bits ^ (1 << 63)
            };
            ordered.to_be_bytes().into_iter().collect()
        }
        KeyValue::Utf8(s) => {
            out.push(PRESENT);
            return escape_into(out, s.as_bytes(), direction);
        }
        KeyValue::Binary(b) => {
            out.push(PRESENT);
            return escape_into(out, b, direction);
        }
    };
    out.push(PRESENT);
    escape_into(out, &raw, direction);
}

fn escape_into(out: &mut Vec<u8>, bytes: &[u8], direction: Direction) {
    let start = out.len();
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(1);
        }
    }
    out.extend_from_slice(&[0, 0]);
    if direction.is_descending() {
        out[start..].iter_mut().for_each(|b| *b = !*b);
    }
}

/// Encode a whole tuple (one value per column, directions in the same order).
pub fn encode_row(values: &[KeyValue], directions: &[Direction]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 12);
    for (v, d) in values.iter().zip(directions) {
        encode_column(&mut out, v, *d);
    }
    out
}
