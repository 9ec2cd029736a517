//! What subcommands return and print: exit codes, usage errors, JSON reports and
//! storage request counts.

use std::process::ExitCode;

/// After a run that touched object storage: its request and byte counts.
pub fn print_io_stats() {
    let s = prefix_merge::storage::stats::snapshot();
    if s.gets + s.puts > 0 {
        println!(
            "storage: {} GETs ({} bytes fetched), {} PUTs ({} bytes uploaded)",
            s.gets, s.bytes_fetched, s.puts, s.bytes_uploaded
        );
    }
}

/// Exit code for a file that breaks its claim or a failed job.
pub const EXIT_VIOLATION: u8 = 1;
/// Exit code for usage errors and unreadable files.
pub const EXIT_USAGE: u8 = 2;

/// What a subcommand returns: an exit code, or an error with the code to exit with.
pub type CliResult = Result<ExitCode, Box<(u8, prefix_merge::Error)>>;

/// A usage error about a flag (exit 2), checked before the library is called so
/// that the message names the flag (`--num-outputs`) rather than a library field.
pub fn flag_error(text: impl Into<String>) -> Box<(u8, prefix_merge::Error)> {
    Box::new((
        EXIT_USAGE,
        prefix_merge::Error::InvalidArgument(text.into()),
    ))
}

/// Print `value` as pretty JSON.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> CliResult {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Box::new((EXIT_USAGE, prefix_merge::Error::json("report", e))))?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
