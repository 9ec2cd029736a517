//! The `prefix-merge` command line.

mod cli;

fn main() -> std::process::ExitCode {
    // Panics that the library catches while decoding corrupt input are reported as
    // one `error:` line; keep the default report for every other panic.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !prefix_merge::input::in_guarded_decode() {
            default_hook(info);
        }
    }));
    limit_malloc_arenas();
    cli::run()
}

/// glibc gives every thread that allocates its own malloc arena and keeps what is
/// freed in it; with `compact --jobs N` the process then peaks 1.2-1.5x above the
/// jobs' estimated memory (BENCHMARKS.md, issue 9). Two arenas keep the peak near
/// the estimate at no measurable cost. `MALLOC_ARENA_MAX` in the environment wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    /// `M_ARENA_MAX` from glibc's malloc.h.
    const M_ARENA_MAX: std::ffi::c_int = -8;
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called before
        // any other thread exists.
        unsafe {
            mallopt(M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
