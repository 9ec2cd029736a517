//! Bounds of long byte values cut to the configured length, as parquet-rs cuts
//! them in statistics and column indexes: a minimum is cut (at a character
//! boundary for UTF-8), a maximum is cut and its last character (or byte)
//! incremented so that it still bounds the value. A value that cannot be cut
//! that way is kept whole.

/// `value` cut to at most `limit` bytes as a lower bound; `true` if it was cut.
pub(crate) fn lower_bound(value: &[u8], limit: Option<usize>, utf8: bool) -> (Vec<u8>, bool) {
    let cut = limit.filter(|&l| value.len() > l).and_then(|l| {
        match std::str::from_utf8(value).ok().filter(|_| utf8) {
            Some(s) => {
                let end = (1..=l).rev().find(|&i| s.is_char_boundary(i))?;
                Some(value[..end].to_vec())
            }
            None => Some(value[..l].to_vec()),
        }
    });
    match cut {
        Some(v) => (v, true),
        None => (value.to_vec(), false),
    }
}

/// `value` cut to at most `limit` bytes as an upper bound; `true` if it was cut.
pub(crate) fn upper_bound(value: &[u8], limit: Option<usize>, utf8: bool) -> (Vec<u8>, bool) {
    let cut = limit.filter(|&l| value.len() > l).and_then(|l| {
        match std::str::from_utf8(value).ok().filter(|_| utf8) {
            Some(s) => {
                let end = (l.saturating_sub(3)..=l)
                    .rev()
                    .find(|&i| s.is_char_boundary(i))?;
                increment_last_char(s.get(..end)?)
            }
            None => increment_last_byte(value[..l].to_vec()),
        }
    });
    match cut {
        Some(v) => (v, true),
        None => (value.to_vec(), false),
    }
}

/// The shortest prefix of `s` whose last character is replaced by the next code
/// point of the same UTF-8 width (characters that cannot be are dropped).
fn increment_last_char(s: &str) -> Option<Vec<u8>> {
    s.char_indices().rev().find_map(|(at, c)| {
        let next = char::from_u32(u32::from(c) + 1).filter(|n| n.len_utf8() == c.len_utf8())?;
        let mut out = s.as_bytes()[..at].to_vec();
        let mut buf = [0u8; 4];
        out.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
        Some(out)
    })
}

/// `bytes` plus one, as a big-endian number (`None` if all bytes are 0xFF).
fn increment_last_byte(mut bytes: Vec<u8>) -> Option<Vec<u8>> {
    for b in bytes.iter_mut().rev() {
        if *b == u8::MAX {
            *b = 0;
        } else {
            *b += 1;
            return Some(bytes);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_still_bound_the_value() {
        let v = "abcdéz".as_bytes(); // é is two bytes at 4..6
        assert_eq!(lower_bound(v, Some(5), true), (b"abcd".to_vec(), true));
        assert_eq!(upper_bound(v, Some(5), true), (b"abce".to_vec(), true));
        assert_eq!(lower_bound(v, Some(5), false), (v[..5].to_vec(), true));
        assert_eq!(
            upper_bound(b"ab\xff\xff", Some(3), false),
            (b"ac\0".to_vec(), true)
        );
        assert_eq!(
            upper_bound(b"\xff\xff\xff", Some(2), false),
            (b"\xff\xff\xff".to_vec(), false)
        );
        assert_eq!(
            lower_bound(b"short", Some(64), true),
            (b"short".to_vec(), false)
        );
        assert_eq!(
            upper_bound(b"short", None, true),
            (b"short".to_vec(), false)
        );
    }
}
