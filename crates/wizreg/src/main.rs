//! The `wizreg` binary: parses the command line and hands over to [`wizreg::cli`].

use std::process::ExitCode;

/// A request allocates a few dozen small, short-lived blocks (buffers, boxed futures, rows);
/// with glibc's allocator that was about a fifth of the server's instructions per request
/// (callgrind, `docs/benchmarks.md`). mimalloc's thread-local free lists make it a small share.
/// Built with `no_thp` (the workspace's feature choice): with transparent huge pages allowed
/// its arenas took about 10 MiB more resident memory under full load, for no measurable
/// saving (the "allocator" figures in `docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    wizreg::cli::main()
}
