//! `wizreg key …`: API keys from the shell. Like the admin API, the platform connection only
//! finds the school; keys are read and written through the school's own tenant transaction.

use std::time::Duration;

use clap::Subcommand;
use tenancy::TenantRef;
use uuid::Uuid;

use crate::auth::api_keys::ApiKeys;
use crate::auth::key_store;
use crate::config::Config;
use crate::database::{Database, Role};
use crate::error::StartupError;
use crate::registry::TenantRecord;
use crate::tenants;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Issue an API key for a school. The key is printed once, on stdout, and cannot be shown
    /// again (only its keyed hash is stored).
    Create {
        /// The school's slug or UUID.
        tenant: String,
    },
    /// List a school's keys: id, last characters, created, revoked (never the secret).
    List {
        /// The school's slug or UUID.
        tenant: String,
    },
    /// Revoke a key: it stops working at once, on every server.
    Revoke {
        /// The key's id (from `wizreg key list`).
        key_id: String,
        /// The school the key belongs to. Without it, every school is searched (one small
        /// query per school).
        #[arg(long)]
        tenant: Option<String>,
    },
}

fn fail(message: String) -> StartupError {
    StartupError::Failed(message)
}

pub async fn run(config: &Config, command: KeyCommand) -> Result<(), StartupError> {
    let database = Database::open(config)?;
    database.migrate().await?;
    let platform = database.connect(Role::Platform).await?;
    let tenancy = database.command_tenancy();
    let find = |raw: String| {
        let platform = &platform;
        async move {
            let reference: TenantRef = raw
                .parse()
                .map_err(|_| fail(format!("'{raw}' is not a school slug or UUID")))?;
            tenants::find(platform, &reference)
                .await
                .map_err(|e| fail(format!("could not look up the school ({e})")))?
                .ok_or_else(|| fail(format!("no school '{raw}'; see `wizreg tenant list`")))
        }
    };
    match command {
        KeyCommand::Create { tenant } => {
            let school = find(tenant).await?;
            let secret = crate::auth::key_secret(config, &database)?.ok_or_else(|| {
                StartupError::Config(
                    "set WIZREG_KEY_SECRET to the secret the servers hash API keys with".into(),
                )
            })?;
            let keys = ApiKeys::new(secret, tenancy, Duration::from_secs(1));
            let created = keys
                .create(school.id)
                .await
                .map_err(|e| fail(format!("could not create the key ({e})")))?;
            eprintln!(
                "wizreg: API key {} for {}; it is shown only this once:",
                created.summary.id, school.slug
            );
            println!("{}", created.key);
        }
        KeyCommand::List { tenant } => {
            let school = find(tenant).await?;
            let keys = tenancy
                .run(school.id, key_store::list())
                .await
                .map_err(|e| fail(format!("could not list keys ({e})")))?;
            for key in keys {
                let revoked = key.revoked_at.map_or_else(
                    || "active".to_owned(),
                    |at| format!("revoked {}", rfc3339(at)),
                );
                println!(
                    "{}\t…{}\t{}\t{revoked}",
                    key.id,
                    key.last_chars,
                    rfc3339(key.created_at)
                );
            }
        }
        KeyCommand::Revoke { key_id, tenant } => {
            let id = Uuid::try_parse(&key_id)
                .map_err(|_| fail(format!("'{key_id}' is not a key id (a UUID)")))?;
            let candidates: Vec<TenantRecord> = match tenant {
                Some(tenant) => vec![find(tenant).await?],
                None => tenants::list(&platform)
                    .await
                    .map_err(|e| fail(format!("could not list schools ({e})")))?,
            };
            for school in candidates {
                let revoked = key_store::revoke(&tenancy, school.id, id)
                    .await
                    .map_err(|e| fail(format!("could not revoke the key ({e})")))?;
                if revoked {
                    println!("revoked API key {id} of {}", school.slug);
                    return Ok(());
                }
            }
            return Err(fail(format!(
                "no API key {id}; see `wizreg key list <school>`"
            )));
        }
    }
    Ok(())
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}
