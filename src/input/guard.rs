//! A safety net around parquet-rs decoding of untrusted files: some corrupt
//! inputs make the decoder panic (an assertion deep in a level or bit decoder)
//! instead of returning an error. Decoding calls run under `catch_unwind` and such a
//! panic becomes a typed error naming the file.

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static GUARDED: Cell<usize> = const { Cell::new(0) };
}

/// True while the current thread runs guarded decoding: a panic hook can use this
/// to stay quiet about panics that will be reported as errors.
pub fn in_guarded_decode() -> bool {
    GUARDED.with(|g| g.get() > 0)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Run `f`, turning a panic into `Err(message)`.
pub fn catch_decoder_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    GUARDED.with(|g| g.set(g.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(g.get().saturating_sub(1)));
    result.map_err(|p| {
        format!(
            "decoder panicked on corrupt data: {}",
            panic_message(p.as_ref())
        )
    })
}

/// A batch reader whose `next` cannot panic: a decoder panic ends the stream with
/// an error.
pub struct Guarded<I> {
    inner: I,
    poisoned: bool,
}

impl<I> Guarded<I> {
    /// A guard around `inner`, not poisoned.
    pub fn new(inner: I) -> Self {
        Guarded {
            inner,
            poisoned: false,
        }
    }
}

impl<I: Iterator<Item = Result<RecordBatch, ArrowError>>> Iterator for Guarded<I> {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.poisoned {
            return None;
        }
        match catch_decoder_panic(|| self.inner.next()) {
            Ok(item) => item,
            Err(message) => {
                self.poisoned = true;
                Some(Err(ArrowError::ExternalError(message.into())))
            }
        }
    }
}
