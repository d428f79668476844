//! The command line: `serve` (default), `migrate`, `tenant …`, `key …`, `audit` and `db-url`,
//! each command's code beside this file (`cli/`). Errors go to stderr as one line saying what
//! to do, with a non-zero exit.

mod key;
mod tenant;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ServeArgs};
use crate::database::{Database, Role};
use crate::error::StartupError;

#[derive(Debug, Parser)]
#[command(
    name = "wizreg",
    version,
    about = "A multi-tenant school registry isolated by PostgreSQL Row Level Security"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve(ServeArgs),
    /// Apply pending migrations (idempotent).
    Migrate,
    /// Manage tenants (schools).
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Manage API keys: each is bound to one school.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Check the live database's isolation setup: exit 0 safe, 1 findings, 2 could not check.
    Audit,
    /// Print the connection URL in use, for `psql "$(wizreg db-url)"`.
    DbUrl {
        /// Which role's URL.
        #[arg(long, value_enum, default_value = "app")]
        role: Role,
    },
}

/// `serve`'s flags read from the environment alone, for a bare `wizreg`.
#[derive(Debug, Parser)]
struct ServeOnly {
    #[command(flatten)]
    args: ServeArgs,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    if let Some(Command::Audit) = cli.command {
        return runtime.block_on(crate::audit::command(cli.config));
    }
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("wizreg: {message}");
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> Result<(), StartupError> {
    let config = cli.config;
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(ServeOnly::parse_from(["wizreg"]).args));
    match command {
        Command::Serve(args) => crate::serve::run(config, args).await,
        Command::Audit => unreachable!("handled in main: it has its own exit codes"),
        Command::Key(command) => key::run(&config, command).await,
        Command::DbUrl { role } => {
            println!("{}", Database::url(&config, role)?);
            Ok(())
        }
        Command::Migrate => {
            let _log = crate::serve::init_logging(&config);
            let database = Database::open(&config)?;
            let applied = database.migrate().await?;
            println!("migrations applied: {applied}");
            Ok(())
        }
        Command::Tenant(command) => tenant::run(&config, command).await,
    }
}
