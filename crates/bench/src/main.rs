//! `wizreg-bench`: one run that measures raw PostgreSQL (pgbench) and the Wizreg API side by
//! side on the same machine, and writes the table, JSON, chart and `docs/benchmarks.md`.
//! Run it through `scripts/bench.sh`, which builds the release binaries first.

mod database;
mod dataset;
mod floors;
mod http;
mod load;
mod measure;
mod paired;
mod report;
mod requests;
mod run;
mod server;
mod soak;
mod summary;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Benchmarks Wizreg beside raw PostgreSQL on this machine.
#[derive(Debug, Parser)]
#[command(name = "wizreg-bench")]
pub struct Args {
    /// 10,000 schools × 100 students (default: 100 × 1,000), compared with the default size.
    #[arg(long)]
    pub large: bool,
    /// One PostgreSQL beside a Citus coordinator with 2 workers (tables into docs/scale-out.md).
    #[arg(long)]
    pub citus: bool,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 8)]
    pub seconds: u64,
    /// Unmeasured warm-up seconds before each run.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Concurrent connections (HTTP and pgbench alike).
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// Skip the WIZREG_AUTH=api-key runs.
    #[arg(long)]
    pub skip_api_key: bool,
    /// The `wizreg` release binary.
    #[arg(long, default_value = "target/release/wizreg")]
    pub wizreg: PathBuf,
    /// Where the JSON, chart and logs go.
    #[arg(long, default_value = "target/bench")]
    pub out: PathBuf,
    /// Instead of the benchmark: a mixed-load soak of this many seconds, printed window by
    /// window (`scripts/soak.sh`).
    #[arg(long)]
    pub soak: Option<u64>,
    /// The Markdown page whose generated section is replaced.
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub doc: PathBuf,
}

impl Args {
    fn warmup(&self) -> Duration {
        Duration::from_secs(self.warmup)
    }
    fn measured(&self) -> Duration {
        Duration::from_secs(self.seconds)
    }
}

fn main() {
    let args = Args::parse();
    // One thread: the load generator shares the machine's cores with the server and PostgreSQL,
    // and should take as little of them as it can.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let outcome = if args.citus {
        runtime.block_on(run::citus::all(&args))
    } else {
        match args.soak {
            Some(seconds) => runtime.block_on(soak::run(&args, seconds)),
            None => runtime.block_on(run::all(&args)),
        }
    };
    if let Err(err) = outcome {
        eprintln!("wizreg-bench: {err}");
        std::process::exit(1);
    }
}
