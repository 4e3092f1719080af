//! Membership past the full mesh: HyParView's partial views, as a state machine.
//!
//! In a full mesh every node keeps a connection to every other: N-1 connections, heartbeats
//! and handshakes per node. HyParView (Leitão, Pereira, Rodrigues, 2007; the overlay under
//! Partisan) keeps two views instead:
//!
//! - an **active view** of about log N + 1 peers: the nodes this one is connected to and
//!   monitors. It is symmetric (if a has b, b has a), so a failure is seen from both sides.
//! - a **passive view** of a few times as many names, kept fresh by periodic shuffles (a
//!   random walk that swaps samples of both views), from which the active view is repaired
//!   when one of its peers fails.
//!
//! A node joins through any member: the contact takes it into its active view and sends a
//! random walk (`ForwardJoin`) down each of its other active links, each walk ending in an
//! active view somewhere in the cluster and passing the name to passive views on its way.
//!
//! [`PartialView`] is the protocol alone: it takes a message, a timer tick or a failure, and
//! returns the messages to send. It does no I/O and draws its randomness from the caller, so
//! a simulation runs thousands of nodes deterministically (`tests/tests/overlay.rs`).
//!
//! ```
//! use actors_net::overlay::{OverlayConfig, PartialView};
//!
//! let mut rng = 7u64;
//! let mut draw = move || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
//! let config = OverlayConfig::for_cluster(1_000);
//! let mut a = PartialView::new("a", config.clone());
//! let mut b = PartialView::new("b", config);
//! // b joins through a: each side now has the other in its active view.
//! for (to, message) in b.join("a") {
//!     assert_eq!(to, "a");
//!     a.receive("b", message, &mut draw);
//! }
//! assert_eq!(a.active(), ["b"]);
//! assert_eq!(b.active(), ["a"]);
//! ```

mod view;

pub use view::{Message, PartialView};

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
