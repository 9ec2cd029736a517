//! Typed values of orderable Arrow columns.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_buffer::ArrowNativeType;
use arrow_schema::{ArrowError, DataType};
use serde::Serialize;
use std::fmt;

/// One cell of a sort column, widened to a canonical representation: signed
/// integers (and dates, timestamps) as `i64`, unsigned as `u64`.
///
/// Serializes as a plain JSON value: `null`, `true`, a number (floats that are not
/// finite as the strings `"NaN"`, `"inf"`, `"-inf"`), a string, or binary as a
/// lowercase hex string.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    /// A null cell.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer (any width, dates and timestamps as their integer).
    Int(i64),
    /// An unsigned integer (any width).
    UInt(u64),
    /// A 32-bit float.
    Float32(f32),
    /// A 64-bit float.
    Float64(f64),
    /// A string (also dictionary-encoded strings).
    Utf8(String),
    /// Bytes.
    Binary(Vec<u8>),
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyValue::Null => f.write_str("null"),
            KeyValue::Bool(b) => write!(f, "{b}"),
            KeyValue::Int(v) => write!(f, "{v}"),
            KeyValue::UInt(v) => write!(f, "{v}"),
            KeyValue::Float32(v) => write!(f, "{v}"),
            KeyValue::Float64(v) => write!(f, "{v}"),
            KeyValue::Utf8(s) => write!(f, "\"{s}\""),
            KeyValue::Binary(b) => {
                write!(f, "0x{}", super::prefix_key::to_hex(b))
            }
        }
    }
}

impl Serialize for KeyValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        fn float<S: serde::Serializer>(v: f64, s: S) -> Result<S::Ok, S::Error> {
            if v.is_finite() {
                s.serialize_f64(v)
            } else if v.is_nan() {
                s.serialize_str("NaN")
            } else if v > 0.0 {
                s.serialize_str("inf")
            } else {
                s.serialize_str("-inf")
            }
        }
        match self {
            KeyValue::Null => s.serialize_unit(),
            KeyValue::Bool(b) => s.serialize_bool(*b),
            KeyValue::Int(v) => s.serialize_i64(*v),
            KeyValue::UInt(v) => s.serialize_u64(*v),
            KeyValue::Float32(v) => float(f64::from(*v), s),
            KeyValue::Float64(v) => float(*v, s),
            KeyValue::Utf8(v) => s.serialize_str(v),
            KeyValue::Binary(b) => s.serialize_str(&super::prefix_key::to_hex(b)),
        }
    }
}

/// The value at `row` of an orderable array. Errors on unorderable types or an
/// out-of-range row.
pub fn value_at(array: &dyn Array, row: usize) -> Result<KeyValue, ArrowError> {
    if row >= array.len() {
        return Err(ArrowError::InvalidArgumentError(format!(
            "row {row} out of range for array of length {}",
            array.len()
        )));
    }
    if array.is_null(row) {
        return Ok(KeyValue::Null);
    }
    use DataType::*;
    Ok(match array.data_type() {
        Null => KeyValue::Null,
        Boolean => KeyValue::Bool(array.as_boolean().value(row)),
        Int8 => KeyValue::Int(array.as_primitive::<Int8Type>().value(row).into()),
        Int16 => KeyValue::Int(array.as_primitive::<Int16Type>().value(row).into()),
        Int32 => KeyValue::Int(array.as_primitive::<Int32Type>().value(row).into()),
        Int64 => KeyValue::Int(array.as_primitive::<Int64Type>().value(row)),
        Date32 => KeyValue::Int(array.as_primitive::<Date32Type>().value(row).into()),
        Date64 => KeyValue::Int(array.as_primitive::<Date64Type>().value(row)),
        Timestamp(unit, _) => KeyValue::Int(timestamp_value(array, *unit, row)),
        UInt8 => KeyValue::UInt(array.as_primitive::<UInt8Type>().value(row).into()),
        UInt16 => KeyValue::UInt(array.as_primitive::<UInt16Type>().value(row).into()),
        UInt32 => KeyValue::UInt(array.as_primitive::<UInt32Type>().value(row).into()),
        UInt64 => KeyValue::UInt(array.as_primitive::<UInt64Type>().value(row)),
        Float32 => KeyValue::Float32(array.as_primitive::<Float32Type>().value(row)),
        Float64 => KeyValue::Float64(array.as_primitive::<Float64Type>().value(row)),
        Utf8 => KeyValue::Utf8(array.as_string::<i32>().value(row).to_string()),
        LargeUtf8 => KeyValue::Utf8(array.as_string::<i64>().value(row).to_string()),
        Utf8View => KeyValue::Utf8(array.as_string_view().value(row).to_string()),
        Binary => KeyValue::Binary(array.as_binary::<i32>().value(row).to_vec()),
        LargeBinary => KeyValue::Binary(array.as_binary::<i64>().value(row).to_vec()),
        BinaryView => KeyValue::Binary(array.as_binary_view().value(row).to_vec()),
        FixedSizeBinary(_) => KeyValue::Binary(array.as_fixed_size_binary().value(row).to_vec()),
        Dictionary(key_type, _) => {
            let dict = array.as_any_dictionary();
            let values: &ArrayRef = dict.values();
            let key = dictionary_key(array, key_type, row)
                .filter(|&k| k < values.len())
                .ok_or_else(|| {
                    ArrowError::InvalidArgumentError(format!(
                        "dictionary key out of range at row {row}"
                    ))
                })?;
            value_at(values.as_ref(), key)?
        }
        other => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "type {other} cannot be a sort column"
            )))
        }
    })
}

fn timestamp_value(array: &dyn Array, unit: arrow_schema::TimeUnit, row: usize) -> i64 {
    use arrow_schema::TimeUnit::*;
    match unit {
        Second => array.as_primitive::<TimestampSecondType>().value(row),
        Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row),
        Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
    }
}

fn dictionary_key(array: &dyn Array, key_type: &DataType, row: usize) -> Option<usize> {
    fn key<K: ArrowDictionaryKeyType>(array: &dyn Array, row: usize) -> Option<usize> {
        array.as_dictionary::<K>().keys().value(row).to_usize()
    }
    match key_type {
        DataType::Int8 => key::<Int8Type>(array, row),
        DataType::Int16 => key::<Int16Type>(array, row),
        DataType::Int32 => key::<Int32Type>(array, row),
        DataType::Int64 => key::<Int64Type>(array, row),
        DataType::UInt8 => key::<UInt8Type>(array, row),
        DataType::UInt16 => key::<UInt16Type>(array, row),
        DataType::UInt32 => key::<UInt32Type>(array, row),
        DataType::UInt64 => key::<UInt64Type>(array, row),
        _ => None,
    }
}

/// A typed value from its JSON form (the catalog's prefix keys and time
/// bounds): text, integers, floats, booleans; anything else is null.
pub fn key_value_from_json(v: &serde_json::Value) -> KeyValue {
    match v {
        serde_json::Value::String(s) => KeyValue::Utf8(s.clone()),
        serde_json::Value::Bool(b) => KeyValue::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => KeyValue::Int(i),
            (None, Some(u), _) => KeyValue::UInt(u),
            (None, None, Some(f)) => KeyValue::Float64(f),
            _ => KeyValue::Null,
        },
        _ => KeyValue::Null,
    }
}
