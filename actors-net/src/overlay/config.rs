//! How large the partial views are, and how far their walks go.

/// The sizes and walk lengths of the partial views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayConfig {
    /// The most peers in the active view (connected and monitored).
    pub active: usize,
    /// The most names in the passive view.
    pub passive: usize,
    /// How far a join's random walk goes before it ends in an active view (ARWL).
    pub active_walk: u8,
    /// How many steps into a join's walk its name is put in a passive view (PRWL).
    pub passive_walk: u8,
    /// Active peers sent in a shuffle.
    pub shuffle_active: usize,
    /// Passive names sent in a shuffle.
    pub shuffle_passive: usize,
}

impl OverlayConfig {
    /// Sizes for a cluster of about `nodes`: an active view of log2(N)/2 + 1 peers (at least
    /// 4; 6 at 1,024 nodes, Partisan's default), a passive view six times as large (the
    /// paper's ratio), walks of 6 and 3 steps and shuffles of 3 + 4 names (the paper's).
    pub fn for_cluster(nodes: usize) -> Self {
        let log2 = (usize::BITS - 1 - nodes.max(2).leading_zeros()) as usize;
        let active = (log2 / 2 + 1).max(4);
        OverlayConfig {
            active,
            passive: active * 6,
            active_walk: 6,
            passive_walk: 3,
            shuffle_active: 3,
            shuffle_passive: 4,
        }
    }
}
