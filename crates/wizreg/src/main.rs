//! The `wizreg` binary: parses the command line and hands over to [`wizreg::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    wizreg::cli::main()
}
