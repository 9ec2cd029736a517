//! Runs each stage of the `corrupt_input` target on the given files separately,
//! under `catch_unwind`, and prints which stages return Ok, Err or panic.
//!
//! `cargo run --example triage -- FILE...` (from fuzz/).

use prefix_merge::gen::{generate, GenConfig, Layout, Overlap};
use prefix_merge::inspect::InspectReport;
use prefix_merge::verify::verify_file;
use prefix_merge::{InputFile, MergeBuilder};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

fn stage<T: std::fmt::Debug, E: std::fmt::Display>(name: &str, f: impl FnOnce() -> Result<T, E>) {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => println!("  {name}: ok {v:?}"),
        Ok(Err(e)) => println!("  {name}: Err: {e}"),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            println!("  {name}: PANIC: {msg}");
        }
    }
}

fn main() {
    // TRIAGE_BACKTRACE=1 prints each panic's backtrace.
    if std::env::var_os("TRIAGE_BACKTRACE").is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    }
    let scratch = tempfile::tempdir().unwrap();
    let mut companions = Vec::new();
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
        companions.push(
            generate(&scratch.path().join(name), &config).unwrap()[0]
                .path
                .clone(),
        );
    }
    for (n, arg) in std::env::args().skip(1).enumerate() {
        let path = Path::new(&arg);
        let len = std::fs::metadata(path).unwrap().len() as usize;
        println!("{arg}:");
        stage("open+inspect", || {
            InputFile::open(path).map(|i| InspectReport::new(&i).render_text().len())
        });
        stage("alignment", || {
            InputFile::open(path).map(|i| prefix_merge::plan::check_alignment(&i).verdict())
        });
        stage("verify_file", || verify_file(path).map(|r| r.violations));
        for verbatim_copy in [true, false] {
            let out = scratch.path().join(format!("alone{n}-{verbatim_copy}"));
            stage(
                &format!("merge alone (verbatim_copy: {verbatim_copy})"),
                || {
                    MergeBuilder::new([path], &out)
                        .num_outputs(2)
                        .options(
                            prefix_merge::merge::MergeOptions::default()
                                .with_batch_rows(64)
                                .with_row_group_rows(100)
                                .with_verbatim_copy(verbatim_copy),
                        )
                        .run()
                        .map(|r| {
                            // Outputs of a successful merge, deep-checked.
                            r.outputs
                                .iter()
                                .map(|o| {
                                    (
                                        o.rows,
                                        verify_file(&o.path)
                                            .map(|v| v.violations)
                                            .map_err(|e| e.to_string()),
                                    )
                                })
                                .collect::<Vec<_>>()
                        })
                },
            );
        }
        let out = scratch.path().join(format!("pair{n}"));
        let companion = &companions[len % 2];
        stage("merge with companion", || {
            MergeBuilder::new([companion.as_path(), path], &out)
                .run()
                .map(|r| r.rows_out)
        });
    }
}
