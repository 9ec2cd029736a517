//! Merging the Quickwit-written files (tests/fixtures/quickwit): outputs pass
//! the same checks as the oracle, and the physical `sorted_series` column is carried
//! through unchanged.

mod common;

use common::{parquet_files, quickwit_fixtures, read_rows, Cell};
use prefix_merge::plan::check_alignment;
use prefix_merge::{InputFile, MergeBuilder};

const COLUMNS: [&str; 11] = [
    "metric_name",
    "service",
    "env",
    "datacenter",
    "region",
    "host",
    "timeseries_id",
    "timestamp_secs",
    "sorted_series",
    "metric_type",
    "value",
];

fn check_layout(layout: &str, outputs: usize) {
    let root = quickwit_fixtures();
    let inputs = parquet_files(&root.join(layout));
    let dir = tempfile::tempdir().unwrap();
    let result = MergeBuilder::new(&inputs, dir.path())
        .num_outputs(outputs)
        .run()
        .unwrap();
    assert_eq!(result.rows_in, 8_000);
    assert_eq!(result.rows_out, 8_000);
    assert_eq!(result.outputs.len(), outputs);
    let mut expected: Vec<Vec<Cell>> = inputs.iter().flat_map(|p| read_rows(p, &COLUMNS)).collect();
    let mut got = Vec::new();
    let mut last_series: Option<Cell> = None;
    for out in parquet_files(dir.path()) {
        let input = InputFile::open(&out).unwrap();
        assert_eq!(
            input.prefix_len(),
            InputFile::open(&inputs[0]).unwrap().prefix_len()
        );
        assert!(check_alignment(&input).ok());
        let rows = read_rows(&out, &COLUMNS);
        // sorted_series is an order-preserving encoding of the series: in a sorted
        // output it never decreases, and it changes across outputs (MS-6).
        for w in rows.windows(2) {
            assert!(w[0][8] <= w[1][8], "sorted_series decreases");
        }
        if let Some(prev) = &last_series {
            assert!(prev < &rows[0][8], "a series spans two outputs");
        }
        last_series = Some(rows.last().unwrap()[8].clone());
        got.extend(rows);
    }
    // MC-1/MC-2: same multiset of rows, every cell (sorted_series included) unchanged.
    let key = |r: &Vec<Cell>| format!("{r:?}");
    expected.sort_by_key(key);
    got.sort_by_key(key);
    assert!(got == expected);
}

#[test]
fn merge_p1_fixtures() {
    check_layout("p1", 3);
}

#[test]
fn merge_p0_legacy_fixtures_as_p0() {
    check_layout("p0_legacy", 2);
}
