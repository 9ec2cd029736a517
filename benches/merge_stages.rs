//! Criterion benches of the two merge stages on in-memory data (no file I/O):
//! the merge order (k-way with run detection) and merge order + body assembly
//! (interleave). Eight sorted inputs of 100k metrics rows, disjoint in time (long
//! runs) and interleaved (runs of one row).
//!
//! `cargo bench --bench merge_stages`

use arrow_array::RecordBatch;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use prefix_merge::gen::{metrics_batch, sort_schema, GenConfig, Overlap};
use prefix_merge::merge::{merge_batches, merge_order};
use prefix_merge::write::sort_batch;

const FILES: usize = 8;
const ROWS: usize = 100_000;

fn inputs(overlap: Overlap) -> Vec<Vec<RecordBatch>> {
    let cfg = GenConfig {
        files: FILES,
        rows: ROWS,
        metrics: 20,
        overlap,
        ..GenConfig::default()
    };
    let sort = sort_schema();
    (0..FILES)
        .map(|f| {
            let sorted = sort_batch(&metrics_batch(&cfg, f).unwrap(), &sort).unwrap();
            (0..ROWS)
                .step_by(8192)
                .map(|o| sorted.slice(o, 8192.min(ROWS - o)))
                .collect()
        })
        .collect()
}

fn stages(c: &mut Criterion) {
    let sort = sort_schema();
    let mut group = c.benchmark_group("merge_stages");
    group.sample_size(10);
    group.throughput(Throughput::Elements((FILES * ROWS) as u64));
    for overlap in [Overlap::Disjoint, Overlap::Interleave] {
        let data = inputs(overlap);
        let name = format!("{overlap:?}").to_lowercase();
        group.bench_with_input(BenchmarkId::new("order", &name), &data, |b, d| {
            b.iter(|| merge_order(&sort, d.clone(), 8192).unwrap().len())
        });
        group.bench_with_input(BenchmarkId::new("order+assemble", &name), &data, |b, d| {
            b.iter(|| merge_batches(&sort, d.clone(), 8192).unwrap().len())
        });
    }
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
