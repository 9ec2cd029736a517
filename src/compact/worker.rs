//! Who runs a job: the worker's identity (host, pid, process start), job ids,
//! leases, the heartbeat that renews them, and whether a lease's owner is dead.

use super::catalog::{Catalog, Lease};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// This process as a job runner.
#[derive(Debug, Clone)]
pub struct Worker {
    /// `host:pid:start` (start = the process's start time in clock ticks).
    owner: String,
    lease_secs: i64,
}

impl Worker {
    /// A worker whose leases last `lease` (renewed every third of it while a job
    /// runs; a dead worker's claims lapse after at most that long).
    pub fn new(lease: Duration) -> Self {
        let pid = std::process::id();
        Worker {
            owner: format!(
                "{}:{pid}:{}",
                hostname(),
                process_start(pid).unwrap_or_default()
            ),
            lease_secs: i64::try_from(lease.as_secs()).unwrap_or(i64::MAX).max(1),
        }
    }

    /// Who this worker is: `host:pid:start`, recorded on its leases.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// A new job id: `KIND-ULID` (sortable by start time; no `_`, which separates
    /// a job id from an output number in file names).
    pub fn job_id(&self, kind: &str) -> String {
        format!("{kind}-{}", ulid::Ulid::new())
    }

    /// A lease for `job` from now.
    pub fn lease(&self, job: &str) -> Lease {
        Lease {
            job: job.to_string(),
            owner: self.owner.clone(),
            until: now_secs().saturating_add(self.lease_secs),
        }
    }

    /// Renew `job`'s lease on a thread, every third of the lease, until the
    /// returned heartbeat is stopped or dropped.
    pub fn heartbeat(&self, mut catalog: Box<dyn Catalog>, job: &str) -> Heartbeat {
        let (stop, stopped) = mpsc::channel::<()>();
        let period = Duration::from_secs(u64::try_from(self.lease_secs / 3).unwrap_or(1).max(1));
        let lease_secs = self.lease_secs;
        let job = job.to_string();
        let thread = std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                // A failed renewal is not fatal here: the commit checks the lease.
                if !matches!(catalog.renew(&job, now_secs() + lease_secs), Ok(true)) {
                    break;
                }
            }
        });
        Heartbeat {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

/// A running lease renewal; stops when dropped.
pub struct Heartbeat {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// True when `owner` is a process on this host that no longer runs (its pid is
/// gone or belongs to a process started at another time). Owners on other hosts
/// are never judged dead here: their leases lapse by time.
pub fn owner_is_dead(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(start), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host != hostname() || start.is_empty() {
        return false;
    }
    process_start(pid).as_deref() != Some(start)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Field 22 of `/proc/PID/stat`: when the process started (None off Linux or
/// when the process does not exist).
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after its ')' are plain.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19).map(str::to_string)
}
