//! The library's default values as the text clap shows and parses
//! (`[default: 1GiB]`), so that every CLI default comes from a named constant.

use std::time::Duration;

/// `bytes` as a size `parse_size` reads back: `1GiB`, `256MiB`, `4KiB` or bytes.
pub fn size(bytes: u64) -> &'static str {
    let text = [(30, "GiB"), (20, "MiB"), (10, "KiB")]
        .into_iter()
        .find(|(shift, _)| bytes >= 1 << shift && bytes.is_multiple_of(1 << shift))
        .map_or_else(
            || bytes.to_string(),
            |(shift, unit)| format!("{}{unit}", bytes >> shift),
        );
    leak(text)
}

/// `d` as a duration humantime reads back: `10m`, `1h 30m`.
pub fn duration(d: Duration) -> &'static str {
    leak(humantime::format_duration(d).to_string())
}

/// clap takes default texts as `&'static str`; a few bytes per parse.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prefix_merge::storage::parse_size;

    #[test]
    fn default_texts_parse_back_to_the_constants() {
        for bytes in [1 << 30, 256 << 20, 3 << 10, 1_000_000, 0, 7] {
            assert_eq!(parse_size(size(bytes)), Ok(bytes), "{}", size(bytes));
        }
        assert_eq!(size(1 << 30), "1GiB");
        for d in [600, 60, 10, 5400].map(Duration::from_secs) {
            assert_eq!(humantime::parse_duration(duration(d)), Ok(d));
        }
    }
}
