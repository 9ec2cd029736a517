//! The prefix-key property (docs/architecture.md): for any two tuples of mixed types, directions and nulls,
//! `memcmp(key(a), key(b))` equals the schema's comparison of `a` and `b`
//! (computed independently by arrow's comparators), no key is a proper prefix of
//! another, and keys decode back to their values.

use arrow_array::types::Int32Type;
use arrow_array::*;
use arrow_ord::ord::make_comparator;
use arrow_schema::{DataType, SortOptions, TimeUnit};
use prefix_merge::key::{decode_key, encode_column, value_at, ValueKind};
use prefix_merge::Direction;
use proptest::prelude::*;
use std::cmp::Ordering;
use std::sync::Arc;

/// One column: its type, direction and the two values (None = null).
#[derive(Debug, Clone)]
struct Column {
    ty: usize,
    desc: bool,
    ints: [Option<i64>; 2],
    strs: [Option<String>; 2],
    floats: [Option<f64>; 2],
}

const TYPES: usize = 16;

fn int_value() -> impl Strategy<Value = i64> {
    prop_oneof![-3i64..3, Just(i64::MIN), Just(i64::MAX), any::<i64>(),]
}

fn float_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(-f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        -2.0f64..2.0,
        any::<f64>(),
    ]
}

fn column() -> impl Strategy<Value = Column> {
    (
        0..TYPES,
        any::<bool>(),
        [
            proptest::option::weighted(0.8, int_value()),
            proptest::option::weighted(0.8, int_value()),
        ],
        [
            proptest::option::weighted(0.8, "[ab\\x00\\x01\\xff]{0,4}"),
            proptest::option::weighted(0.8, "[ab\\x00\\x01\\xff]{0,4}"),
        ],
        [
            proptest::option::weighted(0.8, float_value()),
            proptest::option::weighted(0.8, float_value()),
        ],
    )
        .prop_map(|(ty, desc, ints, strs, floats)| Column {
            ty,
            desc,
            ints,
            strs,
            floats,
        })
}

/// Two-row array of the column's type.
fn array(c: &Column) -> ArrayRef {
    let i = c.ints;
    let s: Vec<Option<&str>> = c.strs.iter().map(|s| s.as_deref()).collect();
    let narrow = |v: Option<i64>, m: i64| v.map(|x| x.rem_euclid(m));
    match c.ty {
        0 => Arc::new(StringArray::from(s)),
        1 => Arc::new(LargeStringArray::from(s)),
        2 => Arc::new(StringViewArray::from(s)),
        3 => Arc::new(s.into_iter().collect::<DictionaryArray<Int32Type>>()),
        4 => Arc::new(BinaryArray::from(
            c.strs
                .iter()
                .map(|s| s.as_deref().map(str::as_bytes))
                .collect::<Vec<_>>(),
        )),
        5 => Arc::new(Int8Array::from(i.map(|v| v.map(|x| x as i8)).to_vec())),
        6 => Arc::new(Int32Array::from(i.map(|v| v.map(|x| x as i32)).to_vec())),
        7 => Arc::new(Int64Array::from(i.to_vec())),
        8 => Arc::new(UInt8Array::from(
            i.map(|v| narrow(v, 256).map(|x| x as u8)).to_vec(),
        )),
        9 => Arc::new(UInt64Array::from(i.map(|v| v.map(|x| x as u64)).to_vec())),
        10 => Arc::new(Float32Array::from(
            c.floats.map(|v| v.map(|x| x as f32)).to_vec(),
        )),
        11 => Arc::new(Float64Array::from(c.floats.to_vec())),
        12 => Arc::new(BooleanArray::from(
            i.map(|v| v.map(|x| x & 1 == 1)).to_vec(),
        )),
        13 => Arc::new(Date32Array::from(i.map(|v| v.map(|x| x as i32)).to_vec())),
        14 => Arc::new(TimestampMillisecondArray::from(i.to_vec())),
        _ => Arc::new(TimestampNanosecondArray::from(i.to_vec()).with_timezone("UTC")),
    }
}

fn direction(c: &Column) -> Direction {
    if c.desc {
        Direction::Descending
    } else {
        Direction::Ascending
    }
}

fn key(arrays: &[ArrayRef], cols: &[Column], row: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for (a, c) in arrays.iter().zip(cols) {
        encode_column(&mut out, &value_at(a.as_ref(), row).unwrap(), direction(c));
    }
    out
}

/// The schema's comparison, from arrow's own comparators (nulls last).
fn oracle(arrays: &[ArrayRef], cols: &[Column]) -> Ordering {
    for (a, c) in arrays.iter().zip(cols) {
        let opts = SortOptions {
            descending: c.desc,
            nulls_first: false,
        };
        let cmp = make_comparator(a.as_ref(), a.as_ref(), opts).unwrap();
        match cmp(0, 1) {
            Ordering::Equal => continue,
            o => return o,
        }
    }
    Ordering::Equal
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn memcmp_of_keys_equals_schema_order(cols in proptest::collection::vec(column(), 1..6)) {
        let arrays: Vec<ArrayRef> = cols.iter().map(array).collect();
        let (ka, kb) = (key(&arrays, &cols, 0), key(&arrays, &cols, 1));
        prop_assert_eq!(ka.cmp(&kb), oracle(&arrays, &cols));
        if ka != kb {
            prop_assert!(!ka.starts_with(&kb) && !kb.starts_with(&ka), "a key is a prefix of another");
        }
        // Keys decode to values that re-encode to the same bytes.
        let kinds: Vec<(ValueKind, Direction)> = arrays
            .iter()
            .zip(&cols)
            .map(|(a, c)| (ValueKind::of(a.data_type()).unwrap(), direction(c)))
            .collect();
        for (row, k) in [(0, &ka), (1, &kb)] {
            let decoded = decode_key(k, &kinds).expect("well-formed key");
            let mut again = Vec::new();
            for (v, c) in decoded.iter().zip(&cols) {
                encode_column(&mut again, v, direction(c));
            }
            prop_assert_eq!(&again, k, "row {} does not round-trip", row);
        }
    }
}

#[test]
fn every_sort_type_is_orderable() {
    use prefix_merge::key::is_orderable;
    for dt in [
        DataType::Utf8View,
        DataType::BinaryView,
        DataType::LargeBinary,
        DataType::Date64,
        DataType::Timestamp(TimeUnit::Second, None),
        DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::LargeUtf8)),
    ] {
        assert!(is_orderable(&dt), "{dt}");
    }
    assert!(!is_orderable(&DataType::new_list(DataType::Int32, true)));
}
