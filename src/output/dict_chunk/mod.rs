//! String columns written without re-interning every cell: a column chunk's
//! dictionary is the union of the dictionaries of the batches that feed it (each
//! distinct input value hashed once per input dictionary, on first use; plain
//! string inputs are hashed only where the value changes), rows become remapped
//! indices, and pages are built from parquet-rs' own pieces (RLE and PLAIN
//! encoders, codecs, page writer, statistics, column and offset index builders,
//! bloom filter). As in parquet-rs, a chunk whose dictionary outgrows the
//! dictionary page limit continues with PLAIN pages. Data pages close at the
//! writer properties' row-count or size limit (the size estimated as parquet-rs
//! estimates it), whichever comes first. The codec (and its
//! compression context) lives as long as the output file, not one chunk.

mod chunk;
mod source;
mod writer;

pub(crate) use writer::{eligible, DictChunkWriter};
