//! Files written by Quickwit's own writer (tests/fixtures/quickwit) load with
//! the right contract and pass `inspect`.
#![cfg(feature = "cli")]

mod common;

use common::{inspect, parquet_files, quickwit_fixtures};
use prefix_merge::input::SchemaSource;
use prefix_merge::plan::check_alignment;
use prefix_merge::InputFile;

const SORT: &str = "metric_name|service|env|datacenter|region|host|timeseries_id|timestamp_secs/V2";

#[test]
fn p1_fixtures_are_aligned_by_metric() {
    let root = quickwit_fixtures();
    let files = parquet_files(&root.join("p1"));
    assert_eq!(files.len(), 4);
    for path in files {
        let input = InputFile::open(&path).unwrap();
        assert_eq!(input.sort_schema().to_string(), SORT);
        assert_eq!(input.contract.schema_source, SchemaSource::SortFields);
        assert_eq!(input.prefix_len(), 1);
        assert_eq!(input.num_rows(), 2_000);
        assert_eq!(input.row_groups.len(), 20, "one row group per metric");
        assert!(input.sort_schema().columns[7].direction.is_descending());
        assert!(input.contract.window.is_some());
        let report = check_alignment(&input);
        assert!(report.ok(), "{:?}", report.violations);
        let names: Vec<String> = input
            .row_groups
            .iter()
            .map(|r| r.prefix.as_ref().unwrap().values[0].to_string())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted, "20 distinct metric names in order");
        let (code, out) = inspect(&path);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("ok (P=1: PA-1, PA-3, MS-2 hold)"), "{out}");
    }
}

#[test]
fn p0_legacy_fixtures_claim_nothing() {
    let root = quickwit_fixtures();
    for path in parquet_files(&root.join("p0_legacy")) {
        let input = InputFile::open(&path).unwrap();
        assert_eq!(input.sort_schema().to_string(), SORT);
        assert_eq!(input.prefix_len(), 0);
        assert_eq!(input.num_rows(), 2_000);
        assert!(
            input.row_groups.len() > 1,
            "legacy layout has several row groups"
        );
        assert!(input
            .row_groups
            .iter()
            .all(|r| r.rows <= 300 && r.prefix.is_none()));
        let (code, out) = inspect(&path);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("P=0: no alignment claim"), "{out}");
    }
}
