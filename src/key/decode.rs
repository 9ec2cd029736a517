//! Decoding prefix keys back into values, for display (`inspect`, summaries).

use super::value::KeyValue;
use crate::schema::{Direction, ValueKind};

/// Decode a key built from columns of the given kinds and directions.
/// Returns `None` if the bytes are not a well-formed key for those columns.
pub fn decode_key(key: &[u8], columns: &[(ValueKind, Direction)]) -> Option<Vec<KeyValue>> {
    let mut pos = 0;
    let mut out = Vec::with_capacity(columns.len());
    for &(kind, dir) in columns {
        let presence = *key.get(pos)?;
        pos += 1;
        if presence == 0x02 {
            out.push(KeyValue::Null);
            continue;
        }
        if presence != 0x01 {
            return None;
        }
        let flip = |b: u8| if dir.is_descending() { !b } else { b };
        let mut raw = Vec::new();
        loop {
            let b = flip(*key.get(pos)?);
            pos += 1;
            if b != 0 {
                raw.push(b);
                continue;
            }
            let next = flip(*key.get(pos)?);
            pos += 1;
            match next {
                0 => break,
                1 => raw.push(0),
                _ => return None,
            }
        }
        out.push(decode_raw(kind, &raw)?);
    }
    (pos == key.len()).then_some(out)
}

fn decode_raw(kind: ValueKind, raw: &[u8]) -> Option<KeyValue> {
    Some(match kind {
        ValueKind::Null => return None,
        ValueKind::Bool => match raw {
            [0] => KeyValue::Bool(false),
            [1] => KeyValue::Bool(true),
            _ => return None,
        },
        ValueKind::Int => {
            KeyValue::Int((u64::from_be_bytes(raw.try_into().ok()?) ^ (1 << 63)) as i64)
        }
        ValueKind::UInt => KeyValue::UInt(u64::from_be_bytes(raw.try_into().ok()?)),
        ValueKind::Float32 => {
            let o = u32::from_be_bytes(raw.try_into().ok()?);
            let bits = if o >> 31 == 1 { o ^ (1 << 31) } else { !o };
            KeyValue::Float32(f32::from_bits(bits))
        }
        ValueKind::Float64 => {
            let o = u64::from_be_bytes(raw.try_into().ok()?);
            let bits = if o >> 63 == 1 { o ^ (1 << 63) } else { !o };
            KeyValue::Float64(f64::from_bits(bits))
        }
        ValueKind::Utf8 => KeyValue::Utf8(String::from_utf8_lossy(raw).into_owned()),
        ValueKind::Binary => KeyValue::Binary(raw.to_vec()),
    })
}
