//! A real PostgreSQL server for the tests: `initdb` + `pg_ctl start` in a
//! temporary directory, on a free 127.0.0.1 port (its unix socket inside that
//! directory), run as the `postgres` OS user when the tests run as root;
//! stopped when dropped. `PgServer::start()` returns None (after printing a
//! `skipping:` line) when no server binaries are found, unless
//! `PM_PG_REQUIRE=1`, which makes that a failure. `PM_PG_BIN` names the
//! binaries' directory (default: the newest /usr/lib/postgresql/*/bin).

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
}

/// The directory holding `initdb` and `pg_ctl`, if any.
fn server_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("PM_PG_BIN") {
        return Some(PathBuf::from(dir)).filter(|d| d.join("initdb").is_file());
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn required() -> bool {
    std::env::var("PM_PG_REQUIRE").is_ok_and(|v| v == "1")
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .expect("id");
    assert!(
        out.status.success(),
        "no `postgres` OS user to run the server as"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgServer {
    /// Start a server, or None (printed) when no server binaries are found.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = server_bin() else {
            let why = "skipping: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb; apt-get install postgresql, or set PM_PG_BIN)";
            assert!(!required(), "PM_PG_REQUIRE=1 but {why}");
            eprintln!("{why}");
            return None;
        };
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = tempfile::Builder::new().prefix("pm-pg-").tempdir().unwrap();
        if as_postgres {
            std::os::unix::fs::chown(dir.path(), Some(id_of("-u")), Some(id_of("-g"))).unwrap();
        }
        let mut server = PgServer {
            dir,
            bin,
            as_postgres,
            port: 0,
        };
        let data = server.data();
        server.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        // A port found free may be taken before the server binds it: retry.
        for attempt in 0..5 {
            server.port = free_port();
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                server.port,
                server.dir.path().display()
            );
            let log = server.dir.path().join("server.log");
            let ok = server.try_run(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-l",
                    log.to_str().unwrap(),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            );
            if ok {
                return Some(server);
            }
            eprintln!(
                "postgres start attempt {attempt} failed: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        panic!("PostgreSQL did not start (see the logs above)");
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe).args(args);
            c
        } else {
            let mut c = Command::new(exe);
            c.args(args);
            c
        }
    }

    fn try_run(&self, program: &str, args: &[&str]) -> bool {
        let out = self.command(program, args).output().unwrap();
        if !out.status.success() {
            eprintln!(
                "{program}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out.status.success()
    }

    fn run(&self, program: &str, args: &[&str]) {
        assert!(self.try_run(program, args), "{program} failed");
    }

    /// The URL of database `db` (the superuser `postgres`, trust auth).
    pub fn url_of(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new empty database; its URL.
    pub fn database(&self, name: &str) -> String {
        let mut c = postgres::Client::connect(&self.url_of("postgres"), postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.url_of(name)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.try_run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}
