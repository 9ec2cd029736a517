//! Deletes: the engine's row filter (MC-1 with deleted rows, untouched regions
//! copied verbatim), and tombstones in tables (recorded, applied by
//! compaction, retired).

mod common;

use common::{read_rows, Cell};
use parquet::file::reader::{FileReader, SerializedFileReader};
use prefix_merge::predicate::{Predicate, TimeRange};
use prefix_merge::MergeBuilder;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn predicate(text: &str, time: TimeRange) -> Arc<Predicate> {
    Arc::new(Predicate::parse(text, &prefix_merge::gen::sort_schema(), 1, &[], time).unwrap())
}

/// Rows of a file per metric name.
fn per_metric(path: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for row in read_rows(path, &["metric_name"]) {
        let Cell::Str(m) = &row[0] else {
            panic!("metric_name")
        };
        *out.entry(m.clone()).or_default() += 1;
    }
    out
}

/// (metric of the row group, compressed size of each column chunk) per row group.
fn row_group_sizes(path: &Path) -> BTreeMap<String, Vec<i64>> {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let metric_rows = read_rows(path, &["metric_name"]);
    let mut at = 0usize;
    let mut out = BTreeMap::new();
    for rg in reader.metadata().row_groups() {
        let Cell::Str(m) = &metric_rows[at][0] else {
            panic!("metric_name")
        };
        at += rg.num_rows() as usize;
        out.insert(
            m.clone(),
            rg.columns().iter().map(|c| c.compressed_size()).collect(),
        );
    }
    out
}

#[test]
fn row_filter_per_input_keeps_mc1_and_copies_untouched_regions() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(tmp.path(), 3, 1200, 4);
    let before: Vec<_> = inputs.iter().map(|p| per_metric(p)).collect();
    let metrics: Vec<String> = before[0].keys().cloned().collect();
    let gone = metrics[1].clone();
    let cpu = predicate(&format!("metric_name = '{gone}'"), TimeRange::default());
    // Inputs 0 and 2 lose the metric; input 1 (newer than the delete, say) keeps it.
    let out = tmp.path().join("out");
    let manifest = MergeBuilder::new(&inputs, &out)
        .delete_rows(vec![vec![cpu.clone()], vec![], vec![cpu]])
        .run()
        .unwrap();
    let expected_deleted = before[0][&gone] + before[2][&gone];
    let rows_in: usize = before.iter().flat_map(|m| m.values()).sum();
    assert_eq!(manifest.rows_deleted as usize, expected_deleted);
    assert_eq!(manifest.rows_in as usize, rows_in);
    assert_eq!(manifest.rows_out as usize, rows_in - expected_deleted);
    let after = per_metric(&manifest.outputs[0].path);
    assert_eq!(after[&gone], before[1][&gone]);
    for m in &metrics[2..] {
        assert_eq!(after[m], before.iter().map(|b| b[m]).sum::<usize>());
    }
    let json = manifest.to_json().unwrap();
    assert!(
        json.contains(&format!("\"rows_deleted\": {expected_deleted}")),
        "{json}"
    );

    // One input: the regions the predicate cannot match are the input's row
    // groups, byte for byte (copied verbatim, not re-encoded at another level).
    let one = tmp.path().join("one");
    let keep_time = predicate(
        &format!("metric_name = '{gone}'"),
        TimeRange {
            from: Some(0),
            to: Some(i64::MAX),
        },
    );
    let manifest = MergeBuilder::new(&inputs[..1], &one)
        .delete_rows(vec![vec![keep_time]])
        .run()
        .unwrap();
    assert_eq!(manifest.rows_deleted as usize, before[0][&gone]);
    let sizes_in = row_group_sizes(&inputs[0]);
    let sizes_out = row_group_sizes(&manifest.outputs[0].path);
    assert!(!sizes_out.contains_key(&gone));
    for m in &metrics {
        if *m != gone {
            assert_eq!(sizes_in[m], sizes_out[m], "row group of {m}");
        }
    }
}

#[test]
fn row_level_tests_and_time_ranges() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(tmp.path(), 2, 1200, 3);
    let cols = ["metric_name", "host", "timestamp_secs"];
    let rows: Vec<Vec<Cell>> = inputs.iter().flat_map(|p| read_rows(p, &cols)).collect();
    let Cell::Str(host) = rows[0][1].clone() else {
        panic!("host")
    };
    let times: Vec<i64> = rows
        .iter()
        .map(|r| match r[2] {
            Cell::Int(t) => t,
            Cell::UInt(t) => t as i64,
            _ => panic!("timestamp"),
        })
        .collect();
    let mid = (times.iter().min().unwrap() + times.iter().max().unwrap()) / 2;
    let time = TimeRange {
        from: Some(mid),
        to: None,
    };
    let p = predicate(
        &format!("host IN ('{host}', 'nope') AND metric_name LIKE '%'"),
        time,
    );
    let matches = |r: &Vec<Cell>| {
        r[1] == Cell::Str(host.clone())
            && match r[2] {
                Cell::Int(t) => t >= mid,
                Cell::UInt(t) => t as i64 >= mid,
                _ => false,
            }
    };
    let expected: usize = rows.iter().filter(|r| matches(r)).count();
    assert!(expected > 0 && expected < rows.len());
    let manifest = MergeBuilder::new(&inputs, tmp.path().join("out"))
        .delete_rows(vec![vec![p.clone()], vec![p]])
        .run()
        .unwrap();
    assert_eq!(manifest.rows_deleted as usize, expected);
    let out = read_rows(&manifest.outputs[0].path, &cols);
    assert_eq!(out.len(), rows.len() - expected);
    assert!(!out.iter().any(matches));
}

#[test]
fn predicates_for_the_wrong_number_of_inputs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(tmp.path(), 2, 300, 2);
    let p = predicate("metric_name = 'x'", TimeRange::default());
    let err = MergeBuilder::new(&inputs, tmp.path().join("out"))
        .delete_rows(vec![vec![p]])
        .run()
        .unwrap_err();
    assert!(err.to_string().contains("2 inputs"), "{err}");
}
