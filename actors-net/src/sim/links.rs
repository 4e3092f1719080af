//! What every byte on the simulated network is subject to: the latency drawn for it, and the
//! directions partitions cut.

use actors::dist::Unpoisoned;
use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The latency range and the cut directions, shared by the network and its pipes.
pub(crate) struct Links {
    latency: (Duration, Duration),
    /// Directions (from host, to host) that lose every packet.
    blocked: Mutex<BTreeSet<(String, String)>>,
}

impl Links {
    pub(crate) fn new(latency: (Duration, Duration)) -> Self {
        Links {
            latency,
            blocked: Mutex::new(BTreeSet::new()),
        }
    }

    fn cut(&self) -> MutexGuard<'_, BTreeSet<(String, String)>> {
        self.blocked.lock().unpoisoned()
    }

    /// A latency drawn from the seed.
    pub(crate) fn latency(&self) -> Duration {
        let (lo, hi) = self.latency;
        let span = hi.saturating_sub(lo).as_nanos() as u64;
        lo + Duration::from_nanos(if span == 0 {
            0
        } else {
            actors::sim::draw() % span
        })
    }

    /// True while packets from `from` to `to` are lost.
    pub(crate) fn blocked(&self, from: &str, to: &str) -> bool {
        self.cut().contains(&(from.to_string(), to.to_string()))
    }

    pub(crate) fn block(&self, from: &str, to: &str) {
        self.cut().insert((from.to_string(), to.to_string()));
    }

    pub(crate) fn clear(&self) {
        self.cut().clear();
    }
}
