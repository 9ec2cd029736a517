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
    cli::run()
}
