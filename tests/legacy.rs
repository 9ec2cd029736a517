//! The legacy adapter: legacy (P = 0, many row groups) inputs merge as P = 0 and
//! promoted to P = 1; a false alignment claim is rejected naming PA-1 unless the
//! merge rescans; an input whose prefix is not sorted names the file and first row.
#![cfg(feature = "cli")]

mod common;

use common::{parquet_files, write_kv_file};
use parquet::file::properties::EnabledStatistics;
use prefix_merge::gen::{generate, GenConfig, Layout, LEGACY_ROW_GROUP_ROWS};
use prefix_merge::input::scan_virtual_regions;
use prefix_merge::verify::verify_file;
use prefix_merge::{Error, InputFile, MergeBuilder};

#[test]
fn gen_legacy_merges_as_p0_and_promoted_to_p1() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenConfig {
        files: 3,
        rows: 25_000,
        metrics: 6,
        layout: Layout::Legacy,
        ..GenConfig::default()
    };
    let inputs: Vec<_> = generate(&dir.path().join("in"), &cfg)
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect();
    let first = InputFile::open(&inputs[0]).unwrap();
    assert_eq!(first.prefix_len(), 0);
    assert_eq!(
        first.row_groups.len(),
        25_000usize.div_ceil(LEGACY_ROW_GROUP_ROWS)
    );
    // The adapter finds one virtual region per metric, crossing row groups.
    let regions = scan_virtual_regions(&first, 1).unwrap();
    assert_eq!(regions.len(), 6);
    assert_eq!(regions.iter().map(|r| r.rows).sum::<u64>(), 25_000);
    assert!(regions
        .windows(2)
        .all(|w| w[0].key < w[1].key && w[0].first_row + w[0].rows == w[1].first_row));

    for (name, promote, expect_p) in [("p0", None, 0), ("p1", Some(1), 1)] {
        let out = dir.path().join(name);
        let mut builder = MergeBuilder::new(&inputs, &out).num_outputs(2);
        if let Some(p) = promote {
            builder = builder.promote_prefix_len(p);
        }
        let result = builder.run().unwrap();
        assert_eq!(result.rows_out, 75_000);
        for path in parquet_files(&out) {
            let input = InputFile::open(&path).unwrap();
            assert_eq!(input.prefix_len(), expect_p);
            if expect_p == 1 {
                // One row group per metric present in the output.
                let prefixes = input
                    .row_groups
                    .iter()
                    .filter(|r| r.prefix.is_some())
                    .count();
                assert_eq!(prefixes, input.row_groups.len());
            }
            let report = verify_file(&path).unwrap();
            assert!(report.ok(), "{:?}", report.violations);
        }
    }
}

#[test]
fn legacy_and_aligned_inputs_merge_into_aligned_outputs_via_cli() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = GenConfig {
        files: 2,
        rows: 12_000,
        metrics: 4,
        layout: Layout::Legacy,
        ..GenConfig::default()
    };
    let aligned = GenConfig {
        layout: Layout::Aligned,
        seed: 7,
        ..legacy.clone()
    };
    let mut inputs: Vec<_> = generate(&dir.path().join("l"), &legacy)
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect();
    inputs.extend(
        generate(&dir.path().join("a"), &aligned)
            .unwrap()
            .into_iter()
            .map(|s| s.path),
    );
    let out = dir.path().join("out");
    // Without promotion the inputs disagree on P.
    let o = common::merge_cli(&out, &[], &inputs);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("prefix length P"));
    let o = common::merge_cli(
        &out,
        &["--promote-prefix-len", "1", "--num-outputs", "2"],
        &inputs,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for path in parquet_files(&out) {
        assert_eq!(InputFile::open(&path).unwrap().prefix_len(), 1);
        assert!(verify_file(&path).unwrap().ok());
    }
}

#[test]
fn false_claim_is_rejected_unless_rescanned() {
    let dir = tempfile::tempdir().unwrap();
    // Claims P = 1 but its first row group holds "a" and "b" (sorted, so repairable).
    let liar = dir.path().join("liar.parquet");
    write_kv_file(
        &liar,
        &[vec!["a", "a", "b"], vec!["c", "d"]],
        Some("k|ts"),
        Some(1),
        EnabledStatistics::Page,
    );
    let honest = dir.path().join("honest.parquet");
    write_kv_file(
        &honest,
        &[vec!["a"], vec!["b", "b"], vec!["d"]],
        Some("k|ts"),
        Some(1),
        EnabledStatistics::Page,
    );
    let inputs = vec![liar.clone(), honest];
    let err = MergeBuilder::new(&inputs, dir.path().join("o1"))
        .run()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Alignment { rule: "PA-1", path, .. } if *path == liar),
        "{err}"
    );
    let out = dir.path().join("o2");
    let result = MergeBuilder::new(&inputs, &out)
        .rescan_alignment(true)
        .run()
        .unwrap();
    assert_eq!(result.rows_out, 9);
    let merged = &parquet_files(&out)[0];
    let input = InputFile::open(merged).unwrap();
    assert_eq!(input.prefix_len(), 1);
    assert_eq!(input.row_groups.len(), 4, "a, b, c, d");
    assert!(verify_file(merged).unwrap().ok());
}

#[test]
fn unsorted_prefix_names_file_and_first_offending_row() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("unsorted.parquet");
    write_kv_file(
        &bad,
        &[vec!["a", "c"], vec!["c", "b"]],
        Some("k|ts"),
        Some(0),
        EnabledStatistics::Page,
    );
    let err = MergeBuilder::new([&bad], dir.path().join("out"))
        .promote_prefix_len(1)
        .run()
        .unwrap_err();
    match &err {
        Error::Unsorted { path, location, .. } => {
            assert_eq!(path, &bad);
            assert_eq!(location, "row group 1, row 1");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(!dir.path().join("out").exists() || parquet_files(&dir.path().join("out")).is_empty());
}
