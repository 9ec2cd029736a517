//! Writes the seed corpus of the `corrupt_input` target: small valid Parquet
//! files in the layouts the crate reads (gen's aligned and legacy layouts,
//! `write_split` with P = 0/1/2 over many column types, a file with only
//! Parquet `sorting_columns`, an uncompressed dictionary-heavy file).
//!
//! `cargo run --example gen_seeds -- corpus/corrupt_input` (from fuzz/).

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::*;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::WriterProperties;
use prefix_merge::gen::{generate, GenConfig, Layout, Overlap};
use prefix_merge::write::{write_split, SplitConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAX_SEED_BYTES: u64 = 20 * 1024;

fn typed_batch(rows: usize) -> RecordBatch {
    let names = ["cpu", "mem", "disk\0x", ""];
    let mut dict = StringDictionaryBuilder::<Int32Type>::new();
    for i in 0..rows {
        if i % 11 == 10 {
            dict.append_null();
        } else {
            dict.append_value(names[i % names.len()]);
        }
    }
    let schema = Schema::new(vec![
        Field::new(
            "metric_name",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
        Field::new("host", DataType::Utf8View, true),
        Field::new("shard", DataType::Int32, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("blob", DataType::Binary, true),
        Field::new("ratio", DataType::Float64, true),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
        Field::new("value", DataType::Float32, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(dict.finish()),
        Arc::new(StringViewArray::from_iter(
            (0..rows).map(|i| (i % 7 != 3).then(|| format!("host-{}", i % 5))),
        )),
        Arc::new(Int32Array::from_iter((0..rows).map(|i| {
            (i % 13 != 0).then_some((i % 4) as i32 - 2)
        }))),
        Arc::new(BooleanArray::from_iter(
            (0..rows).map(|i| (i % 9 != 0).then_some(i % 2 == 0)),
        )),
        Arc::new(BinaryArray::from_iter(
            (0..rows).map(|i| (i % 6 != 0).then(|| vec![0u8, (i % 3) as u8])),
        )),
        Arc::new(Float64Array::from_iter((0..rows).map(|i| match i % 10 {
            0 => None,
            1 => Some(f64::NAN),
            2 => Some(-0.0),
            _ => Some(i as f64 / 3.0),
        }))),
        Arc::new(TimestampMillisecondArray::from_iter_values(
            (0..rows).map(|i| 1_700_000_000_000 + (i as i64 * 7919) % 1000),
        )),
        Arc::new(Float32Array::from_iter_values((0..rows).map(|i| i as f32))),
    ];
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

fn main() {
    let out: PathBuf = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "corpus/corrupt_input".into())
        .into();
    std::fs::create_dir_all(&out).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut written = Vec::new();

    // gen's own layouts (same as `prefix-merge gen --files 1 --rows 300 --metrics 3`).
    for (name, layout) in [
        ("gen_aligned", Layout::Aligned),
        ("gen_legacy", Layout::Legacy),
    ] {
        let dir = scratch.path().join(name);
        let config = GenConfig {
            files: 1,
            rows: 300,
            metrics: 3,
            series: None,
            layout,
            overlap: Overlap::Disjoint,
            seed: 42,
        };
        let s = generate(&dir, &config).unwrap();
        written.push((name.to_string(), s[0].path.clone()));
    }

    // write_split over many column types, P = 0, 1, 2.
    for p in 0..=2 {
        // Every row group costs ~2 KB of footer: keep P = 2 files to few groups.
        let batch = typed_batch(if p == 2 { 8 } else { 60 });
        let sort = "metric_name|-host|shard+|flag|blob|ratio-|timestamp"
            .parse()
            .unwrap();
        let mut config = SplitConfig::new(sort, p);
        if p == 0 {
            config.max_row_group_rows = Some(16);
        }
        let path = scratch.path().join(format!("typed_p{p}.parquet"));
        write_split(&path, batch.schema(), &[batch], &config).unwrap();
        written.push((format!("typed_p{p}"), path));
    }

    // No qh.* keys: the sort schema comes from Parquet sorting_columns only.
    {
        let batch = typed_batch(20);
        let sorted = prefix_merge::write::sort_batch(
            &batch,
            &"metric_name|timestamp".parse().unwrap(),
        )
        .unwrap();
        let props = WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_sorting_columns(Some(vec![
                SortingColumn {
                    column_idx: 0,
                    descending: false,
                    nulls_first: false,
                },
                SortingColumn {
                    column_idx: 6,
                    descending: true,
                    nulls_first: false,
                },
            ]))
            .set_max_row_group_row_count(Some(8))
            .build();
        let path = scratch.path().join("sorting_columns_only.parquet");
        let mut w = ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            sorted.schema(),
            Some(props),
        )
        .unwrap();
        w.write(&sorted).unwrap();
        w.close().unwrap();
        written.push(("sorting_columns_only".into(), path));
    }

    for (name, path) in written {
        copy_seed(&path, &out.join(format!("{name}.parquet")));
    }
}

fn copy_seed(from: &Path, to: &Path) {
    // Seeds are valid files: they open and pass the deep check.
    prefix_merge::InputFile::open(from).unwrap();
    let report = prefix_merge::verify::verify_file(from).unwrap();
    assert!(report.ok(), "{}: {:?}", from.display(), report.violations);
    let len = std::fs::metadata(from).unwrap().len();
    assert!(len < MAX_SEED_BYTES, "{} is {len} bytes", from.display());
    std::fs::copy(from, to).unwrap();
    println!("{}\t{len} bytes", to.display());
}
