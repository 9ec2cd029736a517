//! A table kept compacted: create it, add splits as an ingester would, ask the
//! policy what it would do, compact, and list the live set a reader queries.
//!
//! Run with `cargo run --example table`.

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use prefix_merge::compact::{self, CompactOptions, Table, TableSettings, Worker};
use prefix_merge::input::Window;
use prefix_merge::write::{write_split, SplitConfig};
use prefix_merge::SortSchema;
use std::sync::Arc;
use std::time::Duration;

const SORT: &str = "metric_name|host|timestamp_secs/V2";
/// An hour long past, so the policy sees a closed window and merges it whole.
const WINDOW: Window = Window {
    start: 1_600_000_000 - 1_600_000_000 % 3600,
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

/// The points of split `s`: two metrics from two hosts, 5 seconds each.
fn batch(s: i64) -> RecordBatch {
    let (mut metric, mut host, mut ts, mut value) = (vec![], vec![], vec![], vec![]);
    for m in ["cpu.usage", "mem.used"] {
        for h in ["host-a", "host-b"] {
            for second in 0..5 {
                metric.push(m);
                host.push(h);
                ts.push(WINDOW.start + s * 5 + second);
                value.push((s * 100 + second) as f64);
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
    let incoming = dir.path().join("incoming");
    std::fs::create_dir_all(&incoming).map_err(|e| prefix_merge::Error::io(&incoming, e))?;

    // Create: the sort schema and P are fixed for the table's life.
    let mut table = Table::create(
        &dir.path().join("table"),
        TableSettings::new(SORT.to_string(), 1, false),
    )?;

    // Add: each file is validated, copied into the table and registered with the
    // table's next sequence number. Adding the same file again is a no-op.
    let sort: SortSchema = SORT.parse()?;
    let mut config = SplitConfig::new(sort, 1);
    config.window = Some(WINDOW);
    let worker = Worker::new(Duration::from_secs(60));
    for s in 0..4 {
        let path = incoming.join(format!("split_{s}.parquet"));
        write_split(&path, schema(), &[batch(s)], &config)?;
        match table.add(&path, false, None, &worker)? {
            compact::Added::New(split) => {
                println!(
                    "added {} as {} (seq {})",
                    path.display(),
                    split.id,
                    split.seq_min
                )
            }
            compact::Added::Existing(split) => println!("already in the table as {}", split.id),
        }
    }
    let again = incoming.join("split_0.parquet");
    if let compact::Added::Existing(split) = table.add(&again, false, None, &worker)? {
        println!(
            "added split_0.parquet again: already in the table as {}",
            split.id
        );
    }

    // Plan, then compact until the policy has nothing left to do.
    let options = CompactOptions {
        until_stable: true,
        ..CompactOptions::default()
    };
    for job in compact::plan(&mut table, &options)? {
        println!(
            "planned: {} job over {} splits, estimated peak {} bytes",
            job.spec.kind.as_str(),
            job.spec.inputs.len(),
            job.estimated_peak_bytes
        );
    }
    let report = compact::compact(&mut table, &options)?;
    println!(
        "compacted: {} jobs, {} rows merged, {} live splits",
        report.jobs.len(),
        report.rows_merged,
        report.live_splits
    );

    // The live set: what a query engine reads (`table ls --json`).
    let live = table.live_set(None)?;
    println!(
        "live set: {} rows in {} splits",
        live.rows,
        live.splits.len()
    );
    for split in &live.splits {
        println!(
            "  {}  rows {}  level {}  seq {}..{}  keys {} .. {}",
            split.url,
            split.split.rows,
            split.split.level,
            split.split.seq_min,
            split.split.seq_max,
            split.split.min_key,
            split.split.max_key
        );
    }
    assert_eq!(live.rows, 4 * 20, "every added row is live exactly once");

    // Replaced splits keep their files for readers until gc (here with no grace).
    let gc = compact::gc(&mut table, Duration::ZERO, compact::worker::now_secs())?;
    println!(
        "gc: {} replaced splits deleted, {} bytes freed",
        gc.deleted_splits.len(),
        gc.bytes_freed
    );
    Ok(())
}
