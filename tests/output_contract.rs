//! What outputs promise: the requested count when series allow, sizes within ±25%
//! of the even share, the inputs' P, sort schema and window, merge count + 1,
//! dictionary-encoded strings, bloom filters kept, and nothing else left in DIR.

use parquet::basic::Encoding;
use parquet::file::properties::WriterProperties;
use prefix_merge::gen::{generate, GenConfig, Layout, Overlap};
use prefix_merge::write::{write_split, SplitConfig};
use prefix_merge::{InputFile, MergeBuilder};
use std::path::PathBuf;

fn inputs(dir: &std::path::Path, layout: Layout) -> Vec<PathBuf> {
    let cfg = GenConfig {
        files: 4,
        rows: 20_000,
        metrics: 10,
        layout,
        overlap: Overlap::Interleave,
        ..GenConfig::default()
    };
    generate(&dir.join(format!("{layout:?}")), &cfg)
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect()
}

#[test]
fn requested_count_and_even_sizes() {
    let dir = tempfile::tempdir().unwrap();
    for layout in [Layout::Aligned, Layout::Single, Layout::Legacy] {
        let inputs = inputs(dir.path(), layout);
        let first = InputFile::open(&inputs[0]).unwrap();
        for n in [1usize, 2, 3, 5, 8] {
            let out = dir.path().join(format!("{layout:?}-{n}"));
            let result = MergeBuilder::new(&inputs, &out)
                .num_outputs(n)
                .run()
                .unwrap();
            assert_eq!(result.outputs.len(), n, "{layout:?}: {n} outputs requested");
            let share = result.rows_in as f64 / n as f64;
            for o in &result.outputs {
                let ratio = o.rows as f64 / share;
                assert!(
                    (0.75..=1.25).contains(&ratio),
                    "{layout:?} n={n}: {} rows vs share {share}",
                    o.rows
                );
                let f = InputFile::open(&o.path).unwrap();
                assert_eq!(f.prefix_len(), first.prefix_len());
                assert_eq!(f.sort_schema(), first.sort_schema());
                assert_eq!(f.contract.window, first.contract.window);
                assert_eq!(f.contract.num_merge_ops, first.contract.num_merge_ops + 1);
                // String columns stay dictionary-encoded.
                let chunk = f.metadata.metadata().row_group(0).column(0).clone();
                assert!(
                    chunk.encodings().any(|e| e == Encoding::RLE_DICTIONARY),
                    "{:?}",
                    chunk.encodings().collect::<Vec<_>>()
                );
            }
            // Only the outputs are left in DIR.
            let mut names: Vec<String> = std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            let expected: Vec<String> = (0..n)
                .map(|i| format!("merged_{}_{i:05}.parquet", result.run_id))
                .collect();
            assert_eq!(names, expected);
        }
    }
}

#[test]
fn target_size_derives_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path(), Layout::Aligned);
    let total: u64 = inputs
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let result = MergeBuilder::new(&inputs, dir.path().join("o"))
        .target_output_size(total / 3 + 1)
        .run()
        .unwrap();
    assert_eq!(result.outputs.len(), 3);
}

#[test]
fn bloom_filters_of_inputs_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenConfig {
        files: 1,
        rows: 5_000,
        metrics: 3,
        ..GenConfig::default()
    };
    let batch = prefix_merge::gen::metrics_batch(&cfg, 0).unwrap();
    let mut split = SplitConfig::new(prefix_merge::gen::sort_schema(), 1);
    split.properties = WriterProperties::builder()
        .set_column_bloom_filter_enabled("host".into(), true)
        .build();
    let path = dir.path().join("bloom.parquet");
    write_split(&path, batch.schema(), &[batch], &split).unwrap();
    // Regions copied verbatim carry the chunk's bloom filter; re-encoded ones get
    // a new one because an input had it.
    for verbatim_copy in [true, false] {
        let out_dir = dir.path().join(format!("o-{verbatim_copy}"));
        let options =
            prefix_merge::merge::MergeOptions::default().with_verbatim_copy(verbatim_copy);
        let result = MergeBuilder::new([&path], out_dir)
            .options(options)
            .run()
            .unwrap();
        let out = InputFile::open(&result.outputs[0].path).unwrap();
        let columns = out
            .metadata
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .to_vec();
        let host = columns.iter().position(|c| c.name() == "host").unwrap();
        let value = columns.iter().position(|c| c.name() == "value").unwrap();
        for rg in out.metadata.metadata().row_groups() {
            assert!(
                rg.column(host).bloom_filter_offset().is_some(),
                "host keeps its bloom filter"
            );
            assert!(
                rg.column(value).bloom_filter_offset().is_none(),
                "none where no input had one"
            );
        }
    }
}

/// `with_threads` changes who encodes, never what is written: the same inputs
/// merged on 1 thread (no encoding pool), 2 (one encoding thread) and 4 (a pool
/// of 3 encoding the columns in parallel) give byte-identical outputs.
#[test]
fn threads_change_who_encodes_not_the_bytes() {
    use prefix_merge::merge::MergeOptions;
    let dir = tempfile::tempdir().unwrap();
    let files = inputs(dir.path(), Layout::Aligned);
    let mut outputs = Vec::new();
    for threads in [1, 2, 4] {
        let out = dir.path().join(format!("out{threads}"));
        MergeBuilder::new(&files, &out)
            .num_outputs(2)
            .output_prefix("o")
            .options(MergeOptions::default().with_threads(threads))
            .run()
            .unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        let bytes: Vec<(String, Vec<u8>)> = names
            .iter()
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(p).unwrap())
            })
            .collect();
        outputs.push((threads, bytes));
    }
    let (_, first) = &outputs[0];
    assert_eq!(first.len(), 2, "two outputs asked for");
    for (threads, bytes) in &outputs[1..] {
        assert_eq!(
            bytes.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            first.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
        for ((name, a), (_, b)) in first.iter().zip(bytes) {
            assert!(a == b, "{name}: {threads} threads wrote other bytes than 1");
        }
    }
}
