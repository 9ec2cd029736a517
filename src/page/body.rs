//! A v1 data page or dictionary page with its body replaced (decompressed or compressed) and its header fields kept.

use bytes::Bytes;
use parquet::column::page::Page;
use parquet::errors::Result;

/// `page` with the body of a v1 data page or a dictionary page replaced by
/// `f(body)`; a v2 data page (whose level bytes are never compressed) is
/// returned as it is.
pub(crate) fn with_body(page: Page, f: impl FnOnce(&[u8]) -> Result<Bytes>) -> Result<Page> {
    Ok(match page {
        Page::DictionaryPage {
            buf,
            num_values,
            encoding,
            is_sorted,
        } => Page::DictionaryPage {
            buf: f(&buf)?,
            num_values,
            encoding,
            is_sorted,
        },
        Page::DataPage {
            buf,
            num_values,
            encoding,
            def_level_encoding,
            rep_level_encoding,
            statistics,
        } => Page::DataPage {
            buf: f(&buf)?,
            num_values,
            encoding,
            def_level_encoding,
            rep_level_encoding,
            statistics,
        },
        v2 @ Page::DataPageV2 { .. } => v2,
    })
}
