//! Nodes over loopback TCP in one OS process: remote call and cast, pids in messages,
//! ordering, lazy and transitive connection, identity checks, node events.

use std::future::IntoFuture;
use std::time::Duration;

use actors::WireError;
use actors::rt::block_on;
use actors_integration::*;
use actors_net::prelude::*;
use actors_net::{ConnectError, LookupError};

mod connections;
mod introspection;
mod messages;
mod replies;

const WAIT: Duration = Duration::from_secs(10);

/// A counter started on `on` and registered there as "c", as `from` finds it by name.
async fn counter_seen_from(from: &Node, on: &Node, n: u64) -> Pid<Counter> {
    on.register("c", on.spawn(Counter { n })).unwrap();
    from.whereis_on("c", on.name()).await.unwrap()
}
