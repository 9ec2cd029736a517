//! Prefix keys: for two tuples of 1..4 typed values (same column types, random
//! directions, nulls allowed) read from Arrow arrays with `value_at`,
//! - memcmp of the encoded keys equals the order given by arrow-ord's
//!   `make_comparator` (nulls last in both directions), for every leading prefix
//!   of the columns;
//! - no key is a proper prefix of a different key;
//! - `decode_key` accepts every key and re-encoding the decoded values gives the
//!   same bytes (and the same values as `value_at`).
#![no_main]

use arbitrary::Arbitrary;
use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::*;
use arrow_ord::ord::make_comparator;
use arrow_schema::SortOptions;
use libfuzzer_sys::fuzz_target;
use prefix_merge::key::{decode_key, encode_column, value_at, KeyValue, ValueKind};
use prefix_merge::Direction;
use std::cmp::Ordering;
use std::sync::Arc;

/// The two values of one column: equal values are common enough in sort keys to
/// deserve their own case.
#[derive(Arbitrary, Debug, Clone)]
enum Pair<T> {
    Same(Option<T>),
    Two(Option<T>, Option<T>),
}

impl<T: Clone> Pair<T> {
    fn values(&self) -> [Option<T>; 2] {
        match self {
            Pair::Same(v) => [v.clone(), v.clone()],
            Pair::Two(a, b) => [a.clone(), b.clone()],
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Col {
    Utf8(Pair<String>),
    LargeUtf8(Pair<String>),
    Utf8View(Pair<String>),
    DictUtf8(Pair<String>),
    Binary(Pair<Vec<u8>>),
    BinaryView(Pair<Vec<u8>>),
    FixedBinary3(Pair<[u8; 3]>),
    Int8(Pair<i8>),
    Int16(Pair<i16>),
    Int32(Pair<i32>),
    Int64(Pair<i64>),
    Date32(Pair<i32>),
    TimestampMs(Pair<i64>),
    UInt8(Pair<u8>),
    UInt16(Pair<u16>),
    UInt32(Pair<u32>),
    UInt64(Pair<u64>),
    Float32(Pair<f32>),
    Float64(Pair<f64>),
    Bool(Pair<bool>),
}

#[derive(Arbitrary, Debug)]
struct ColSpec {
    col: Col,
    descending: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    first: ColSpec,
    rest: Vec<ColSpec>,
}

fn array(col: &Col) -> ArrayRef {
    macro_rules! prim {
        ($ty:ty, $p:expr) => {
            Arc::new(<$ty>::from($p.values().to_vec())) as ArrayRef
        };
    }
    match col {
        Col::Utf8(p) => Arc::new(StringArray::from(p.values().to_vec())),
        Col::LargeUtf8(p) => Arc::new(LargeStringArray::from(p.values().to_vec())),
        Col::Utf8View(p) => Arc::new(StringViewArray::from(p.values().to_vec())),
        Col::DictUtf8(p) => {
            let mut b = StringDictionaryBuilder::<Int32Type>::new();
            for v in p.values() {
                b.append_option(v);
            }
            Arc::new(b.finish())
        }
        Col::Binary(p) => {
            let v = p.values();
            Arc::new(BinaryArray::from_iter(v.iter().map(|x| x.as_deref())))
        }
        Col::BinaryView(p) => {
            let v = p.values();
            Arc::new(BinaryViewArray::from_iter(v.iter().map(|x| x.as_deref())))
        }
        Col::FixedBinary3(p) => {
            let v = p.values();
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    v.iter().map(|x| x.as_ref().map(|a| a.to_vec())),
                    3,
                )
                .unwrap(),
            )
        }
        Col::Int8(p) => prim!(Int8Array, p),
        Col::Int16(p) => prim!(Int16Array, p),
        Col::Int32(p) => prim!(Int32Array, p),
        Col::Int64(p) => prim!(Int64Array, p),
        Col::Date32(p) => prim!(Date32Array, p),
        Col::TimestampMs(p) => prim!(TimestampMillisecondArray, p),
        Col::UInt8(p) => prim!(UInt8Array, p),
        Col::UInt16(p) => prim!(UInt16Array, p),
        Col::UInt32(p) => prim!(UInt32Array, p),
        Col::UInt64(p) => prim!(UInt64Array, p),
        Col::Float32(p) => prim!(Float32Array, p),
        Col::Float64(p) => prim!(Float64Array, p),
        Col::Bool(p) => prim!(BooleanArray, p),
    }
}

fn encode(values: &[KeyValue], dirs: &[Direction]) -> Vec<u8> {
    let mut out = Vec::new();
    for (v, d) in values.iter().zip(dirs) {
        encode_column(&mut out, v, *d);
    }
    out
}

/// Value equality with floats compared bit for bit (NaN == NaN, -0 != +0).
fn same_value(a: &KeyValue, b: &KeyValue) -> bool {
    match (a, b) {
        (KeyValue::Float32(x), KeyValue::Float32(y)) => x.to_bits() == y.to_bits(),
        (KeyValue::Float64(x), KeyValue::Float64(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fuzz_target!(|input: Input| {
    let mut specs = vec![input.first];
    specs.extend(input.rest.into_iter().take(3));

    let arrays: Vec<ArrayRef> = specs.iter().map(|s| array(&s.col)).collect();
    let dirs: Vec<Direction> = specs
        .iter()
        .map(|s| if s.descending { Direction::Descending } else { Direction::Ascending })
        .collect();
    let kinds: Vec<(ValueKind, Direction)> = arrays
        .iter()
        .zip(&dirs)
        .map(|(a, d)| (ValueKind::of(a.data_type()).expect("orderable type"), *d))
        .collect();

    // Oracle: per-column order of row 0 vs row 1 from arrow-ord.
    let column_order: Vec<Ordering> = arrays
        .iter()
        .zip(&specs)
        .map(|(a, s)| {
            let opts = SortOptions { descending: s.descending, nulls_first: false };
            let cmp = make_comparator(a.as_ref(), a.as_ref(), opts).expect("comparator");
            cmp(0, 1)
        })
        .collect();

    let rows: Vec<Vec<KeyValue>> = (0..2)
        .map(|r| {
            arrays
                .iter()
                .map(|a| value_at(a.as_ref(), r).expect("value_at on an orderable array"))
                .collect()
        })
        .collect();

    for n in 1..=arrays.len() {
        let k0 = encode(&rows[0][..n], &dirs[..n]);
        let k1 = encode(&rows[1][..n], &dirs[..n]);
        let expected = column_order[..n]
            .iter()
            .copied()
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal);
        assert_eq!(
            k0.cmp(&k1),
            expected,
            "memcmp order differs from arrow-ord on {n} column(s): {:?} vs {:?} dirs {:?}\nkeys {:02x?}\n     {:02x?}",
            &rows[0][..n],
            &rows[1][..n],
            &dirs[..n],
            k0,
            k1
        );
        if k0 != k1 {
            assert!(
                !k0.starts_with(&k1) && !k1.starts_with(&k0),
                "one key is a proper prefix of the other: {k0:02x?} / {k1:02x?}"
            );
        }
        for (row, key) in [(&rows[0], &k0), (&rows[1], &k1)] {
            let decoded = decode_key(key, &kinds[..n])
                .unwrap_or_else(|| panic!("decode_key rejected {key:02x?} for {:?}", &kinds[..n]));
            assert_eq!(decoded.len(), n);
            for (d, v) in decoded.iter().zip(&row[..n]) {
                assert!(same_value(d, v), "decoded {d:?} != encoded {v:?} (key {key:02x?})");
            }
            assert_eq!(&encode(&decoded, &dirs[..n]), key, "re-encoding differs");
        }
    }
});
