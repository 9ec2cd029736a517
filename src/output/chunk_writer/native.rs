//! The value kinds of the fixed-width writer: the physical types (and the Arrow
//! types whose values are those physical values bit for bit), their bits for the
//! dictionary, their order and statistics as parquet-rs 60 computes them, and
//! which columns are eligible.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::Array;
use arrow_schema::{DataType, TimeUnit};
use parquet::basic::{SortOrder, Type as PhysicalType};
use parquet::data_type::AsBytes;
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::schema::types::ColumnDescPtr;
use std::hash::{Hash, Hasher};

/// A multiplicative hasher for value bits (one folded 64x64->128 multiply).
#[derive(Default, Clone, Copy)]
pub(super) struct BitsHasher(u64);

impl BitsHasher {
    #[inline]
    fn mix(x: u64) -> u64 {
        let m = u128::from(x) * 0x9E37_79B9_7F4A_7C15;
        (m as u64) ^ ((m >> 64) as u64)
    }
}

impl Hasher for BitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = Self::mix(self.0 ^ u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = Self::mix(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = Self::mix(v);
    }
}

/// A physical value type of a fixed-width column.
pub(crate) trait Native: Copy + AsBytes + 'static {
    /// The value's bits (equal bits: the same dictionary entry).
    type Bits: Copy + Eq + Hash;
    /// The value mapped to an integer in the column's order.
    type Key: Ord;
    /// Whether the type is a float (NaN counted and skipped by statistics).
    const FLOAT: bool;
    fn bits(self) -> Self::Bits;
    fn is_nan(self) -> bool;
    /// `a > b` as parquet-rs' `compare_greater`: floats in IEEE 754 total
    /// order, unsigned integers unsigned, others signed.
    fn greater(a: Self, b: Self) -> bool;
    fn extend_le(values: &[Self], out: &mut Vec<u8>);
    /// The value slice of an array of an Arrow type with these physical values.
    fn values(array: &dyn Array) -> Option<&[Self]>;
    fn statistics(
        bounds: Option<(Self, Self)>,
        nulls: u64,
        nans: Option<u64>,
        signed: bool,
    ) -> Statistics;
}

macro_rules! native {
    ($t:ty, $bits:ty, $float:expr, $variant:ident($phys:ty), $to_bits:expr, $is_nan:expr,
     $key:ty, $to_key:expr, [$($arrow:ty),*]) => {
        impl Native for $t {
            type Bits = $bits;
            type Key = $key;
            const FLOAT: bool = $float;
            #[inline]
            fn bits(self) -> $bits {
                $to_bits(self)
            }
            #[inline]
            fn is_nan(self) -> bool {
                $is_nan(self)
            }
            #[inline]
            fn greater(a: Self, b: Self) -> bool {
                let key: fn(Self) -> $key = $to_key;
                key(a) > key(b)
            }
            fn extend_le(values: &[Self], out: &mut Vec<u8>) {
                out.reserve(std::mem::size_of_val(values));
                for v in values {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            fn values(array: &dyn Array) -> Option<&[Self]> {
                $(if let Some(a) = array.as_primitive_opt::<$arrow>() {
                    return Some(a.values());
                })*
                None
            }
            fn statistics(
                bounds: Option<(Self, Self)>,
                nulls: u64,
                nans: Option<u64>,
                signed: bool,
            ) -> Statistics {
                #[allow(clippy::unnecessary_cast)]
                let (min, max) = bounds.map(|(a, b)| (a as $phys, b as $phys)).unzip();
                Statistics::$variant(
                    ValueStatistics::new(min, max, None, Some(nulls), false)
                        .with_nan_count(nans)
                        .with_backwards_compatible_min_max(signed),
                )
            }
        }
    };
}

native!(
    i32,
    u32,
    false,
    Int32(i32),
    |v: i32| v as u32,
    |_| false,
    i32,
    |v| v,
    [Int32Type, Date32Type]
);
native!(
    i64,
    u64,
    false,
    Int64(i64),
    |v: i64| v as u64,
    |_| false,
    i64,
    |v| v,
    [
        Int64Type,
        TimestampMillisecondType,
        TimestampMicrosecondType,
        TimestampNanosecondType
    ]
);
native!(
    f32,
    u32,
    true,
    Float(f32),
    f32::to_bits,
    f32::is_nan,
    i32,
    |v: f32| {
        let bits = v.to_bits() as i32;
        bits ^ ((((bits >> 31) as u32) >> 1) as i32)
    },
    [Float32Type]
);
native!(
    f64,
    u64,
    true,
    Double(f64),
    f64::to_bits,
    f64::is_nan,
    i64,
    |v: f64| {
        let bits = v.to_bits() as i64;
        bits ^ ((((bits >> 63) as u64) >> 1) as i64)
    },
    [Float64Type]
);

// UInt32 / UInt64: parquet-rs writes their bits as INT32 / INT64 (no cast),
// ordered unsigned.
native!(
    u32,
    u32,
    false,
    Int32(i32),
    |v: u32| v,
    |_| false,
    u32,
    |v| v,
    [UInt32Type]
);
native!(
    u64,
    u64,
    false,
    Int64(i64),
    |v: u64| v,
    |_| false,
    u64,
    |v| v,
    [UInt64Type]
);

/// Whether a column of `data_type` at leaf `descr` can be written by
/// [`FixedChunkWriter`](super::FixedChunkWriter) under `props`: Arrow values that are the physical values
/// bit for bit (not Timestamp(Second), rescaled by parquet-rs; not the 8- and
/// 16-bit integers, cast), flat, dictionary on, data page v1; unsigned order
/// for UInt32 / UInt64, signed for the others.
pub(crate) fn fixed_eligible(
    data_type: &DataType,
    descr: &ColumnDescPtr,
    props: &WriterProperties,
) -> bool {
    use SortOrder::{SIGNED, TOTAL_ORDER, UNSIGNED};
    // Floats compare in total order whatever the column's order says.
    let (physical, orders): (_, &[SortOrder]) = match data_type {
        DataType::Int32 | DataType::Date32 => (PhysicalType::INT32, &[SIGNED]),
        DataType::Int64 => (PhysicalType::INT64, &[SIGNED]),
        DataType::Timestamp(TimeUnit::Millisecond | TimeUnit::Microsecond, _) => {
            (PhysicalType::INT64, &[SIGNED])
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => (PhysicalType::INT64, &[SIGNED]),
        DataType::UInt32 => (PhysicalType::INT32, &[UNSIGNED]),
        DataType::UInt64 => (PhysicalType::INT64, &[UNSIGNED]),
        DataType::Float32 => (PhysicalType::FLOAT, &[SIGNED, TOTAL_ORDER]),
        DataType::Float64 => (PhysicalType::DOUBLE, &[SIGNED, TOTAL_ORDER]),
        _ => return false,
    };
    descr.physical_type() == physical
        && orders.contains(&descr.sort_order())
        && descr.max_rep_level() == 0
        && descr.max_def_level() <= 1
        && props.dictionary_enabled(descr.path())
        && props.writer_version() == WriterVersion::PARQUET_1_0
}

/// Update `cur` with `v` as parquet-rs' `update_min` / `update_max` do: a NaN
/// never replaces a number, a number replaces a NaN; else `replace(cur, v)`.
#[inline]
fn update<T: Native>(cur: &mut Option<T>, v: T, replace: impl Fn(T, T) -> bool) {
    match cur {
        None => *cur = Some(v),
        Some(c) => match (c.is_nan(), v.is_nan()) {
            (false, true) => {}
            (true, false) => *cur = Some(v),
            _ => {
                if replace(*c, v) {
                    *cur = Some(v)
                }
            }
        },
    }
}

/// (min, max) of values, updated with parquet-rs' rules.
#[inline]
pub(super) fn widen<T: Native>(bounds: &mut (Option<T>, Option<T>), v: T) {
    update(&mut bounds.0, v, |c, v| T::greater(c, v));
    update(&mut bounds.1, v, |c, v| T::greater(v, c));
}

#[cfg(test)]
mod tests {
    use super::widen;

    #[test]
    fn bounds_skip_nan_and_order_signed_zeros() {
        let mut bounds = (None, None);
        for v in [1.0f64, f64::NAN, 2.0, 0.0, -0.0, f64::NAN] {
            widen(&mut bounds, v);
        }
        let (min, max) = (bounds.0.unwrap(), bounds.1.unwrap());
        assert_eq!(min.to_bits(), (-0.0f64).to_bits());
        assert_eq!(max, 2.0);
        let mut nan_only = (None, None);
        widen(&mut nan_only, f32::NAN);
        assert!(nan_only.0.is_some_and(f32::is_nan));
    }
}
