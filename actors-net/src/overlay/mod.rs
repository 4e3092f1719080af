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
//! Over the active views, [`Routes`] gives every node a next hop to every other (link-state
//! routing: adverts of each node's active peers, flooded when a view changes), so that a
//! message to a node outside the active view can be relayed.
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

mod config;
mod numbers;
mod routes;
mod view;
pub(crate) mod wire;

pub use config::OverlayConfig;
pub use routes::{Advert, Adverts, Notes, Path, Refused, Routes, RoutesConfig};
pub use view::{Message, PartialView};

/// What a node running the overlay holds now: see [`DistNode::overlay_info`](crate::DistNode::overlay_info).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OverlayInfo {
    /// The nodes it has a direct connection (a link) to, sorted: its active view, and for a
    /// moment the peers of a shuffle's reply.
    pub neighbours: Vec<String>,
    /// The nodes a route leads to, sorted.
    pub reachable: Vec<String>,
    /// Sessions open: to the nodes something was sent to, relayed along the links.
    pub sessions: usize,
    /// Frames read from links since the node started: the overlay's own and those of
    /// sessions, its own and those it relays for others.
    pub frames_in: u64,
    /// Bytes read from links since the node started.
    pub bytes_in: u64,
    /// Frames of others' sessions this node passed on since it started.
    pub relayed: u64,
}
