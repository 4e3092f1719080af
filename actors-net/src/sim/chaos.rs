//! Faults drawn from the seed: `cluster.chaos(rate)` until `Chaos::stop`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actors::rt::JoinHandle;

use super::cluster::Cluster;

/// Faults befalling a running cluster, drawn from the seed, until [`Chaos::stop`].
pub struct Chaos {
    cluster: Cluster,
    stop: Arc<AtomicBool>,
    task: JoinHandle<u64>,
}

/// A number in `0..n` from the seed.
fn pick(n: u64) -> u64 {
    actors::sim::draw() % n.max(1)
}

/// A span between `lo` and `hi` milliseconds, from the seed.
fn span(lo: u64, hi: u64) -> Duration {
    Duration::from_millis(lo + pick(hi - lo + 1))
}

impl Cluster {
    /// Starts faults at about `rate` per simulated second: partitions (two-way and one-way,
    /// healing after up to 3 s), cut connections, nodes killed (restarted within 3 s) and
    /// frozen (thawed within 4 s); never more than a minority of the nodes down or frozen at
    /// once. Each node's clock drifts by up to 200 parts per million meanwhile.
    pub fn chaos(&self, rate: f64) -> Chaos {
        for i in 0..self.len() {
            self.drift(i, pick(401) as i32 - 200);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let task = actors::rt::spawn(faults(self.clone(), rate.max(0.001), stop.clone()));
        Chaos {
            cluster: self.clone(),
            stop,
            task,
        }
    }
}

impl Chaos {
    /// Ends the faults and repairs the cluster: partitions healed, frozen nodes thawed, dead
    /// ones restarted, and every node connected to every other. Returns how many faults
    /// there were.
    pub async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Release);
        let faults = self.task.await;
        let c = &self.cluster;
        c.heal();
        for i in 0..c.len() {
            c.drift(i, 0);
            if c.try_node(i).is_none() {
                c.restart(i).await;
            } else {
                c.thaw(i);
            }
        }
        actors::sim::note(format_args!(
            "chaos stopped after {faults} faults; repaired"
        ));
        c.connect_all().await;
        faults
    }
}

/// Something to undo later.
enum Undo {
    Heal,
    Restart(usize),
    Thaw(usize),
}

async fn faults(c: Cluster, rate: f64, stop: Arc<AtomicBool>) -> u64 {
    let n = c.len();
    let minority = (n.saturating_sub(1) / 2).max(1);
    let mut pending: Vec<(Duration, Undo)> = Vec::new();
    let mut count = 0u64;
    let mean_gap = Duration::from_secs_f64(1.0 / rate);
    let mut next = actors::sim::true_now() + mean_gap.mul_f64((pick(2000) as f64) / 1000.0);
    while !stop.load(Ordering::Acquire) {
        actors::rt::sleep(Duration::from_millis(50)).await;
        let now = actors::sim::true_now();
        let (due, later): (Vec<_>, Vec<_>) = pending.drain(..).partition(|(at, _)| *at <= now);
        pending = later;
        for (_, undo) in due {
            match undo {
                Undo::Heal => c.heal(),
                Undo::Restart(i) => {
                    c.restart(i).await;
                }
                Undo::Thaw(i) => c.thaw(i),
            }
        }
        if now < next || n < 2 {
            continue;
        }
        next = now + mean_gap.mul_f64((pick(2000) as f64) / 1000.0);
        let impaired = pending
            .iter()
            .filter(|(_, u)| matches!(u, Undo::Restart(_) | Undo::Thaw(_)))
            .count();
        let partitioned = pending.iter().any(|(_, u)| matches!(u, Undo::Heal));
        let a = pick(n as u64) as usize;
        let b = (a + 1 + pick(n as u64 - 1) as usize) % n;
        count += 1;
        match pick(5) {
            0 if !partitioned => {
                let (side, rest): (Vec<usize>, Vec<usize>) = (0..n).partition(|_| pick(2) == 0);
                let (side, rest) = if side.is_empty() || rest.is_empty() {
                    (vec![a], (0..n).filter(|&i| i != a).collect())
                } else {
                    (side, rest)
                };
                c.partition(&side, &rest);
                pending.push((now + span(200, 3000), Undo::Heal));
            }
            1 if !partitioned => {
                c.block_one_way(a, b);
                pending.push((now + span(200, 3000), Undo::Heal));
            }
            2 if impaired < minority && c.try_node(a).is_some() && !c.is_frozen(a) => {
                c.kill(a);
                pending.push((now + span(100, 3000), Undo::Restart(a)));
            }
            3 if impaired < minority && c.try_node(a).is_some() && !c.is_frozen(a) => {
                c.freeze(a);
                pending.push((now + span(200, 4000), Undo::Thaw(a)));
            }
            _ => c.cut(a, b),
        }
    }
    count
}
