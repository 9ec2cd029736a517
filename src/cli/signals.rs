//! SIGINT/SIGTERM in long commands: the first cancels the run, a second exits at once.

use super::EXIT_USAGE;
use prefix_merge::Error;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Watches SIGINT and SIGTERM while a command runs (until dropped).
pub struct Interrupts {
    /// The first signal received (0: none yet).
    first: Arc<AtomicI32>,
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

/// The exit code of a command stopped by `signal` (the shell's convention).
pub fn exit_code(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(u8::MAX)
}

impl Interrupts {
    /// Start watching: the first signal sets `cancel` (the run then stops and
    /// removes what it wrote); a second one says how to remove what the run
    /// left in `leftovers` (`prefix-merge cleanup DIR`) and exits at once.
    pub fn watch(
        cancel: Arc<AtomicBool>,
        leftovers: &Path,
    ) -> Result<Interrupts, Box<(u8, Error)>> {
        let fail = |e: std::io::Error| {
            Box::new((
                EXIT_USAGE,
                Error::InvalidArgument(format!("cannot watch for signals: {e}")),
            ))
        };
        let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(fail)?;
        let handle = signals.handle();
        let first = Arc::new(AtomicI32::new(0));
        let seen = first.clone();
        let dir: PathBuf = leftovers.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("prefix-merge-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if seen.load(Ordering::SeqCst) == 0 {
                        seen.store(signal, Ordering::SeqCst);
                        cancel.store(true, Ordering::SeqCst);
                        continue;
                    }
                    eprintln!(
                        "interrupted again: exiting now; remove what was left with: prefix-merge cleanup {}",
                        dir.display()
                    );
                    std::process::exit(i32::from(exit_code(signal)));
                }
            })
            .map_err(fail)?;
        Ok(Interrupts {
            first,
            handle,
            thread: Some(thread),
        })
    }

    /// The first signal received, if any.
    pub fn signal(&self) -> Option<i32> {
        Some(self.first.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// After a run that watched for signals: if a signal cancelled it, print
    /// `interrupted: {stopped}` and return the signal's exit code.
    pub fn stopped<T>(&self, result: &Result<T, Error>, stopped: &str) -> Option<ExitCode> {
        self.signal()?;
        matches!(result, Err(Error::Cancelled)).then(|| self.report(stopped))
    }

    /// Print `interrupted: {what}` and return the exit code of the first signal.
    pub fn report(&self, what: &str) -> ExitCode {
        eprintln!("interrupted: {what}");
        ExitCode::from(exit_code(self.signal().unwrap_or(SIGINT)))
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
