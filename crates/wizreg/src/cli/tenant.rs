//! `wizreg tenant …`: the tenant lifecycle from the shell. As in the admin API, the platform
//! connection only creates, finds, suspends and removes tenant rows; a school's own records are
//! read, written and deleted through its tenant transaction, as the runtime role.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use tenancy::{DbError, DbErrorKind, Slug, TenantRef};
use tokio_postgres::Client;

mod shards;
mod transfer;

use self::shards::ShardAction;
use self::transfer::{export_to, import_from};
use crate::config::Config;
use crate::database::{Database, Role};
use crate::domain::input::name_rule;
use crate::error::StartupError;
use crate::offboard::{self, Offboarded};
use crate::registry::{TenantRecord, TenantStatus};
use crate::tenants;

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// A DNS label: a-z, 0-9 and '-', up to 63 characters.
        slug: String,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants.
    List,
    /// Suspend a school: its requests get 403 tenant_suspended at once, on every server.
    Suspend {
        /// The school's slug or UUID.
        tenant: String,
    },
    /// Resume a suspended school.
    Resume {
        /// The school's slug or UUID.
        tenant: String,
    },
    /// Delete a school and every row it owns (resumable if interrupted).
    Delete {
        /// The school's slug or UUID.
        tenant: String,
        /// Do not ask for confirmation (required when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Write a school's records as NDJSON (standard output by default).
    Export {
        /// The school's slug or UUID.
        tenant: String,
        /// Write to this file instead.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Import an export into an empty school: the one with the file's slug (or --slug),
    /// created with the file's id and name when missing. All or nothing.
    Import {
        /// The NDJSON file `wizreg tenant export` wrote.
        file: PathBuf,
        /// Import into this slug instead of the file's.
        #[arg(long)]
        slug: Option<String>,
    },
    /// On Citus: the worker holding a school's shard group, and its shard ids.
    Placement {
        /// The school's slug or UUID.
        tenant: String,
    },
    /// On Citus: give a (big) school a shard group of its own, on the worker that held it.
    Isolate {
        /// The school's slug or UUID.
        tenant: String,
    },
    /// On Citus: move a school's shard group to another worker; the school stays readable.
    Move {
        /// The school's slug or UUID.
        tenant: String,
        /// The target worker, as registered in Citus (see `tenant placement`).
        #[arg(long, value_name = "HOST:PORT")]
        node: String,
    },
}

fn failed(message: impl Into<String>) -> StartupError {
    StartupError::Failed(message.into())
}

fn db(action: &str) -> impl Fn(DbError) -> StartupError + '_ {
    move |err| {
        failed(format!(
            "could not {action} ({err}); check the database and retry"
        ))
    }
}

pub async fn run(config: &Config, command: TenantCommand) -> Result<(), StartupError> {
    let database = Database::open(config)?;
    database.migrate().await?;
    let platform = database.connect(Role::Platform).await?;
    match command {
        TenantCommand::Create { slug, name } => {
            let slug = parse_slug(&slug)?;
            // The same rule as the admin API, so the shell cannot store a name the API refuses.
            let name = name_rule(name.as_deref().unwrap_or(slug.as_str()))
                .map_err(|reason| failed(format!("the name {reason}")))?;
            let tenant = tenants::create(&platform, &slug, &name)
                .await
                .map_err(|e| match e.kind() {
                    DbErrorKind::UniqueViolation => {
                        failed(format!("a tenant with slug '{slug}' exists"))
                    }
                    _ => db("create the tenant")(e),
                })?;
            println!("{}\t{}\t{}", tenant.id, tenant.slug, tenant.name);
        }
        TenantCommand::List => {
            for t in tenants::list(&platform).await.map_err(db("list tenants"))? {
                println!("{}\t{}\t{}\t{}", t.id, t.slug, t.status.as_str(), t.name);
            }
        }
        TenantCommand::Suspend { tenant } => {
            set_status(&platform, &tenant, TenantStatus::Suspended).await?
        }
        TenantCommand::Resume { tenant } => {
            set_status(&platform, &tenant, TenantStatus::Active).await?
        }
        TenantCommand::Delete { tenant, yes } => {
            let tenant = find(&platform, &tenant).await?;
            let tenancy = database.command_tenancy();
            let total = offboard::count_rows(&tenancy, tenant.id)
                .await
                .map_err(db("count the school's rows"))?;
            if !yes {
                confirm_delete(&tenant, total)?;
            }
            let bar = progress_bar(total, "deleting rows");
            let outcome = offboard::delete_tenant(&platform, &tenancy, tenant.id, |rows| {
                bar.set_position(rows)
            })
            .await
            .map_err(db(
                "finish the delete (run the same command again to carry on)",
            ))?;
            bar.finish_and_clear();
            match outcome {
                Offboarded::Deleted { rows } => {
                    eprintln!("deleted school '{}' and its {rows} rows", tenant.slug)
                }
                Offboarded::NotFound => return Err(failed("the school was deleted meanwhile")),
            }
        }
        TenantCommand::Export { tenant, output } => {
            let tenant = find(&platform, &tenant).await?;
            refuse_offboarding(&platform, &tenant).await?;
            export_to(&database.command_tenancy(), &tenant, output.as_deref()).await?;
        }
        TenantCommand::Import { file, slug } => {
            import_from(
                &platform,
                &database.command_tenancy(),
                &file,
                slug.as_deref(),
            )
            .await?
        }
        TenantCommand::Placement { tenant } => {
            shards::run(&database, &platform, &tenant, ShardAction::Show).await?
        }
        TenantCommand::Isolate { tenant } => {
            shards::run(&database, &platform, &tenant, ShardAction::Isolate).await?
        }
        TenantCommand::Move { tenant, node } => {
            shards::run(&database, &platform, &tenant, ShardAction::Move(node)).await?
        }
    }
    Ok(())
}

fn parse_slug(raw: &str) -> Result<Slug, StartupError> {
    Slug::parse(raw).map_err(|e| failed(format!("'{raw}' is not a valid slug: {e}")))
}

async fn find(platform: &Client, raw: &str) -> Result<TenantRecord, StartupError> {
    let reference: TenantRef = raw
        .parse()
        .map_err(|_| failed(format!("'{raw}' is neither a slug nor a UUID")))?;
    tenants::find(platform, &reference)
        .await
        .map_err(db("look up the school"))?
        .ok_or_else(|| failed(format!("no school '{raw}'; see `wizreg tenant list`")))
}

async fn refuse_offboarding(platform: &Client, tenant: &TenantRecord) -> Result<(), StartupError> {
    if tenants::is_offboarding(platform, tenant.id)
        .await
        .map_err(db("look up the school"))?
    {
        return Err(failed(format!(
            "school '{}' is being deleted; finish with `wizreg tenant delete {} --yes`",
            tenant.slug, tenant.slug
        )));
    }
    Ok(())
}

async fn set_status(
    platform: &Client,
    raw: &str,
    status: TenantStatus,
) -> Result<(), StartupError> {
    let tenant = find(platform, raw).await?;
    if status == TenantStatus::Active {
        refuse_offboarding(platform, &tenant).await?;
    }
    let updated = tenants::update(platform, tenant.id, Some(status), None)
        .await
        .map_err(db("change the school"))?
        .ok_or_else(|| failed(format!("school '{raw}' changed meanwhile; retry")))?;
    eprintln!("school '{}' is {}", updated.slug, updated.status.as_str());
    Ok(())
}

/// Asks the operator to type the slug; refuses outright when nobody can be asked.
fn confirm_delete(tenant: &TenantRecord, rows: u64) -> Result<(), StartupError> {
    if !std::io::stdin().is_terminal() {
        return Err(failed(format!(
            "refusing to delete school '{}' without confirmation: pass --yes",
            tenant.slug
        )));
    }
    eprint!(
        "This deletes school '{}' ({}) and all {rows} of its rows, for good.\nType its slug to confirm: ",
        tenant.slug, tenant.id
    );
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| failed(format!("could not read the confirmation: {e}")))?;
    if answer.trim() != tenant.slug.as_str() {
        return Err(failed("not confirmed; nothing was deleted"));
    }
    Ok(())
}

fn progress_bar(total: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(total).with_message(message);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({per_sec}, {eta} left)")
    {
        bar.set_style(style);
    }
    bar
}
