//! The value kind of a column type: which types may be sort columns, and how their
//! key bytes decode.

use arrow_schema::DataType;

/// The encoding class of a column type; decides how key bytes decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Booleans.
    Bool,
    /// Signed integers, dates, timestamps.
    Int,
    /// Unsigned integers.
    UInt,
    /// 32-bit floats.
    Float32,
    /// 64-bit floats.
    Float64,
    /// Strings.
    Utf8,
    /// Binary.
    Binary,
    /// Arrow `Null` type: every value is null.
    Null,
}

impl ValueKind {
    /// The kind of an orderable type, `None` for anything else.
    pub fn of(dt: &DataType) -> Option<ValueKind> {
        use DataType::*;
        Some(match dt {
            Boolean => ValueKind::Bool,
            Int8 | Int16 | Int32 | Int64 | Date32 | Date64 | Timestamp(_, _) => ValueKind::Int,
            UInt8 | UInt16 | UInt32 | UInt64 => ValueKind::UInt,
            Float32 => ValueKind::Float32,
            Float64 => ValueKind::Float64,
            Utf8 | LargeUtf8 | Utf8View => ValueKind::Utf8,
            Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => ValueKind::Binary,
            Null => ValueKind::Null,
            Dictionary(k, v) if k.is_dictionary_key_type() => return ValueKind::of(v),
            _ => return None,
        })
    }
}

/// Whether a column of this type may be a sort column.
pub fn is_orderable(dt: &DataType) -> bool {
    ValueKind::of(dt).is_some()
}
