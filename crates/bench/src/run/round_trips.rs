//! Round trips to PostgreSQL per request, counted by a proxy between the server and the
//! cluster, one request at a time so every counted message belongs to one request.

use wire_probe::Probe;

use super::Bench;
use crate::database::DB_NAME;
use crate::dataset::Size;
use crate::load::Route;
use crate::report::Row;

impl Bench<'_> {
    /// Round trips per request of each route, through a counting proxy, one request at a time.
    pub(super) async fn round_trips(&self, size: Size) -> Result<Vec<(Route, f64)>, String> {
        let probe =
            Probe::start(self.cluster.socket_dir(), 5432).map_err(|e| format!("probe: {e}"))?;
        let server = self
            .server(
                DB_NAME,
                Some(&probe.socket_dir()),
                Vec::new(),
                "server-probe.log",
            )
            .await?;
        let target = self.warm_target(&server, size, None).await?;
        let mut trips = Vec::new();
        for route in Route::ALL {
            let second = std::time::Duration::from_secs(1);
            // The first pass fills the tenant cache and prepares statements; the second counts.
            crate::load::run(&target, route, 1, None, second, second).await;
            let before = probe.tally();
            let outcome =
                crate::load::run(&target, route, 1, None, std::time::Duration::ZERO, second).await;
            let tally = probe.tally().since(&before);
            trips.push((
                route,
                tally.round_trips as f64 / outcome.all_requests.max(1) as f64,
            ));
        }
        Ok(trips)
    }
}

/// Puts each route's count on its closed-loop open-mode row: the proxy sat in front of an
/// open-mode server, so its counts belong to those rows only.
pub(super) fn attach(rows: &mut [Row], trips: &[(Route, f64)], connections: u32) {
    let main_mode = format!("closed, {connections} conns");
    for row in rows.iter_mut() {
        if let Some((_, t)) = trips
            .iter()
            .find(|(r, _)| r.label() == row.name && row.mode == main_mode)
        {
            row.round_trips_per_request = Some(*t);
        }
    }
}
