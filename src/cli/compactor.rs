//! `prefix-merge compactor run`: the long-running compactor service on a shared
//! catalog, with Prometheus metrics and health checks on a small HTTP server.

use super::defaults;
use super::merge::parse_size;
use super::signals::Interrupts;
use super::{flag_error, CatalogArgs, CliResult, StorageArgs, EXIT_USAGE};
use prefix_merge::compact::compactor::{DEFAULT_JOBS, DEFAULT_MAX_MEMORY};
use prefix_merge::compact::postgres::{catalog_stats, valid_table_name};
use prefix_merge::compact::service::{
    Service, DEFAULT_DRAIN_TIMEOUT, DEFAULT_POLL_INTERVAL, DEFAULT_SERVICE_LEASE,
};
use prefix_merge::compact::{CompactOptions, PgCatalog};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct CompactorArgs {
    #[command(subcommand)]
    command: CompactorCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CompactorCommand {
    /// Compact the tables of a shared catalog until stopped (SIGTERM/SIGINT:
    /// stop claiming, let running jobs finish within --drain-timeout, else
    /// cancel them; leases released; exit 0).
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    catalog: CatalogArgs,
    /// A table to compact (repeatable; default: every table of the catalog).
    #[arg(long = "table", value_name = "NAME")]
    tables: Vec<String>,
    /// Jobs run at once (within --max-memory).
    #[arg(long, default_value_t = DEFAULT_JOBS)]
    jobs: usize,
    /// Budget for the estimated peak memory of the jobs running at once.
    #[arg(long, default_value = defaults::size(DEFAULT_MAX_MEMORY), value_parser = parse_size)]
    max_memory: u64,
    /// Wait this long after a pass over the tables that found nothing to do.
    #[arg(long, default_value = defaults::duration(DEFAULT_POLL_INTERVAL), value_parser = humantime::parse_duration)]
    poll_interval: Duration,
    /// On SIGTERM/SIGINT, running jobs get this long to finish before they are cancelled.
    #[arg(long, default_value = defaults::duration(DEFAULT_DRAIN_TIMEOUT), value_parser = humantime::parse_duration)]
    drain_timeout: Duration,
    /// Lease length: renewed every third of it while a job runs; a stalled
    /// worker loses its jobs after it (its commits are then refused).
    #[arg(long, default_value = defaults::duration(DEFAULT_SERVICE_LEASE), value_parser = humantime::parse_duration)]
    lease: Duration,
    /// Serve /metrics (Prometheus text), /healthz and /readyz here (e.g. 127.0.0.1:9187).
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
}

pub fn run(a: CompactorArgs) -> CliResult {
    match a.command {
        CompactorCommand::Run(args) => run_service(args),
    }
}

fn run_service(a: RunArgs) -> CliResult {
    let usage = |e| Box::new((EXIT_USAGE, e));
    let Some(url) = a.catalog.url() else {
        return Err(flag_error(
            "compactor run needs a shared catalog: --catalog postgres://... (or $PREFIX_MERGE_CATALOG)",
        ));
    };
    if a.jobs == 0 || a.max_memory == 0 {
        return Err(flag_error("--jobs and --max-memory must be more than 0"));
    }
    if let Some(bad) = a.tables.iter().find(|t| !valid_table_name(t)) {
        return Err(flag_error(format!("--table '{bad}': not a table name")));
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    // The catalog must answer before the service starts (schema created).
    PgCatalog::open(&url, "startup").map_err(usage)?;
    let storage = a.storage.storage().map_err(usage)?;
    let options = CompactOptions {
        max_memory: a.max_memory,
        jobs: a.jobs,
        lease: a.lease,
        ..CompactOptions::default()
    };
    let (stop, cancel) = (options.stop.clone(), options.cancel.clone());
    let work_root = a.catalog.work_root();
    let service = Service::new(&url, work_root.clone(), storage, options)
        .with_tables(a.tables.clone())
        .with_poll_interval(a.poll_interval);
    if let Some(addr) = a.metrics_addr {
        serve_http(addr, service.clone()).map_err(usage)?;
    }
    let interrupts = Interrupts::watch(stop.clone(), &work_root)?;
    let drain = spawn_drain(stop, cancel, a.drain_timeout);
    tracing::info!(
        catalog = prefix_merge::compact::postgres::display_url(&url).as_str(),
        jobs = a.jobs,
        poll_interval_secs = a.poll_interval.as_secs_f64(),
        "compactor started"
    );
    service.run();
    drain.store(true, Ordering::SeqCst);
    if let Some(signal) = interrupts.signal() {
        tracing::info!(signal, "compactor drained; exiting");
    }
    Ok(ExitCode::SUCCESS)
}

/// After `stop` is set, wait up to `timeout` for the service to finish (the
/// returned flag), then set `cancel`: running jobs are cancelled and released.
fn spawn_drain(
    stop: Arc<AtomicBool>,
    cancel: Arc<AtomicBool>,
    timeout: Duration,
) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let finished = done.clone();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            if finished.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::info!(
            drain_timeout_secs = timeout.as_secs_f64(),
            "stopping: no new job; running jobs may finish"
        );
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if finished.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!("drain timeout: cancelling running jobs");
        cancel.store(true, Ordering::SeqCst);
    });
    done
}

/// Serve /metrics, /healthz and /readyz on `addr` from a thread.
fn serve_http(addr: SocketAddr, service: Service) -> prefix_merge::Result<()> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| prefix_merge::Error::InvalidArgument(format!("--metrics-addr {addr}: {e}")))?;
    tracing::info!(addr = %addr, "serving /metrics, /healthz, /readyz");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = respond(stream, &service);
        }
    });
    Ok(())
}

/// Answer one request (HTTP/1.0 style: one response, then close).
fn respond(mut stream: TcpStream, service: &Service) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Read the headers too: closing with unread input would reset the connection.
    let mut header = String::new();
    for _ in 0..100 {
        header.clear();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/metrics" => {
            let body = service
                .metrics()
                .render(PgCatalog::renewals(), catalog_stats());
            ("200 OK", body)
        }
        "/healthz" => ("200 OK", "ok\n".to_string()),
        "/readyz" => match service.ready() {
            Ok(()) => ("200 OK", "ready\n".to_string()),
            Err(e) => ("503 Service Unavailable", format!("{e}\n")),
        },
        _ => ("404 Not Found", "not found\n".to_string()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
