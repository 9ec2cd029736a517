//! The merge's estimated peak memory, from metadata alone (the compactor's budget).

use super::Region;
use crate::input::{InputFile, COALESCE_LIMIT};

/// Resident set of the process before any input is opened (binary, allocator,
/// runtime, the output writer's fixed buffers).
const BASE_BYTES: u64 = 24 << 20;
/// Per open column reader: decompression context and page buffer.
const PER_COLUMN_READER: u64 = 160 << 10;
/// Decoded Arrow bytes per encoded uncompressed byte (offsets, validity, padding).
const DECODE_FACTOR: f64 = 2.0;
/// Footer bytes kept per input after open, per compressed footer byte.
const FOOTER_FACTOR: u64 = 3;

/// What the estimate is made of, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct MemoryEstimate {
    /// Process base.
    pub base: u64,
    /// Parsed footers of every input (held for the whole run).
    pub footers: u64,
    /// The widest region: per member one decoded batch, its read buffer and its
    /// column readers.
    pub readers: u64,
    /// The output row group buffered by the writer before it is flushed.
    pub writer: u64,
}

impl MemoryEstimate {
    /// Estimated peak resident bytes of the whole run.
    pub fn total(&self) -> u64 {
        self.base + self.footers + self.readers + self.writer
    }
}

/// Estimate the peak memory of merging `regions` of `inputs` with batches of
/// `batch_rows` rows; `row_group_bytes` caps a P = 0 output row group.
pub fn estimate_memory(
    inputs: &[InputFile],
    regions: &[Region],
    prefix_len: usize,
    batch_rows: usize,
    row_group_bytes: usize,
) -> MemoryEstimate {
    let footers = inputs.iter().map(|i| footer_bytes(i) * FOOTER_FACTOR).sum();
    let mut readers = 0u64;
    let mut widest_region = 0u64;
    for region in regions {
        let mut region_readers = 0u64;
        let mut uncompressed = 0u64;
        for m in &region.members {
            let input = &inputs[m.input];
            let meta = input.metadata.metadata();
            let (mut raw, mut packed, mut rows) = (0u64, 0u64, 0u64);
            for &rg in &m.row_groups {
                if let Some(r) = meta.row_groups().get(rg) {
                    raw += u64::try_from(r.total_byte_size()).unwrap_or(0);
                    packed += u64::try_from(r.compressed_size()).unwrap_or(0);
                    rows += u64::try_from(r.num_rows()).unwrap_or(0);
                }
            }
            uncompressed += raw;
            let per_row = raw as f64 / rows.max(1) as f64;
            let batch = (per_row * DECODE_FACTOR * batch_rows.min(rows as usize) as f64) as u64;
            let read_buffer = packed.min(COALESCE_LIMIT);
            let columns = meta.file_metadata().schema_descr().num_columns() as u64;
            region_readers += batch + read_buffer + columns * PER_COLUMN_READER;
        }
        readers = readers.max(region_readers);
        widest_region = widest_region.max(uncompressed);
    }
    let writer = if prefix_len == 0 {
        widest_region.min(row_group_bytes as u64)
    } else {
        widest_region
    };
    MemoryEstimate {
        base: BASE_BYTES,
        footers,
        readers,
        writer,
    }
}

/// Bytes of an input's Parquet footer (file length minus the column chunks).
fn footer_bytes(input: &InputFile) -> u64 {
    let chunks: u64 = input
        .metadata
        .metadata()
        .row_groups()
        .iter()
        .map(|r| u64::try_from(r.compressed_size()).unwrap_or(0))
        .sum();
    input.file_bytes.saturating_sub(chunks)
}
