//! A node's figures as metrics, through the [`metrics`](https://docs.rs/metrics) facade:
//! whichever exporter the application installs reads them, and
//! [`NodeMetrics::prometheus`] serves them in Prometheus's text format by itself.
//!
//! Most figures are counts the node keeps anyway (processes, messages handled, restarts,
//! bytes on the wire); [`report`] publishes them when asked, so they cost nothing between
//! scrapes. Call durations are the exception: each call is timed, once an exporter turns it
//! on ([`actors::introspect::time_calls`]).
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | `actors_processes` | gauge | `node` | processes alive |
//! | `actors_spawned_total` | counter | `node` | processes started |
//! | `actors_messages_handled_total` | counter | `node` | messages taken by handlers (every message in, local or remote) |
//! | `actors_mailbox_messages` | gauge | `node` | messages and signals waiting in all mailboxes |
//! | `actors_mailbox_longest` | gauge | `node` | the longest mailbox |
//! | `actors_restarts_total` | counter | `node` | children restarted by supervisors |
//! | `actors_call_duration_seconds` | histogram | `node` | calls made through the node, send to reply |
//! | `actors_connections` | gauge | `node` | nodes connected |
//! | `actors_dist_frames_received_total` | counter | `node` | frames in from other nodes |
//! | `actors_dist_frames_sent_total` | counter | `node` | frames out to other nodes (messages out) |
//! | `actors_dist_bytes_received_total` | counter | `node` | bytes in from other nodes |
//! | `actors_dist_bytes_sent_total` | counter | `node` | bytes out to other nodes |
//! | `actors_dist_queued_bytes` | gauge | `node`, `peer` | bytes waiting to go to a peer |
//! | `actors_dist_round_trip_seconds` | gauge | `node`, `peer` | the last ping's round trip to a peer |
//! | `actors_global_names` | gauge | `node` | cluster-wide names the node knows |
//! | `actors_groups` | gauge | `node` | process groups the node sees, in every scope |
//!
//! ```
//! # use actors_net::prelude::*;
//! # actors::rt::block_on(async {
//! let node = Node::builder("a@127.0.0.1:0").cookie("c").start().await?;
//! let endpoint = node.prometheus("127.0.0.1:0").start().await?;
//! println!("scrape http://{}/metrics", endpoint.addr());
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

mod prometheus;
mod report;

pub use crate::http::HttpError;
pub use prometheus::{NodeMetrics, PrometheusBuilder, PrometheusEndpoint};
pub use report::report;
