//! Long-lived decompressors, one per thread and codec kind, instead of the fresh contexts parquet-rs builds per column chunk.

use parquet::basic::Compression;
use parquet::errors::{ParquetError, Result};
use std::cell::RefCell;
use std::io::Cursor;

/// Codecs whose pages the pool decompresses: zstd, whose per-chunk context
/// (`ZSTDCodec::new` builds a compressor and a decompressor) is the cost. A zstd
/// frame states its own size, which matters because parquet-rs 60.1 keeps the
/// page header's `uncompressed_page_size` to itself. Snappy, gzip and LZ4 stay
/// with parquet-rs' own path: their codecs hold no large context (gzip builds
/// its inflater per page either way), and LZ4 blocks do not state their size.
pub fn is_pooled(codec: Compression) -> bool {
    matches!(codec, Compression::ZSTD(_))
}

/// The largest page body the Parquet format allows (`i32` sizes): a frame
/// claiming more is corrupt, and is not allocated for.
const MAX_PAGE_BYTES: u64 = i32::MAX as u64;

/// This thread's decompressors, created on first use.
#[derive(Default)]
struct Pool {
    zstd: Option<zstd::bulk::Decompressor<'static>>,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// Decompress `input` (one page body of `codec`) appending to `out`.
pub fn decompress(codec: Compression, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
    POOL.with(|pool| {
        let mut pool = pool.try_borrow_mut().map_err(|_| {
            ParquetError::General("codec pool re-entered on one thread".to_string())
        })?;
        match codec {
            Compression::ZSTD(_) => zstd_page(&mut pool.zstd, input, out),
            other => Err(ParquetError::General(format!(
                "codec {other} is not decompressed by the page pool"
            ))),
        }
    })
}

/// A zstd page: one bulk decompression into exactly the frame's content size
/// with this thread's context; a frame that does not state its size (or several
/// frames) is streamed to its end instead.
fn zstd_page(
    slot: &mut Option<zstd::bulk::Decompressor<'static>>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let size = zstd::zstd_safe::get_frame_content_size(input)
        .ok()
        .flatten();
    let frame_len = zstd::zstd_safe::find_frame_compressed_size(input).ok();
    if size.is_some_and(|s| s > MAX_PAGE_BYTES) {
        return Err(ParquetError::General(format!(
            "zstd frame claims {} bytes, more than a Parquet page can hold",
            size.unwrap_or(0)
        )));
    }
    if let (Some(size), Some(frame_len)) = (size, frame_len) {
        if frame_len == input.len() {
            let size = usize::try_from(size)
                .map_err(|_| ParquetError::General(format!("zstd frame of {size} bytes")))?;
            if slot.is_none() {
                *slot = Some(zstd::bulk::Decompressor::new()?);
            }
            let Some(d) = slot.as_mut() else {
                return Err(ParquetError::General("no zstd context".to_string()));
            };
            let offset = out.len();
            out.reserve_exact(size);
            let mut cursor = Cursor::new(&mut *out);
            cursor.set_position(offset as u64);
            let n = d.decompress_to_buffer(input, &mut cursor)?;
            if n != size {
                return Err(ParquetError::General(format!(
                    "zstd frame states {size} bytes, decompressed {n}"
                )));
            }
            return Ok(());
        }
    }
    let mut decoder = zstd::stream::read::Decoder::with_buffer(input)?;
    std::io::copy(&mut decoder, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::basic::ZstdLevel;

    fn roundtrip(compressed: &[u8]) -> Vec<u8> {
        let mut out = b"levels".to_vec();
        decompress(
            Compression::ZSTD(ZstdLevel::default()),
            compressed,
            &mut out,
        )
        .unwrap();
        out
    }

    #[test]
    fn zstd_pages_with_and_without_a_stated_size() {
        let data: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut want = b"levels".to_vec();
        want.extend_from_slice(&data);
        // Bulk: the frame states its size (what parquet-rs and arrow-cpp write).
        let bulk = zstd::bulk::compress(&data, 3).unwrap();
        assert!(zstd::zstd_safe::get_frame_content_size(&bulk)
            .unwrap()
            .is_some());
        assert_eq!(roundtrip(&bulk), want);
        // Streamed: no stated size; decoded to the frame's end.
        let mut streamed = Vec::new();
        let mut enc = zstd::stream::write::Encoder::new(&mut streamed, 3).unwrap();
        std::io::Write::write_all(&mut enc, &data).unwrap();
        enc.finish().unwrap();
        assert!(zstd::zstd_safe::get_frame_content_size(&streamed)
            .unwrap()
            .is_none());
        assert_eq!(roundtrip(&streamed), want);
        // Two frames back to back.
        let (a, b) = data.split_at(1000);
        let mut two = zstd::bulk::compress(a, 1).unwrap();
        two.extend(zstd::bulk::compress(b, 1).unwrap());
        assert_eq!(roundtrip(&two), want);
        // Corrupt input is an error, not a panic.
        let mut bad = bulk.clone();
        bad.truncate(bulk.len() / 2);
        let mut out = Vec::new();
        assert!(decompress(Compression::ZSTD(ZstdLevel::default()), &bad, &mut out).is_err());
    }

    #[test]
    fn unpooled_codecs_are_refused() {
        for codec in [
            Compression::LZ4_RAW,
            Compression::SNAPPY,
            Compression::UNCOMPRESSED,
        ] {
            assert!(!is_pooled(codec));
            let mut out = Vec::new();
            assert!(decompress(codec, b"x", &mut out).is_err());
        }
    }

    #[test]
    fn an_absurd_stated_size_is_refused() {
        // A frame header (magic; descriptor: single segment, 8-byte content size) that
        // claims 2^40 bytes.
        let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0xe0];
        frame.extend_from_slice(&(1u64 << 40).to_le_bytes());
        frame.extend_from_slice(&[1, 0, 0]);
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&frame)
                .ok()
                .flatten(),
            Some(1 << 40)
        );
        let mut out = Vec::new();
        let e = decompress(Compression::ZSTD(ZstdLevel::default()), &frame, &mut out);
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("more than a Parquet page"));
    }
}
