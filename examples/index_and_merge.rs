//! An indexing pipeline in miniature: points arrive in batches, each batch becomes
//! one aligned split (P = 1: one row group per metric) written by the library's
//! writer, and the splits are then merged into two non-overlapping outputs with
//! `MergeBuilder`, which publishes a run manifest last.
//!
//! Run with `cargo run --example index_and_merge`.

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use prefix_merge::input::Window;
use prefix_merge::plan::check_alignment;
use prefix_merge::verify::verify_file;
use prefix_merge::write::{write_split, SplitConfig};
use prefix_merge::{InputFile, MergeBuilder, SortSchema};
use std::path::PathBuf;
use std::sync::Arc;

const METRICS: [&str; 3] = ["cpu.usage", "disk.free", "mem.used"];
const HOSTS: [&str; 4] = ["host-a", "host-b", "host-c", "host-d"];
/// The time window every split of this example covers (one hour).
const WINDOW: Window = Window {
    start: 1_700_000_000 - 1_700_000_000 % 3600,
    duration_secs: 3600,
};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("metric_name", DataType::Utf8, false),
        Field::new("host", DataType::Utf8, true),
        Field::new("timestamp_secs", DataType::Int64, false),
        Field::new("value", DataType::Float64, false),
    ]))
}

/// One batch of points as an ingester would buffer them: in arrival order, not
/// sorted. Batch `b` holds 10 seconds of points from every host and metric.
fn ingested_batch(b: i64) -> RecordBatch {
    let (mut metric, mut host, mut ts, mut value) = (vec![], vec![], vec![], vec![]);
    for second in 0..10 {
        for (h, host_name) in HOSTS.iter().enumerate() {
            for (m, metric_name) in METRICS.iter().enumerate() {
                metric.push(*metric_name);
                host.push(*host_name);
                ts.push(WINDOW.start + b * 10 + second);
                value.push((b * 1000 + second * 10) as f64 + (h * 3 + m) as f64);
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(metric)),
        Arc::new(StringArray::from(host)),
        Arc::new(Int64Array::from(ts)),
        Arc::new(Float64Array::from(value)),
    ];
    RecordBatch::try_new(schema(), columns).expect("columns match the schema")
}

fn main() -> prefix_merge::Result<()> {
    let dir = tempfile::tempdir().map_err(|e| prefix_merge::Error::io(".", e))?;
    // `timestamp_secs` sorts newest first unless declared `+timestamp_secs`.
    let sort: SortSchema = "metric_name|host|timestamp_secs/V2".parse()?;
    let mut config = SplitConfig::new(sort, 1);
    config.window = Some(WINDOW);

    // Indexing side: every batch becomes one split, sorted and aligned by the writer.
    let mut splits: Vec<PathBuf> = Vec::new();
    for b in 0..3 {
        let path = dir.path().join(format!("split_{b:03}.parquet"));
        let summary = write_split(&path, schema(), &[ingested_batch(b)], &config)?;
        let input = InputFile::open(&path)?;
        assert!(
            check_alignment(&input).ok(),
            "the writer keeps PA-1, PA-3, MS-2"
        );
        println!(
            "wrote {}: {} rows in {} row groups (one per metric)",
            path.file_name().unwrap_or_default().to_string_lossy(),
            summary.rows,
            summary.row_groups
        );
        splits.push(path);
    }

    // Compaction side: merge the splits into at most two outputs. The manifest is
    // published after every output is durable: it is the hand-off to the catalog.
    let out = dir.path().join("merged");
    let manifest = out.join("run.json");
    let result = MergeBuilder::new(&splits, &out)
        .num_outputs(2)
        .manifest_path(&manifest)
        .run()?;
    println!(
        "run {}: {} rows in, {} rows out, {} outputs, qh.num_merge_ops = {}",
        result.run_id,
        result.rows_in,
        result.rows_out,
        result.outputs.len(),
        result.num_merge_ops
    );
    for output in &result.outputs {
        let report = verify_file(&output.path)?;
        println!(
            "  {}: {} rows, {} row groups, {} series, verify: {}",
            output
                .path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
            output.rows,
            output.row_groups,
            output.series,
            if report.violations.is_empty() {
                "ok"
            } else {
                "VIOLATIONS"
            }
        );
        if let Some(v) = report.violations.first() {
            panic!("{}: {} {}", report.path, v.rule, v.detail);
        }
    }
    assert_eq!(result.rows_in, result.rows_out, "MC-1");
    println!(
        "manifest: {} ({} bytes)",
        manifest.display(),
        std::fs::metadata(&manifest)
            .map_err(|e| prefix_merge::Error::io(&manifest, e))?
            .len()
    );
    Ok(())
}
