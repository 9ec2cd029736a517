//! DataFusion peer for `benches/peers/run.sh`: merge the sorted Parquet files of one
//! directory into one sorted ZSTD(3) Parquet file.
//!
//! Usage: df-merge OUT_FILE SORT_SPEC INPUT_DIR
//!
//! SORT_SPEC is an SQL ORDER BY list, e.g. `metric_name ASC NULLS LAST, ...`. It is
//! declared as the table's order (`WITH ORDER`), so DataFusion can merge the inputs
//! instead of sorting them, and used as the query's ORDER BY. Every `*.parquet` file in
//! INPUT_DIR is an input; there is one target partition per input file. Prints the
//! number of rows written. With DF_EXPLAIN=1 the physical plan goes to stderr first.

use std::path::Path;
use std::process::ExitCode;

use datafusion::common::cast::as_uint64_array;
use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn count_inputs(dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "parquet") {
            n += 1;
        }
    }
    Ok(n)
}

async fn run(out: &str, sort: &str, dir: &str) -> Result<u64> {
    let inputs = count_inputs(Path::new(dir))?;
    let config = SessionConfig::new().with_target_partitions(inputs.max(1));
    let ctx = SessionContext::new_with_config(config);
    let location = format!("{}/", dir.trim_end_matches('/'));
    ctx.sql(&format!(
        "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION {} WITH ORDER ({sort})",
        sql_str(&location)
    ))
    .await?;
    let query = format!("SELECT * FROM t ORDER BY {sort}");
    if std::env::var_os("DF_EXPLAIN").is_some_and(|v| v == "1") {
        let plan = ctx.sql(&query).await?.create_physical_plan().await?;
        let shown = datafusion::physical_plan::displayable(plan.as_ref()).indent(true);
        eprintln!("{inputs} input files; physical plan:\n{shown}");
    }
    let batches = ctx
        .sql(&format!(
            "COPY ({query}) TO {} STORED AS PARQUET OPTIONS ('format.compression' 'zstd(3)')",
            sql_str(out)
        ))
        .await?
        .collect()
        .await?;
    let mut rows = 0;
    for batch in &batches {
        rows += as_uint64_array(batch.column(0))?
            .iter()
            .flatten()
            .sum::<u64>();
    }
    Ok(rows)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 1 && args[0] == "--version" {
        println!(
            "df-merge {} (datafusion {})",
            env!("CARGO_PKG_VERSION"),
            datafusion::DATAFUSION_VERSION
        );
        return ExitCode::SUCCESS;
    }
    let [out, sort, dir] = args.as_slice() else {
        eprintln!("usage: df-merge OUT_FILE SORT_SPEC INPUT_DIR");
        return ExitCode::from(2);
    };
    match run(out, sort, dir).await {
        Ok(rows) => {
            println!("{rows}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("df-merge: {e}");
            ExitCode::FAILURE
        }
    }
}
