//! In-memory merge order and assembly equal the stable sort of the concatenated
//! inputs, and unsorted input is rejected (SS-1).

use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use prefix_merge::merge::{merge_batches, merge_order};
use prefix_merge::write::sort_batch;
use prefix_merge::{Error, SortSchema};
use proptest::prelude::*;
use std::sync::Arc;

fn batch(rows: &[(Option<u8>, i64)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, true),
        Field::new("ts", DataType::Int64, false),
    ]));
    let k: StringArray = rows.iter().map(|r| r.0.map(|v| format!("k{v}"))).collect();
    let ts = Int64Array::from_iter_values(rows.iter().map(|r| r.1));
    RecordBatch::try_new(schema, vec![Arc::new(k), Arc::new(ts)]).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn in_memory_merge_is_a_stable_sort(
        inputs in proptest::collection::vec(
            proptest::collection::vec((proptest::option::of(0u8..4), 0i64..5), 1..300), 1..6),
        chunk in 1usize..50,
        window in 1usize..100,
    ) {
        let sort: SortSchema = "k|-ts".parse().unwrap();
        let sorted: Vec<RecordBatch> = inputs.iter().map(|r| sort_batch(&batch(r), &sort).unwrap()).collect();
        let chunked: Vec<Vec<RecordBatch>> = sorted
            .iter()
            .map(|b| (0..b.num_rows()).step_by(chunk).map(|o| b.slice(o, chunk.min(b.num_rows() - o))).collect())
            .collect();
        // Expected: tag every row with (input, row), concatenate, stable sort.
        let mut tagged: Vec<(Option<String>, i64, usize, u64)> = Vec::new();
        for (i, b) in sorted.iter().enumerate() {
            let k = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            let ts = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
            for r in 0..b.num_rows() {
                tagged.push((k.is_valid(r).then(|| k.value(r).to_string()), ts.value(r), i, r as u64));
            }
        }
        tagged.sort_by(|a, b| match (&a.0, &b.0) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, _) => std::cmp::Ordering::Greater,
            (_, None) => std::cmp::Ordering::Less,
            (x, y) => x.cmp(y),
        }.then(b.1.cmp(&a.1)));
        let expected: Vec<(usize, u64)> = tagged.iter().map(|t| (t.2, t.3)).collect();
        prop_assert_eq!(merge_order(&sort, chunked.clone(), window).unwrap(), expected);
        let merged = merge_batches(&sort, chunked, window).unwrap();
        prop_assert!(merged.iter().all(|b| b.num_rows() <= window));
        let total: usize = merged.iter().map(|b| b.num_rows()).sum();
        prop_assert_eq!(total, tagged.len());
        let mut i = 0;
        for b in &merged {
            let ts = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
            for r in 0..b.num_rows() {
                prop_assert_eq!(ts.value(r), tagged[i].1);
                i += 1;
            }
        }
    }
}

#[test]
fn unsorted_memory_input_is_rejected() {
    let sort: SortSchema = "k|-ts".parse().unwrap();
    let bad = batch(&[(Some(1), 1), (Some(1), 2)]);
    let err = merge_batches(&sort, vec![vec![bad]], 10).unwrap_err();
    assert!(matches!(err, Error::Unsorted { .. }), "{err}");
}
