//! `wizreg tenant placement | isolate | move`: a school's shards on a Citus cluster, from the
//! shell (the admin API's twins are in `http/admin/shards.rs`; both call [`crate::shards`]).

use tokio_postgres::Client;

use super::{failed, find};
use crate::database::{Database, Role};
use crate::error::StartupError;
use crate::shards::{self, NodeAddr, ShardChange, ShardError, TenantPlacement};

/// What to do with the school's shard group.
pub enum ShardAction {
    Show,
    Isolate,
    Move(String),
}

pub async fn run(
    database: &Database,
    platform: &Client,
    tenant: &str,
    action: ShardAction,
) -> Result<(), StartupError> {
    let tenant = find(platform, tenant).await?;
    let owner = database.connect(Role::Admin).await?;
    let outcome = match action {
        ShardAction::Show => shards::placement(&owner, tenant.id).await.map(|placement| {
            print_placement(tenant.slug.as_str(), &placement);
        }),
        ShardAction::Isolate => {
            let change = shards::isolate(&owner, tenant.id).await;
            change.map(|c| {
                report(
                    tenant.slug.as_str(),
                    "isolated",
                    "already had a shard of its own",
                    &c,
                )
            })
        }
        ShardAction::Move(node) => {
            let node: NodeAddr = node
                .parse()
                .map_err(|reason| failed(format!("--node '{node}' {reason}")))?;
            let change = shards::move_to(&owner, tenant.id, &node).await;
            change.map(|c| report(tenant.slug.as_str(), "moved", "is already on that node", &c))
        }
    };
    outcome.map_err(|err| match err {
        ShardError::Db(db) => failed(format!(
            "the shard operation failed ({db}); see the coordinator's log, then retry"
        )),
        other => failed(format!("{other}; see `wizreg tenant placement`")),
    })
}

fn report(slug: &str, done: &str, nothing: &str, change: &ShardChange) {
    match change.transfer_mode {
        Some(mode) if change.changed => eprintln!("school '{slug}' {done} (transfer mode {mode})"),
        _ => eprintln!("school '{slug}' {nothing}; nothing changed"),
    }
    print_placement(slug, &change.placement);
}

fn print_placement(slug: &str, placement: &TenantPlacement) {
    let nodes: Vec<String> = placement.nodes.iter().map(ToString::to_string).collect();
    let sharing = if placement.isolated {
        "a shard of its own".to_owned()
    } else {
        format!("shared by {} school(s)", placement.schools_in_shard)
    };
    println!(
        "{slug}\t{}\tshard {}\t{}\t{sharing}",
        placement.tenant_id,
        placement.shard_id,
        nodes.join(",")
    );
    for shard in &placement.shards {
        let nodes: Vec<String> = shard.nodes.iter().map(ToString::to_string).collect();
        println!(
            "  {}\tshard {}\t{}",
            shard.table,
            shard.shard_id,
            nodes.join(",")
        );
    }
}
