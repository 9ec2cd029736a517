//! How often a whole input page could be copied without decoding (issue 18, item 2):
//! merges the inputs' sort columns in memory (`merge::merge_order`, the engine's
//! order), finds the runs (consecutive rows of one input that stay consecutive in
//! the output), and counts, per column, the data pages (from the inputs' offset
//! index) whose rows all lie in one run.
//!
//! `cargo run --release --example page_runs -- INPUT...`

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::PageIndexPolicy;
use prefix_merge::merge::merge_order;
use prefix_merge::InputFile;
use std::fs::File;

type Failure = Box<dyn std::error::Error>;
/// Per leaf column: its name and its pages' first rows (file-wide), then the row count.
type PageStarts = Vec<(String, Vec<u64>)>;

/// The sort columns of `path`, in batches, and per column its pages' first rows
/// (file-wide row numbers, one list per leaf column, ending with the row count).
fn read(input: &InputFile) -> Result<(Vec<RecordBatch>, PageStarts), Failure> {
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
    let builder =
        ParquetRecordBatchReaderBuilder::try_new_with_options(File::open(&input.path)?, options)?;
    let meta = builder.metadata().clone();
    let schema = meta.file_metadata().schema_descr();
    let sort: Vec<usize> = input
        .sort_schema()
        .column_names()
        .filter_map(|n| (0..schema.num_columns()).find(|&i| schema.column(i).name() == n))
        .collect();
    let mask = ProjectionMask::leaves(schema, sort);
    let batches = builder
        .with_projection(mask)
        .build()?
        .collect::<Result<Vec<_>, _>>()?;
    let mut pages: PageStarts = (0..schema.num_columns())
        .map(|c| (schema.column(c).name().to_string(), Vec::new()))
        .collect();
    let mut base = 0u64;
    for (i, rg) in meta.row_groups().iter().enumerate() {
        let index = meta.page_index_for_row_group(i);
        for (c, (_, starts)) in pages.iter_mut().enumerate() {
            let locations = index.page_locations(c).ok_or("no offset index")?;
            starts.extend(locations.iter().map(|p| base + p.first_row_index as u64));
        }
        base += rg.num_rows() as u64;
    }
    for (_, starts) in &mut pages {
        starts.push(base);
    }
    Ok((batches, pages))
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Failure> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let inputs = paths
        .iter()
        .map(InputFile::open)
        .collect::<Result<Vec<_>, _>>()?;
    let mut batches = Vec::new();
    let mut pages = Vec::new();
    for input in &inputs {
        let (b, p) = read(input)?;
        batches.push(b);
        pages.push(p);
    }
    let sort = inputs.first().ok_or("no inputs")?.sort_schema().clone();
    let order = merge_order(&sort, batches, 8192)?;
    // run_start[i][r]: row r of input i starts a run (its output predecessor is
    // not row r - 1 of input i).
    let mut run_start: Vec<Vec<bool>> = pages
        .iter()
        .map(|p| vec![true; p[0].1.last().copied().unwrap_or(0) as usize])
        .collect();
    let mut runs = 0u64;
    for (k, &(i, r)) in order.iter().enumerate() {
        let continues = k > 0 && r > 0 && order[k - 1] == (i, r - 1);
        run_start[i][r as usize] = !continues;
        runs += u64::from(!continues);
    }
    println!(
        "{} rows, {} runs ({:.1} rows per run)",
        order.len(),
        runs,
        order.len() as f64 / runs.max(1) as f64
    );
    for c in 0..pages[0].len() {
        let (mut whole, mut total, mut rows) = (0u64, 0u64, 0u64);
        for (i, input) in pages.iter().enumerate() {
            for w in input[c].1.windows(2) {
                let (a, b) = (w[0] as usize, w[1] as usize);
                total += 1;
                if (a + 1..b).all(|r| !run_start[i][r]) {
                    whole += 1;
                    rows += (b - a) as u64;
                }
            }
        }
        println!(
            "{:<16} {whole:>6} of {total:>6} pages in one run ({:.1}%), {rows} rows",
            pages[0][c].0,
            100.0 * whole as f64 / total.max(1) as f64
        );
    }
    Ok(())
}
