//! The ratios the targets are judged on, measured close together in time: a few short rounds,
//! each running pgbench (a) and (b) and then `GET /students/{id}` closed-loop on every server
//! under comparison, one after another. The machine is shared and its load drifts within a run,
//! so a ratio of two numbers taken minutes apart can be off by a factor of two; medians over
//! interleaved rounds are not. Each server's tenant cache is warmed again before each of its
//! rounds, so all of them are compared in the same steady state, and the servers take turns
//! at going first.

use std::path::Path;
use std::time::Duration;

use crate::database::{self, Cluster};
use crate::dataset::Size;
use crate::load::{self, Route, Target};
use crate::Args;

/// Even, so that every server goes first as often as it goes last.
const ROUNDS: usize = 4;
const SECONDS: u64 = 4;

/// Medians over the rounds, in requests (transactions) per second.
#[derive(Debug, serde::Serialize)]
pub struct Paired {
    pub baseline_a: f64,
    pub baseline_b: f64,
    /// `GET /students/{id}` per named server, in the order given.
    pub get_by_id: Vec<(String, f64)>,
}

impl Paired {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.get_by_id
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| *r)
    }

    pub fn note(&self) -> String {
        let servers: Vec<String> = self
            .get_by_id
            .iter()
            .map(|(name, rate)| format!("GET by id ({name}) {rate:.0}/s"))
            .collect();
        format!(
            "Ratios for the targets: medians of {ROUNDS} interleaved rounds of {SECONDS} s each \
             (pgbench (a), (b), then each server in turn, the order alternating): (a) {:.0} tx/s, (b) {:.0} tx/s, {}.",
            self.baseline_a,
            self.baseline_b,
            servers.join(", ")
        )
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => 0.0,
        n if n % 2 == 0 => (values[middle - 1] + values[middle]) / 2.0,
        _ => values[middle],
    }
}

pub async fn interleaved(
    args: &Args,
    cluster: &Cluster,
    work: &Path,
    size: Size,
    servers: &[(&str, &Target)],
) -> Result<Paired, String> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut gets = vec![Vec::new(); servers.len()];
    for round in 1..=ROUNDS {
        eprintln!("bench: interleaved round {round}/{ROUNDS} …");
        let baselines = database::pgbench(cluster, work, size, args.connections, SECONDS)?;
        a.push(baselines[0].tps);
        b.push(baselines[1].tps);
        // The order alternates from round to round, so that no server always runs first, right
        // after pgbench's burst of connections.
        let mut order: Vec<_> = servers.iter().zip(gets.iter_mut()).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for ((_, target), rates) in order {
            // Minutes have passed since the last touch: with 10,000 schools most tenant cache
            // entries have lived out their TTL (30–60 s) and would be looked up again inside
            // the measured seconds, which a deployment serving every school without pause
            // does once per TTL, not in a burst. Every server starts its round fresh.
            load::touch_every_school(target, args.connections).await?;
            let outcome = load::run(
                target,
                Route::GetById,
                args.connections,
                None,
                Duration::from_secs(1),
                Duration::from_secs(SECONDS),
            )
            .await;
            rates.push(outcome.rate());
        }
    }
    Ok(Paired {
        baseline_a: median(a),
        baseline_b: median(b),
        get_by_id: servers
            .iter()
            .zip(gets)
            .map(|((name, _), rates)| (name.to_string(), median(rates)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(Vec::new()), 0.0);
    }
}
