//! Failpoints for crash tests: `PREFIX_MERGE_FAILPOINT=NAME[:N]` aborts the process
//! (no destructors, no cleanup, as a kill would) the N-th time (default first)
//! the named point is reached; `NAME:N:stop` stops it there instead (SIGSTOP to
//! itself: a stall, until the test sends SIGCONT or SIGKILL), and
//! `NAME:N:sleep=SECS` makes the thread sleep there (a slow job). Unset, a
//! point costs one relaxed atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable naming the point to fail at.
pub const FAILPOINT_ENV: &str = "PREFIX_MERGE_FAILPOINT";

/// Every failpoint, in the order a job reaches them (for tests that pick one).
pub const FAILPOINTS: &[&str] = &[
    "add.copied",
    "job.leased",
    "merge.progress",
    "merge.published",
    "catalog.committed",
    "retention.committed",
    "gc.expired",
    "gc.file-deleted",
    "gc.forgotten",
];

struct Armed {
    name: String,
    nth: u64,
    /// Stop (SIGSTOP) instead of aborting.
    stop: bool,
    /// Sleep this long instead of aborting.
    sleep: Option<std::time::Duration>,
    hits: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(FAILPOINT_ENV).ok()?;
            let mut parts = spec.split(':');
            let name = parts.next()?.to_string();
            let nth = match parts.next() {
                Some(k) => k.parse().ok()?,
                None => 1,
            };
            let mode = parts.next();
            let stop = mode == Some("stop");
            let sleep = mode
                .and_then(|m| m.strip_prefix("sleep="))
                .and_then(|s| s.parse().ok())
                .map(std::time::Duration::from_secs);
            Some(Armed {
                name,
                nth,
                stop,
                sleep,
                hits: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Abort the process here if this point is armed and its count is reached.
pub fn hit(name: &str) {
    if let Some(a) = armed() {
        if a.name == name && a.hits.fetch_add(1, Ordering::Relaxed) + 1 == a.nth {
            if let Some(d) = a.sleep {
                eprintln!("failpoint {name}: sleeping {}s", d.as_secs());
                std::thread::sleep(d);
                return;
            }
            if a.stop {
                eprintln!("failpoint {name}: stopping");
                let _ = signal_hook::low_level::raise(signal_hook::consts::SIGSTOP);
                eprintln!("failpoint {name}: continued");
                return;
            }
            eprintln!("failpoint {name}: aborting");
            std::process::abort();
        }
    }
}
