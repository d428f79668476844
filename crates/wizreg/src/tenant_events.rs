//! Cross-process tenant cache invalidation: every `wizreg serve` sharing a database hears about
//! tenant changes (suspend, resume, rename, create, delete) made by any of them, or by the CLI,
//! and forgets the changed school at once.
//!
//! A trigger on `wizreg.tenant` (migration 0002) sends `NOTIFY wizreg_tenant, '<tenant id>'`
//! on commit; [`crate::notifications`] follows the channel (as the runtime role: `LISTEN`
//! needs no privilege). [`Registry::forget`] drops that tenant's entries (by id and by slug)
//! and every cached "no such tenant" (which may be the school just created), so the other
//! schools stay cached: creating one school among 10,000 costs no burst of lookups.

use tenancy::tls::PgTls;
use tenancy::{Tenancy, TenantId};

use crate::notifications::{follow, Follower};
use crate::registry::Registry;

/// The channel the migration's trigger notifies.
pub const CHANNEL: &str = "wizreg_tenant";
/// `application_name` of the listening session, so operators can tell it apart.
pub const APPLICATION_NAME: &str = "wizreg-listener";

/// Starts following tenant changes in the background. The task ends once `tenancy` is closed
/// (at shutdown) and its session has ended.
pub fn spawn_listener(
    config: tokio_postgres::Config,
    tls: PgTls,
    registry: Registry,
    tenancy: Tenancy,
) -> tokio::task::JoinHandle<()> {
    follow(
        (config, tls),
        CHANNEL,
        APPLICATION_NAME,
        registry,
        move || tenancy.is_closed(),
    )
}

impl Follower for Registry {
    fn resync(&self) {
        self.invalidate_all();
    }

    async fn notified(&self, payload: &str) {
        tracing::debug!(tenant = payload, "tenant changed; forgotten");
        match payload.parse() {
            Ok(id) => self.forget(TenantId::from_uuid(id)),
            Err(_) => self.invalidate_all(),
        }
    }
}
