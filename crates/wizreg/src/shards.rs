//! Where schools live on a Citus cluster, and moving them: a school's shard group and the
//! workers holding it, giving a school a shard group of its own (`isolate`), and moving its
//! shard group to another worker (`move`). On a single PostgreSQL these answer
//! [`ShardError::NotCitus`].
//!
//! Citus lets only a table's owner split or move its shards, so these run on the owner
//! connection [`crate::platform::Platform::owner_connection`] hands out; they read and change
//! Citus's metadata only, never a school's rows. Every tenant table is co-located, so one
//! anchor table's shard names the whole group, and `CASCADE` / the move carry the others along.

use std::str::FromStr;

use serde::Serialize;
use tenancy::{DbError, TenantId};
use tokio_postgres::Client;

/// The tenant table whose shard names a school's shard group (any co-located one would do).
const ANCHOR_TABLE: &str = "wizreg.student";

/// Why a shard operation could not run.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("this database is not a Citus cluster with distributed tenant tables: schools are not placed on nodes")]
    NotCitus,
    #[error("{0} is not an active worker of this cluster")]
    UnknownNode(NodeAddr),
    #[error("moving shards needs a superuser administrator connection: Citus copies the rows as the connected user, and row level security would hide them from anyone else")]
    NeedsSuperuser,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<tokio_postgres::Error> for ShardError {
    fn from(err: tokio_postgres::Error) -> Self {
        Self::Db(err.into())
    }
}

/// A worker's address as Citus registers it (`host:port`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddr {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl FromStr for NodeAddr {
    type Err = &'static str;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        const FORMAT: &str = "must be host:port, as the worker is registered in Citus";
        let (host, port) = raw.rsplit_once(':').ok_or(FORMAT)?;
        let port: u16 = port.parse().map_err(|_| FORMAT)?;
        let plain = |c: char| c.is_ascii_alphanumeric() || "-._/".contains(c);
        if host.is_empty() || host.len() > 255 || !host.chars().all(plain) || port == 0 {
            return Err(FORMAT);
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl Serialize for NodeAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One tenant table's shard holding a school.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TableShard {
    #[schema(example = "wizreg.student")]
    pub table: String,
    pub shard_id: i64,
    /// The workers holding it (`host:port`).
    #[schema(value_type = Vec<String>)]
    pub nodes: Vec<NodeAddr>,
}

/// Where a school lives.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TenantPlacement {
    pub tenant_id: uuid::Uuid,
    /// The shard of the anchor table (`wizreg.student`): `isolate` and `move` act on its
    /// whole co-located group.
    pub shard_id: i64,
    /// The workers holding the group (`host:port`).
    #[schema(value_type = Vec<String>)]
    pub nodes: Vec<NodeAddr>,
    /// Whether the group holds this school alone (after `isolate`).
    pub isolated: bool,
    /// Schools whose rows are in this group (1 when isolated); a move carries them all.
    pub schools_in_shard: i64,
    /// Every tenant table's shard in the group.
    pub shards: Vec<TableShard>,
}

/// What `isolate` or `move` did, and where the school is now.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ShardChange {
    /// False when there was nothing to do (already isolated, already on that node).
    pub changed: bool,
    /// How Citus copied the rows: `block_writes` (reads go on; writes to the school wait
    /// for the copy). Null when nothing changed.
    #[schema(example = "block_writes")]
    pub transfer_mode: Option<&'static str>,
    pub placement: TenantPlacement,
}

impl ShardChange {
    /// Nothing to do: the school was already where it was asked to be.
    fn unchanged(placement: TenantPlacement) -> Self {
        Self {
            changed: false,
            transfer_mode: None,
            placement,
        }
    }

    /// Citus copied the school's rows with [`TRANSFER_MODE`] and it now has `placement`.
    fn done(placement: TenantPlacement) -> Self {
        Self {
            changed: true,
            transfer_mode: Some(TRANSFER_MODE),
            placement,
        }
    }
}

/// Whether the tenant tables are distributed here.
async fn ensure_citus(owner: &Client) -> Result<(), ShardError> {
    let citus = owner
        .query_one(
            "select exists (select from pg_extension where extname = 'citus')",
            &[],
        )
        .await?
        .get::<_, bool>(0);
    if !citus {
        return Err(ShardError::NotCitus);
    }
    let distributed = owner
        .query_one(
            "select exists (select from pg_dist_partition
                            where logicalrelid = to_regclass($1) and partmethod = 'h')",
            &[&ANCHOR_TABLE],
        )
        .await?
        .get::<_, bool>(0);
    distributed.then_some(()).ok_or(ShardError::NotCitus)
}

/// Where `tenant`'s rows live.
pub async fn placement(owner: &Client, tenant: TenantId) -> Result<TenantPlacement, ShardError> {
    ensure_citus(owner).await?;
    read_placement(owner, tenant).await
}

async fn read_placement(owner: &Client, tenant: TenantId) -> Result<TenantPlacement, ShardError> {
    let id = tenant.as_uuid();
    let anchor = owner
        .query_one(
            "select s.shardid, s.shardminvalue = s.shardmaxvalue,
                    (select count(*) from wizreg.tenant t
                     where get_shard_id_for_distribution_column($2::text::regclass, t.id) = s.shardid)
             from pg_dist_shard s
             where s.shardid = get_shard_id_for_distribution_column($2::text::regclass, $1::uuid)",
            &[&id, &ANCHOR_TABLE],
        )
        .await?;
    let (shard_id, isolated, schools): (i64, bool, i64) =
        (anchor.get(0), anchor.get(1), anchor.get(2));
    // The co-located shards cover the same hash range as the anchor's.
    let rows = owner
        .query(
            "select s.logicalrelid::regclass::text, s.shardid, p.nodename, p.nodeport
             from pg_dist_shard a
             join pg_dist_partition ap on ap.logicalrelid = a.logicalrelid
             join pg_dist_partition gp on gp.colocationid = ap.colocationid
             join pg_dist_shard s on s.logicalrelid = gp.logicalrelid
               and s.shardminvalue = a.shardminvalue and s.shardmaxvalue = a.shardmaxvalue
             join pg_dist_shard_placement p on p.shardid = s.shardid
             where a.shardid = $1
             order by 1, 3, 4",
            &[&shard_id],
        )
        .await?;
    let mut shards: Vec<TableShard> = Vec::new();
    for row in rows {
        let node = NodeAddr {
            host: row.get(2),
            port: u16::try_from(row.get::<_, i32>(3)).unwrap_or(0),
        };
        let (table, shard): (String, i64) = (row.get(0), row.get(1));
        match shards.last_mut() {
            Some(last) if last.shard_id == shard => last.nodes.push(node),
            _ => shards.push(TableShard {
                table,
                shard_id: shard,
                nodes: vec![node],
            }),
        }
    }
    let nodes = shards
        .iter()
        .find(|s| s.shard_id == shard_id)
        .map(|s| s.nodes.clone())
        .unwrap_or_default();
    Ok(TenantPlacement {
        tenant_id: id,
        shard_id,
        nodes,
        isolated,
        schools_in_shard: schools,
        shards,
    })
}

/// How Citus copies shards for a split or a move: writes to the moving shards wait for the
/// copy, reads go on. Not logical replication (`force_logical`, which would let writes go on
/// too): its apply worker runs as a non-superuser member of the tables' owner, and on
/// PostgreSQL 15+ refuses to write into tables with FORCE ROW LEVEL SECURITY ("cannot
/// replicate into relation with row-level security enabled"), so any write made during the
/// copy leaves the move waiting for a catch-up that never comes.
const TRANSFER_MODE: &str = "block_writes";

/// Citus copies shard rows as the connected user. Every tenant table forces RLS, so anyone but
/// a superuser (or a BYPASSRLS role) would copy them with no tenant set: none of them.
async fn ensure_sees_every_row(owner: &Client) -> Result<(), ShardError> {
    let bypasses: bool = owner
        .query_one(
            "select rolsuper or rolbypassrls from pg_roles where rolname = current_user",
            &[],
        )
        .await?
        .get(0);
    bypasses.then_some(()).ok_or(ShardError::NeedsSuperuser)
}

/// Gives `tenant` a shard group of its own (every co-located table, `CASCADE`), on the worker
/// that held its old one. Nothing to do if it already has one.
pub async fn isolate(owner: &Client, tenant: TenantId) -> Result<ShardChange, ShardError> {
    ensure_citus(owner).await?;
    let before = read_placement(owner, tenant).await?;
    if before.isolated {
        return Ok(ShardChange::unchanged(before));
    }
    ensure_sees_every_row(owner).await?;
    owner
        .execute(
            "select isolate_tenant_to_new_shard($2::text::regclass, $1::uuid, 'CASCADE',
                      shard_transfer_mode => $3::text::citus.shard_transfer_mode)",
            &[&tenant.as_uuid(), &ANCHOR_TABLE, &TRANSFER_MODE],
        )
        .await?;
    Ok(ShardChange::done(read_placement(owner, tenant).await?))
}

/// Moves `tenant`'s shard group (with every school in it: isolate first to move one alone) to
/// the worker `target`. Reads go on throughout; writes to the group wait for the copy.
pub async fn move_to(
    owner: &Client,
    tenant: TenantId,
    target: &NodeAddr,
) -> Result<ShardChange, ShardError> {
    ensure_citus(owner).await?;
    let port = i32::from(target.port);
    let worker = owner
        .query_opt(
            "select 1 from pg_dist_node where nodename = $1 and nodeport = $2
               and isactive and noderole = 'primary' and shouldhaveshards",
            &[&target.host, &port],
        )
        .await?;
    if worker.is_none() {
        return Err(ShardError::UnknownNode(target.clone()));
    }
    let before = read_placement(owner, tenant).await?;
    let Some(source) = before.nodes.first().cloned() else {
        return Err(ShardError::Db(DbError::unavailable()));
    };
    if source == *target {
        return Ok(ShardChange::unchanged(before));
    }
    ensure_sees_every_row(owner).await?;
    owner
        .execute(
            "select citus_move_shard_placement($1, $2, $3, $4, $5,
                      shard_transfer_mode => $6::text::citus.shard_transfer_mode)",
            &[
                &before.shard_id,
                &source.host,
                &i32::from(source.port),
                &target.host,
                &port,
                &TRANSFER_MODE,
            ],
        )
        .await?;
    Ok(ShardChange::done(read_placement(owner, tenant).await?))
}

#[cfg(test)]
mod tests {
    use super::NodeAddr;

    #[test]
    fn a_node_is_a_host_or_socket_directory_and_a_port() {
        for (raw, host, port) in [
            ("10.0.0.12:5432", "10.0.0.12", 5432),
            ("worker-2.internal:6432", "worker-2.internal", 6432),
            (
                "/var/run/citus/worker1:5432",
                "/var/run/citus/worker1",
                5432,
            ),
        ] {
            let node: NodeAddr = raw.parse().expect(raw);
            assert_eq!((node.host.as_str(), node.port), (host, port));
            assert_eq!(node.to_string(), raw);
        }
        for bad in [
            "",
            "host",
            ":5432",
            "host:",
            "host:0",
            "host:70000",
            "a b:1",
            "h;x:1",
            "h'x:1",
        ] {
            assert!(bad.parse::<NodeAddr>().is_err(), "{bad}");
        }
    }
}
