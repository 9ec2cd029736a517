//! A real S3-compatible server on loopback for integration tests: moto's
//! server (`python -m moto.server`) from a Python venv, with IAM auth enforced
//! and one access key allowed everything.
//!
//! Without `PM_S3_PYTHON`, the first test that needs Python runs
//! `scripts/setup-s3.sh` (once, under a lock file, so concurrent test threads and
//! binaries neither race nor repeat it) when `.venv-s3` cannot import moto, boto3
//! and pyarrow; PyPI must be reachable. `S3Server::start()` returns `None` (after
//! printing a `skipping:` line) only when that fails, or with `PM_S3_NO_SETUP=1`
//! and no venv.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Minimum size of every part but the last of a multipart upload, as the
/// server enforces it (`EntityTooSmall` on completion otherwise).
///
/// moto 5.2.5 reads the env var `S3_UPLOAD_PART_MIN_SIZE` once at import
/// (moto/settings.py, default 5 MiB like S3) and checks it in
/// `FakeMultipart.complete` (moto/s3/models.py). We start the server with
/// 256 KiB so tests with small data can still upload several parts. The
/// default of `MOTO_S3_DEFAULT_KEY_BUFFER_SIZE` (in-memory buffer before
/// spooling to disk) follows it as 255 KiB, which only affects moto itself.
pub const MOTO_MIN_PART: u64 = 256 * 1024;

/// Region the server and all clients use.
pub const REGION: &str = "us-east-1";

/// Requests moto serves without auth before enforcing IAM: exactly the
/// `CreateUser`, `PutUserPolicy` and `CreateAccessKey` of `s3_admin.py
/// setup-auth`. moto counts every authenticated action (S3 or IAM) against
/// `INITIAL_NO_AUTH_ACTION_COUNT` (moto/core/authorization.py); the
/// readiness probe hits `/moto-api/config`, which is not counted.
const NO_AUTH_ACTIONS: u32 = 3;

/// How long the server may take to accept requests.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running moto server; killed when dropped.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    /// Access key id of the user allowed everything.
    pub key: String,
    /// Its secret access key.
    pub secret: String,
    child: Child,
    python: PathBuf,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// Start a server, or print why not and return `None`.
    pub fn start() -> Option<S3Server> {
        match Self::try_start() {
            Ok(server) => Some(server),
            Err(reason) => {
                // CI sets PM_S3_REQUIRE=1: there a missing server is a failure.
                if std::env::var("PM_S3_REQUIRE").is_ok_and(|v| v == "1") {
                    panic!("PM_S3_REQUIRE=1 but no moto server: {reason}");
                }
                eprintln!("skipping: no moto server (run scripts/setup-s3.sh): {reason}");
                None
            }
        }
    }

    fn try_start() -> Result<S3Server, String> {
        let python = find_python()?;
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let log = dir.path().join("moto.log");
        let out = std::fs::File::create(&log).map_err(|e| format!("moto log: {e}"))?;
        let err = out.try_clone().map_err(|e| format!("moto log: {e}"))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let port_arg = port.to_string();
        let child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port_arg])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", NO_AUTH_ACTIONS.to_string())
            .env("S3_UPLOAD_PART_MIN_SIZE", MOTO_MIN_PART.to_string())
            .env("PYTHONUNBUFFERED", "1")
            .env_remove("MOTO_PORT")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", python.display()))?;
        // From here on, dropping `server` kills the child.
        let mut server = S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            key: String::new(),
            secret: String::new(),
            child,
            python,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            _dir: dir,
        };
        let ready = server.wait_ready().and_then(|()| {
            let endpoint = server.endpoint.clone();
            server.try_admin(&endpoint, "setup", "setup", &["setup-auth"])
        });
        let json = ready.map_err(|e| format!("{e}; moto log: {}", server.log_tail()))?;
        let creds: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| format!("setup-auth output {json:?}: {e}"))?;
        match (creds["key"].as_str(), creds["secret"].as_str()) {
            (Some(key), Some(secret)) => {
                server.key = key.to_string();
                server.secret = secret.to_string();
                Ok(server)
            }
            _ => Err(format!("setup-auth output {json:?} has no key/secret")),
        }
    }

    /// Poll until the server answers HTTP, it exits, or `START_TIMEOUT`.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("moto server exited at start-up ({status})"));
            }
            if probe(self.addr) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("moto server not ready after {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's socket address (for a proxy in front of it).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Run `s3_admin.py` with the server's endpoint and key; its stdout.
    /// Panics with its stderr if it fails.
    pub fn admin(&self, args: &[&str]) -> String {
        self.try_admin(&self.endpoint, &self.key, &self.secret, args)
            .unwrap_or_else(|e| panic!("s3_admin.py {args:?}: {e}"))
    }

    /// Run `s3_admin.py` against `endpoint` as `key`/`secret`: its stdout,
    /// or a description of the failure with its stderr.
    pub fn try_admin(
        &self,
        endpoint: &str,
        key: &str,
        secret: &str,
        args: &[&str],
    ) -> Result<String, String> {
        let script = repo().join("scripts/s3_admin.py");
        let out = Command::new(&self.python)
            .arg(&script)
            .args(["--endpoint", endpoint, "--key", key, "--secret", secret])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("run {}: {e}", script.display()))?;
        if out.status.success() {
            String::from_utf8(out.stdout).map_err(|e| format!("stdout not UTF-8: {e}"))
        } else {
            Err(format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Create bucket `name`.
    pub fn make_bucket(&self, name: &str) {
        self.admin(&["make-bucket", name]);
    }

    /// `(key, size)` of every object in `bucket` under `prefix`.
    pub fn list_objects(&self, bucket: &str, prefix: &str) -> Vec<(String, u64)> {
        let out = self.admin(&["list-objects", bucket, "--prefix", prefix]);
        tab_pairs(&out)
            .map(|(key, size)| {
                let size = size
                    .parse()
                    .unwrap_or_else(|e| panic!("list-objects size {size:?}: {e}"));
                (key.to_string(), size)
            })
            .collect()
    }

    /// `(key, upload_id)` of every open multipart upload in `bucket`.
    pub fn list_uploads(&self, bucket: &str) -> Vec<(String, String)> {
        let out = self.admin(&["list-uploads", bucket]);
        tab_pairs(&out)
            .map(|(k, id)| (k.to_string(), id.to_string()))
            .collect()
    }

    /// Env vars an `object_store` client needs to reach this server.
    pub fn env(&self) -> Vec<(String, String)> {
        self.with_endpoint_env(&self.endpoint)
    }

    /// Like [`S3Server::env`] but with another endpoint (e.g. a proxy).
    pub fn with_endpoint_env(&self, endpoint: &str) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", self.key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.as_str()),
            ("AWS_ENDPOINT", endpoint),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_REGION", REGION),
            ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The last lines of the server's log, on one line.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(8)..].join(" | ");
        if tail.is_empty() {
            "(empty)".to_string()
        } else {
            tail
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository root.
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `PM_S3_PYTHON` if set, else the first of `.venv-s3` and `.venv` whose
/// python can import moto and boto3, after creating `.venv-s3` when it is
/// missing or incomplete (see [`ensure_venv`]).
fn find_python() -> Result<PathBuf, String> {
    let mut reasons = Vec::new();
    let candidates = match std::env::var_os("PM_S3_PYTHON") {
        Some(p) => vec![PathBuf::from(p)],
        None => {
            if let Err(reason) = ensure_venv() {
                reasons.push(reason);
            }
            vec![
                repo().join(".venv-s3/bin/python"),
                repo().join(".venv/bin/python"),
            ]
        }
    };
    for python in candidates {
        let out = Command::new(&python)
            .args(["-c", "import moto, boto3"])
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => return Ok(python),
            Ok(o) => {
                let stderr = String::from_utf8_lossy(&o.stderr);
                let last = stderr.lines().last().unwrap_or("").trim().to_string();
                reasons.push(format!("{}: {last}", python.display()));
            }
            Err(e) => reasons.push(format!("{}: {e}", python.display())),
        }
    }
    Err(reasons.join("; "))
}

/// Create `.venv-s3` with `scripts/setup-s3.sh` unless it can already import
/// moto, boto3 and pyarrow (or `PM_S3_NO_SETUP=1`). Runs at most once per test
/// process (the outcome is kept), and holds an exclusive `flock` on
/// `.venv-s3.lock` meanwhile, so test binaries running at the same time wait
/// for one setup instead of each building the venv.
fn ensure_venv() -> Result<(), String> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let python = repo().join(".venv-s3/bin/python");
        let complete = || {
            Command::new(&python)
                .args(["-c", "import moto, boto3, pyarrow"])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if complete() {
            return Ok(());
        }
        if std::env::var("PM_S3_NO_SETUP").is_ok_and(|v| v == "1") {
            return Err("PM_S3_NO_SETUP=1 and .venv-s3 is missing or incomplete".into());
        }
        let lock_path = repo().join(".venv-s3.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("{}: {e}", lock_path.display()))?;
        // Blocks while another test process runs the setup; released on close.
        use std::os::fd::AsRawFd;
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("flock {}: {e}", lock_path.display()));
        }
        if complete() {
            return Ok(()); // another process set it up while we waited
        }
        eprintln!("setting up .venv-s3 (moto, boto3, pyarrow from PyPI): scripts/setup-s3.sh");
        let out = Command::new("bash")
            .arg(repo().join("scripts/setup-s3.sh"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("run scripts/setup-s3.sh: {e}"))?;
        if out.status.success() && complete() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().last().unwrap_or("").trim().to_string();
            Err(format!(
                "scripts/setup-s3.sh failed ({}): {last}",
                out.status
            ))
        }
    })
    .clone()
}

/// Whether an HTTP request to moto's own API (not counted against the
/// unauthenticated action budget) gets an answer.
fn probe(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /moto-api/config HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 8];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// Split `a<TAB>b` lines.
fn tab_pairs(out: &str) -> impl Iterator<Item = (&str, &str)> {
    out.lines().map(|line| {
        line.split_once('\t')
            .unwrap_or_else(|| panic!("s3_admin.py line without a tab: {line:?}"))
    })
}

/// The venv's python when it can import pyarrow (`scripts/setup-s3.sh` installs
/// it); `None` after a `skipping:` line otherwise (a failure with
/// `PM_S3_REQUIRE=1`).
pub fn pyarrow_python() -> Option<PathBuf> {
    let found = find_python().and_then(|python| {
        let ok = Command::new(&python)
            .args(["-c", "import pyarrow"])
            .stdin(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?
            .success();
        if ok {
            Ok(python)
        } else {
            Err(format!("{}: no pyarrow", python.display()))
        }
    });
    match found {
        Ok(python) => Some(python),
        Err(reason) => {
            if std::env::var("PM_S3_REQUIRE").is_ok_and(|v| v == "1") {
                panic!("PM_S3_REQUIRE=1 but no python with pyarrow: {reason}");
            }
            eprintln!("skipping: no python with pyarrow (run scripts/setup-s3.sh): {reason}");
            None
        }
    }
}

/// What pyarrow reads from every split of a live set (`table ls --json`
/// output), per `scripts/read_live_set.py`, with `env` for s3:// URLs.
pub fn read_live_set(python: &Path, live_set: &str, env: &[(String, String)]) -> serde_json::Value {
    use std::io::Write;
    let mut child = Command::new(python)
        .arg(repo().join("scripts/read_live_set.py"))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start read_live_set.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(live_set.as_bytes())
        .expect("write the live set");
    let out = child.wait_with_output().expect("read_live_set.py");
    assert!(
        out.status.success(),
        "read_live_set.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("read_live_set.py output")
}

/// Assert that what pyarrow read (`read`) matches the live set's claims.
pub fn assert_live_set_reads_back(live_set: &serde_json::Value, read: &serde_json::Value) {
    let splits = live_set["splits"].as_array().expect("splits");
    let read = read.as_array().expect("pyarrow output");
    assert_eq!(splits.len(), read.len());
    for (s, r) in splits.iter().zip(read) {
        for field in [
            "id",
            "rows",
            "first_prefix",
            "last_prefix",
            "time_min",
            "time_max",
        ] {
            assert_eq!(
                s[field], r[field],
                "{field} of split {}: ls says {s}, pyarrow reads {r}",
                s["id"]
            );
        }
    }
}
