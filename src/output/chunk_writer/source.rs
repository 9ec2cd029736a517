//! The arrays a transcoded column is fed from: Arrow dictionaries (keys of any
//! integer type into byte values) or plain byte arrays.

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;

pub(super) fn is_bytes(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary
    )
}

/// Bytes of value `k` of a byte array (`None`: null).
pub(super) fn value_at(values: &dyn Array, k: usize) -> Option<&[u8]> {
    if k >= values.len() || values.is_null(k) {
        return None;
    }
    match values.data_type() {
        DataType::Utf8 => Some(values.as_string::<i32>().value(k).as_bytes()),
        DataType::LargeUtf8 => Some(values.as_string::<i64>().value(k).as_bytes()),
        DataType::Binary => Some(values.as_binary::<i32>().value(k)),
        DataType::LargeBinary => Some(values.as_binary::<i64>().value(k)),
        _ => None,
    }
}

/// Dictionary keys of any integer type.
pub(super) enum Keys<'a> {
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
}

impl<'a> Keys<'a> {
    pub(super) fn new(keys: &'a dyn Array) -> Option<Self> {
        use arrow_array::types::*;
        Some(match keys.data_type() {
            DataType::Int8 => Keys::I8(keys.as_primitive_opt::<Int8Type>()?.values()),
            DataType::Int16 => Keys::I16(keys.as_primitive_opt::<Int16Type>()?.values()),
            DataType::Int32 => Keys::I32(keys.as_primitive_opt::<Int32Type>()?.values()),
            DataType::Int64 => Keys::I64(keys.as_primitive_opt::<Int64Type>()?.values()),
            DataType::UInt8 => Keys::U8(keys.as_primitive_opt::<UInt8Type>()?.values()),
            DataType::UInt16 => Keys::U16(keys.as_primitive_opt::<UInt16Type>()?.values()),
            DataType::UInt32 => Keys::U32(keys.as_primitive_opt::<UInt32Type>()?.values()),
            DataType::UInt64 => Keys::U64(keys.as_primitive_opt::<UInt64Type>()?.values()),
            _ => return None,
        })
    }

    /// Key of row `r` (`usize::MAX` past the end or for a negative key).
    #[inline]
    pub(super) fn get(&self, r: usize) -> usize {
        let key = match self {
            Keys::I8(k) => k.get(r).and_then(|&v| usize::try_from(v).ok()),
            Keys::I16(k) => k.get(r).and_then(|&v| usize::try_from(v).ok()),
            Keys::I32(k) => k.get(r).and_then(|&v| usize::try_from(v).ok()),
            Keys::I64(k) => k.get(r).and_then(|&v| usize::try_from(v).ok()),
            Keys::U8(k) => k.get(r).map(|&v| usize::from(v)),
            Keys::U16(k) => k.get(r).map(|&v| usize::from(v)),
            Keys::U32(k) => k.get(r).and_then(|&v| usize::try_from(v).ok()),
            Keys::U64(k) => k.get(r).and_then(|&v| usize::try_from(v).ok()),
        };
        key.unwrap_or(usize::MAX)
    }
}

/// One source array of a write.
pub(super) enum Source<'a> {
    /// An Arrow dictionary: keys, key nulls, values and the slot of its remap.
    Dict {
        keys: Keys<'a>,
        nulls: Option<NullBuffer>,
        values: ArrayRef,
        slot: usize,
    },
    /// Plain byte values.
    Plain(&'a dyn Array),
}

impl Source<'_> {
    /// Bytes of row `r` (`None`: null).
    pub(super) fn value(&self, r: usize) -> Option<&[u8]> {
        match self {
            Source::Dict {
                keys,
                nulls,
                values,
                ..
            } => {
                if nulls.as_ref().is_some_and(|n| n.is_null(r)) {
                    return None;
                }
                value_at(values.as_ref(), keys.get(r))
            }
            Source::Plain(array) => value_at(*array, r),
        }
    }
}
