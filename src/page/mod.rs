//! The engine's own page path: parquet-rs decoding fed by one open file per input, and long-lived codecs on both sides.

mod body; // a page with its body replaced, header fields kept
mod codec; // long-lived decompressors, one per thread and codec kind
mod compress; // output chunks' pages compressed with one long-lived compressor per output file
mod file; // an input file opened once, read with positional reads
mod levels; // `FieldLevels` computed once per (input schema, projection)
mod pages; // a page reader that decompresses pages parquet-rs passes through
mod source; // `RowGroups` / `PageIterator` over an input's chunks, and the batch reader on them

pub use codec::{decompress, is_pooled};
pub use compress::{CapturedChunk, PageCapture};
pub use file::SharedFile;
pub use levels::LevelsCache;
pub use pages::PooledPages;
pub use source::{batch_reader, PageSource};
