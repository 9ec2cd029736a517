//! The runtime remote I/O runs on: two worker threads, started on first use. The
//! merge thread waits on it only when the bytes it needs have not arrived yet.

use std::future::Future;
use std::sync::OnceLock;
use tokio::runtime::{Builder, Runtime};

static RUNTIME: OnceLock<Option<Runtime>> = OnceLock::new();

/// The I/O runtime (`None` if the OS refused its threads).
pub(crate) fn runtime() -> Option<&'static Runtime> {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("pm-io")
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
}

/// Run `future` on the I/O runtime and wait for it. Safe to call from any thread,
/// including one inside another tokio runtime (it then waits on a scoped thread).
pub fn block_on<F>(future: F) -> crate::Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime().ok_or_else(|| {
        crate::Error::Internal("could not start the object-store I/O threads".into())
    })?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(rt.block_on(future));
    }
    std::thread::scope(|s| s.spawn(|| rt.block_on(future)).join())
        .map_err(|_| crate::Error::Internal("the object-store I/O thread panicked".into()))
}
