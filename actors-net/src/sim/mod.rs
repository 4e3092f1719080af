//! Deterministic simulation of a cluster (feature `sim`): every node of a test on one thread,
//! in virtual time, over a simulated network that fails as the seed decides.
//!
//! The runtime (`actors::sim`) runs every task on one thread, picks the next by a seeded draw
//! and moves a virtual clock; this module adds the network: each connection an ordered byte
//! stream with a latency drawn from the seed, and partitions (one-way or two-way), cut
//! connections, machines killed, frozen and restarted. Nodes are the real ones, started with
//! a [`SimTransport`] instead of TCP, so what is tested is the code that ships.
//!
//! ```
//! use actors::sim::Sim;
//! use actors_net::prelude::*;
//! use actors_net::sim::SimNodes;
//!
//! let nodes = Sim::new(3).nodes(3).run(|cluster| async move {
//!     cluster.connect_all().await;
//!     cluster.node(0).nodes().len()
//! });
//! assert_eq!(nodes, 2);
//! ```

mod chaos;
mod cluster;
mod links;
mod pipe;
mod transport;
mod world;

pub use chaos::Chaos;
pub use cluster::{
    Cluster, Failure, SimCluster, SimNodes, find_failure, node_name, replay_seed, seeds,
};
pub use transport::SimTransport;
pub use world::{NetConfig, SimNet};
