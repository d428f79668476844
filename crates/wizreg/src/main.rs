//! The `wizreg` binary: parses the command line and hands over to [`wizreg::cli`].

use std::process::ExitCode;

/// A request allocates a few dozen small, short-lived blocks (buffers, boxed futures, rows);
/// with glibc's allocator that was about a fifth of the server's instructions per request
/// (callgrind, `docs/benchmarks.md`). mimalloc's thread-local free lists make it a small share.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    wizreg::cli::main()
}
