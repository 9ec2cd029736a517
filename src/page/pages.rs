//! A page reader over one column chunk: when parquet-rs was told the chunk is uncompressed, it passes page bytes through and this wrapper decompresses them with the thread's pooled codec.

use super::body::with_body;
use super::codec::decompress;
use parquet::basic::Compression;
use parquet::column::page::{Page, PageMetadata, PageReader};
use parquet::errors::{ParquetError, Result};
use parquet::schema::types::ColumnDescPtr;
use std::fmt;

/// Which chunk a page reader reads, for errors (formatted only on error).
pub struct ChunkId {
    pub row_group: usize,
    pub column: ColumnDescPtr,
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "row group {}, column {}",
            self.row_group,
            self.column.path()
        )
    }
}

impl ChunkId {
    /// `e` with the chunk named.
    pub fn locate(&self, e: ParquetError) -> ParquetError {
        ParquetError::General(format!("{self}: {e}"))
    }
}

/// Pages of one column chunk, read by `inner`; errors name the chunk.
pub struct PooledPages<P> {
    inner: P,
    /// The chunk's codec when `inner` reads it as UNCOMPRESSED and pages are
    /// decompressed here; `None` when `inner` decompresses (parquet-rs' path).
    codec: Option<Compression>,
    /// The chunk, for errors.
    location: ChunkId,
}

impl<P: PageReader> PooledPages<P> {
    /// Wrap `inner`, which reads a chunk of `codec` presented as UNCOMPRESSED
    /// (`None`: `inner` reads the chunk as it is).
    pub fn new(inner: P, codec: Option<Compression>, location: ChunkId) -> Self {
        PooledPages {
            inner,
            codec,
            location,
        }
    }

    fn locate(&self, e: ParquetError) -> ParquetError {
        self.location.locate(e)
    }

    fn inflate(&self, page: Option<Page>) -> Result<Option<Page>> {
        match (self.codec, page) {
            (Some(codec), Some(p)) => inflate(codec, p).map(Some),
            (_, page) => Ok(page),
        }
    }
}

/// The whole buffer decompressed.
fn whole(codec: Compression, buf: &[u8]) -> Result<bytes::Bytes> {
    let mut out = Vec::new();
    decompress(codec, buf, &mut out)?;
    Ok(out.into())
}

/// `page` with its body decompressed: v1 data and dictionary pages whole, v2
/// data pages after their (never compressed) level bytes and only when flagged
/// compressed.
fn inflate(codec: Compression, page: Page) -> Result<Page> {
    Ok(match page {
        Page::DataPageV2 {
            buf,
            num_values,
            encoding,
            num_nulls,
            num_rows,
            def_levels_byte_len,
            rep_levels_byte_len,
            is_compressed: true,
            statistics,
        } => {
            let levels = def_levels_byte_len as usize + rep_levels_byte_len as usize;
            if levels > buf.len() {
                return Err(ParquetError::General(format!(
                    "data page v2 levels ({levels} bytes) exceed the page ({} bytes)",
                    buf.len()
                )));
            }
            let mut out = Vec::with_capacity(levels);
            out.extend_from_slice(&buf[..levels]);
            if buf.len() > levels {
                decompress(codec, &buf[levels..], &mut out)?;
            }
            Page::DataPageV2 {
                buf: out.into(),
                num_values,
                encoding,
                num_nulls,
                num_rows,
                def_levels_byte_len,
                rep_levels_byte_len,
                is_compressed: false,
                statistics,
            }
        }
        other => with_body(other, |buf| whole(codec, buf))?,
    })
}

impl<P: PageReader> Iterator for PooledPages<P> {
    type Item = Result<Page>;

    fn next(&mut self) -> Option<Self::Item> {
        self.get_next_page().transpose()
    }
}

impl<P: PageReader> PageReader for PooledPages<P> {
    fn get_next_page(&mut self) -> Result<Option<Page>> {
        let page = self.inner.get_next_page();
        page.and_then(|p| self.inflate(p))
            .map_err(|e| self.locate(e))
    }

    fn peek_next_page(&mut self) -> Result<Option<PageMetadata>> {
        self.inner.peek_next_page().map_err(|e| self.locate(e))
    }

    fn skip_next_page(&mut self) -> Result<()> {
        self.inner.skip_next_page().map_err(|e| self.locate(e))
    }

    fn supports_deferred_dictionary(&self) -> bool {
        self.inner.supports_deferred_dictionary()
    }

    fn take_deferred_dictionary(&mut self) -> Result<Option<Page>> {
        let page = self.inner.take_deferred_dictionary();
        page.and_then(|p| self.inflate(p))
            .map_err(|e| self.locate(e))
    }

    fn at_record_boundary(&mut self) -> Result<bool> {
        self.inner.at_record_boundary().map_err(|e| self.locate(e))
    }
}
