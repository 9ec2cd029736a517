//! Running a command under strace and reading back the system calls it made
//! (the durability tests: fsyncs, links, renames).

use std::path::Path;
use std::process::{Command, Stdio};

/// The system calls of the commit protocol and of publication.
pub const PUBLICATION_CALLS: &str = "trace=fsync,fdatasync,link,linkat,rename,renameat,renameat2";

/// Run `program args` under `strace -f -y` tracing `calls`, logging to `log`;
/// the traced lines in order (file descriptors shown with their paths), without
/// the `resumed` and exit lines. `None` after a `skipping:` line when strace is
/// not installed. Panics if the command fails.
pub fn trace(
    program: &Path,
    args: &[&std::ffi::OsStr],
    calls: &str,
    log: &Path,
) -> Option<Vec<String>> {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipping: strace is not installed");
        return None;
    }
    let out = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(log)
        .args(["-e", calls])
        .arg(program)
        .args(args)
        .stdout(Stdio::null())
        .output()
        .expect("run strace");
    assert!(
        out.status.success(),
        "traced command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(log).expect("read the strace log");
    Some(
        text.lines()
            .filter(|l| !l.contains("resumed>") && !l.contains("+++"))
            .map(str::to_string)
            .collect(),
    )
}

/// Whether `line` is an fsync of the directory `dir` (strace -y shows `<DIR>`).
pub fn is_dir_fsync(line: &str, dir: &Path) -> bool {
    line.contains("fsync(") && line.contains(&format!("<{}>", dir.display()))
}
