//! The merge's estimated peak memory, from metadata alone (the compactor's budget).

use super::Region;
use crate::input::{InputFile, COALESCE_LIMIT};

/// Resident set of the process before any input is opened (binary, allocator,
/// runtime, the output writer's fixed buffers).
const BASE_BYTES: u64 = 16 << 20;
/// Per open column reader: decompression context and page buffer.
const PER_COLUMN_READER: u64 = 128 << 10;
/// Decoded batches alive per member: the one being merged, the one the writer
/// thread is gathering from, the one being decoded.
const LIVE_BATCHES: u64 = 3;
/// Per output column: encoder, compression context, page buffers.
const PER_COLUMN_WRITER: u64 = 512 << 10;
/// Footer bytes kept per input after open, per compressed footer byte.
const FOOTER_FACTOR: u64 = 5;

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
            let per_row = (raw / rows.max(1)).max(decoded_row_width(input));
            let batch = per_row * LIVE_BATCHES * (batch_rows as u64).min(rows);
            let read_buffer = packed.min(COALESCE_LIMIT);
            let columns = meta.file_metadata().schema_descr().num_columns() as u64;
            region_readers += batch + read_buffer + columns * PER_COLUMN_READER;
        }
        readers = readers.max(region_readers);
        widest_region = widest_region.max(uncompressed);
    }
    let columns = inputs
        .iter()
        .map(|i| i.metadata.schema().fields().len() as u64)
        .max()
        .unwrap_or(0);
    // The writer buffers one output row group (a region when P > 0), compressed,
    // plus its column encoders.
    let row_group = if prefix_len == 0 {
        widest_region.min(row_group_bytes as u64)
    } else {
        widest_region
    };
    let writer = row_group + columns * PER_COLUMN_WRITER;
    MemoryEstimate {
        base: BASE_BYTES,
        footers,
        readers,
        writer,
    }
}

/// Decoded Arrow bytes per row of the fixed-width parts of `input`'s columns
/// (dictionary keys, offsets, primitives), a floor for the decoded batch size.
fn decoded_row_width(input: &InputFile) -> u64 {
    use arrow_schema::DataType;
    fn width(t: &DataType) -> u64 {
        match t {
            DataType::Dictionary(k, _) => width(k),
            DataType::Utf8 | DataType::Binary => 4 + 8,
            DataType::LargeUtf8 | DataType::LargeBinary => 8 + 8,
            DataType::Utf8View | DataType::BinaryView => 16,
            t => t.primitive_width().map_or(16, |w| w as u64),
        }
    }
    input
        .metadata
        .schema()
        .fields()
        .iter()
        .map(|f| width(f.data_type()))
        .sum()
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
