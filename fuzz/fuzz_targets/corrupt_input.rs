//! Robustness against arbitrary (corrupt, truncated, adversarial) Parquet files.
//!
//! The input bytes are written to a file, which is then opened, inspected
//! (`InspectReport::new` + `render_text`), verified (`verify_file`) and merged,
//! alone and together with a valid generated companion file. Any typed `Err` is
//! fine; a panic, hang (`-timeout`) or huge allocation (`-malloc_limit_mb`) is
//! a bug.
//!
//! The library runs parquet-rs decoding under `catch_unwind` (input::guard) and
//! turns a decoder panic into a typed error; libfuzzer-sys's panic hook would
//! abort on such a caught panic, so `tolerate_guarded_panics` lets through
//! exactly those: raised inside dependency code while the panicking thread is in
//! guarded decoding (`in_guarded_decode`). Every other panic aborts as usual.
//!
//! With PM_FUZZ_STRICT=1, a merge that succeeds must also produce outputs that
//! pass `verify_file` (garbage must be rejected, not passed on).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prefix_merge::gen::{generate, GenConfig, Layout, Overlap};
use prefix_merge::input::in_guarded_decode;
use prefix_merge::inspect::InspectReport;
use prefix_merge::merge::MergeOptions;
use prefix_merge::plan::check_alignment;
use prefix_merge::verify::verify_file;
use prefix_merge::{InputFile, MergeBuilder, MergeResult};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Valid companions, written once per process: an aligned (P = 1) and a legacy
/// (P = 0) file of the `gen` schema, which most seeds share. libFuzzer exits
/// without running destructors, so the directory carries the pid and each new
/// process removes the directories of processes that are gone.
fn companions() -> &'static [PathBuf; 2] {
    static COMPANIONS: OnceLock<[PathBuf; 2]> = OnceLock::new();
    COMPANIONS.get_or_init(|| {
        const PREFIX: &str = "pm-fuzz-companions-";
        let tmp = std::env::temp_dir();
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(pid) = name.strip_prefix(PREFIX) else { continue };
                if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = tmp.join(format!("{PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut paths = Vec::new();
        for (name, layout) in [("aligned", Layout::Aligned), ("legacy", Layout::Legacy)] {
            let config = GenConfig {
                files: 1,
                rows: 60,
                metrics: 3,
                series: None,
                layout,
                overlap: Overlap::Disjoint,
                seed: 7,
            };
            let summaries = generate(&dir.join(name), &config).expect("generate companion");
            paths.push(summaries[0].path.clone());
        }
        paths.try_into().unwrap()
    })
}

fn strict() -> bool {
    std::env::var_os("PM_FUZZ_STRICT").is_some_and(|v| v != "0")
}

fn merge(inputs: &[&Path], out_dir: &Path, num_outputs: usize) -> prefix_merge::Result<MergeResult> {
    MergeBuilder::new(inputs, out_dir)
        .num_outputs(num_outputs)
        .options(
            MergeOptions::default()
                .with_batch_rows(64)
                .with_row_group_rows(100),
        )
        .run()
}

fn check_outputs(result: &MergeResult, what: &str) {
    assert_eq!(result.rows_in, result.rows_out, "{what}: rows_in != rows_out");
    if !strict() {
        return;
    }
    for out in &result.outputs {
        let report = verify_file(&out.path)
            .unwrap_or_else(|e| panic!("{what}: output {} unreadable: {e}", out.path.display()));
        assert!(report.ok(), "{what}: output fails verify: {:?}", report.violations);
    }
}

/// Wrap libfuzzer-sys's aborting panic hook: stay quiet about a panic that the
/// library's decoder guard will catch and report as an error.
fn tolerate_guarded_panics() {
    let fuzzer_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_dependency = info.location().is_some_and(|l| {
            let file = l.file();
            file.contains("/registry/src/") || file.contains("/git/checkouts/")
        });
        if in_dependency && in_guarded_decode() {
            return;
        }
        fuzzer_hook(info)
    }));
}

fuzz_target!(init: tolerate_guarded_panics(), |data: &[u8]| {
    let companion = &companions()[data.len() % 2];
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("input.parquet");
    std::fs::write(&path, data).expect("write input");

    if let Ok(input) = InputFile::open(&path) {
        let report = InspectReport::new(&input);
        let text = report.render_text();
        assert!(!text.is_empty());
        let _ = check_alignment(&input);
        for rg in &input.row_groups {
            if let Some(prefix) = &rg.prefix {
                let _ = input.decode_prefix(prefix.key.as_bytes());
            }
        }
    }

    let _ = verify_file(&path);

    if let Ok(result) = merge(&[&path], &dir.path().join("alone"), 2) {
        check_outputs(&result, "merge alone");
    }
    if let Ok(result) = merge(&[companion.as_path(), &path], &dir.path().join("pair"), 1) {
        check_outputs(&result, "merge with companion");
    }
});
