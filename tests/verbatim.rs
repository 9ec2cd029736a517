//! A region with a single contributing row group is copied verbatim: the output's
//! column chunks are the input's bytes (same codec, same size), the data is still
//! proven sorted (SS-1), and disabling the copy gives the same rows.

mod common;

use common::{parquet_files, read_rows, write_kv_file};
use parquet::file::properties::EnabledStatistics;
use prefix_merge::merge::MergeOptions;
use prefix_merge::verify::verify_file;
use prefix_merge::{Error, InputFile, MergeBuilder};

#[test]
fn single_contributor_regions_are_copied_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.parquet");
    let b = dir.path().join("b.parquet");
    // "a" and "c" have one contributor each; "b" is in both files.
    write_kv_file(
        &a,
        &[vec!["a", "a", "a"], vec!["b", "b"]],
        Some("k|ts"),
        Some(1),
        EnabledStatistics::Page,
    );
    write_kv_file(
        &b,
        &[vec!["b"], vec!["c", "c"]],
        Some("k|ts"),
        Some(1),
        EnabledStatistics::Page,
    );
    let out = dir.path().join("out");
    MergeBuilder::new([&a, &b], &out).run().unwrap();
    let merged = &parquet_files(&out)[0];
    let (ia, ib, im) = (
        InputFile::open(&a).unwrap(),
        InputFile::open(&b).unwrap(),
        InputFile::open(merged).unwrap(),
    );
    let chunk = |f: &InputFile, rg: usize| {
        let c = f.metadata.metadata().row_group(rg).column(0).clone();
        (c.compression(), c.compressed_size(), c.num_values())
    };
    assert_eq!(im.row_groups.len(), 3);
    // Output codec is ZSTD(3); copied chunks keep the input's (uncompressed here).
    assert_eq!(chunk(&im, 0), chunk(&ia, 0), "region a copied verbatim");
    assert_eq!(chunk(&im, 2), chunk(&ib, 1), "region c copied verbatim");
    assert_ne!(
        chunk(&im, 1).0,
        chunk(&ia, 1).0,
        "region b was merged and re-encoded"
    );
    assert!(verify_file(merged).unwrap().ok());

    // Same rows with the copy disabled.
    let out2 = dir.path().join("out2");
    let options = MergeOptions::default().with_verbatim_copy(false);
    MergeBuilder::new([&a, &b], &out2)
        .options(options)
        .run()
        .unwrap();
    let cols = ["k", "ts"];
    assert_eq!(
        read_rows(merged, &cols),
        read_rows(&parquet_files(&out2)[0], &cols)
    );
}

#[test]
fn copied_row_groups_are_still_checked_for_order() {
    let dir = tempfile::tempdir().unwrap();
    // Claims k|-ts but ts ascends inside the row group of "z".
    let bad = dir.path().join("bad.parquet");
    write_kv_file(
        &bad,
        &[vec!["z", "z", "z"]],
        Some("k|-ts"),
        Some(1),
        EnabledStatistics::Page,
    );
    let err = MergeBuilder::new([&bad], dir.path().join("out"))
        .run()
        .unwrap_err();
    match &err {
        Error::Unsorted { path, location, .. } => {
            assert_eq!(path, &bad);
            assert_eq!(location, "row group 0, row 1");
        }
        other => panic!("unexpected {other}"),
    }
}
