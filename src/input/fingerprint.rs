//! A fingerprint of a file's footer (xxh3-64 of the Thrift metadata, its length
//! and the magic): it changes whenever the file is rewritten, so a manifest can
//! name exactly which version of an input a merge read.

use crate::{Error, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// `xxh3:<16 hex digits>` of the last `footer length + 8` bytes of `file`.
pub fn footer_fingerprint(path: &Path, file: &mut File, file_len: u64) -> Result<String> {
    let corrupt = |reason: &str| {
        Error::parquet(
            path,
            parquet::errors::ParquetError::General(format!("footer: {reason}")),
        )
    };
    let mut tail = [0u8; 8];
    if file_len < 8 {
        return Err(corrupt("file shorter than 8 bytes"));
    }
    file.seek(SeekFrom::Start(file_len - 8))
        .and_then(|_| file.read_exact(&mut tail))
        .map_err(|e| Error::io(path, e))?;
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(&tail[..4]);
    let footer_len = u64::from(u32::from_le_bytes(len_bytes)) + 8;
    if footer_len > file_len {
        return Err(corrupt("footer length exceeds the file"));
    }
    let mut footer =
        vec![0u8; usize::try_from(footer_len).map_err(|_| corrupt("footer too large"))?];
    file.seek(SeekFrom::Start(file_len - footer_len))
        .and_then(|_| file.read_exact(&mut footer))
        .map_err(|e| Error::io(path, e))?;
    Ok(fingerprint_of(&footer))
}

/// The fingerprint of a footer given as its last `footer length + 8` bytes.
pub fn fingerprint_of(footer: &[u8]) -> String {
    let hash = twox_hash::XxHash3_64::oneshot(footer);
    format!("xxh3:{hash:016x}")
}

/// Bytes hashed per read by [`content_hash`].
const HASH_CHUNK: u64 = 8 << 20;

/// `xxh3:<16 hex digits>` of a whole file's bytes (a local file, or an object
/// of `len` bytes read in ranged GETs of `HASH_CHUNK`): the identity of its
/// content. Footer fingerprint and size are not enough: two files whose
/// footers carry no statistics for a column can differ only in its pages.
pub fn content_hash(location: &crate::storage::Location, len: u64) -> Result<String> {
    use std::hash::Hasher;
    let mut hasher = twox_hash::XxHash3_64::with_seed(0);
    match location {
        crate::storage::Location::Local(path) => {
            let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
            let mut buf = vec![0u8; HASH_CHUNK as usize];
            loop {
                let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
                if n == 0 {
                    break;
                }
                hasher.write(&buf[..n]);
            }
        }
        crate::storage::Location::Remote(object) => {
            let mut at = 0;
            while at < len {
                let end = (at + HASH_CHUNK).min(len);
                hasher.write(&object.get_range(at..end)?);
                at = end;
            }
        }
    }
    Ok(format!("xxh3:{:016x}", hasher.finish()))
}
