//! The services a distributed node runs by itself (the global name server, one server per
//! process-group scope), under one supervisor, as OTP's kernel supervisor runs `global` and
//! `pg`. A service that crashes or is killed is restarted, and the new server takes its
//! state back from the table it shares with the node and from its peers.

use std::sync::Arc;
use std::time::Duration;

use actors::supervisor::{ChildSpec, Strategy, Supervisor};
use actors::{Node, Pid};

use crate::connection::lock;
use crate::global::{GlobalServer, SERVER_NAME};
use crate::groups::{GroupServer, server_name};
use crate::net::Net;
use crate::node::{DistNode, NodeEvent};

/// How many restarts of its services the system supervisor allows in `PERIOD`.
const RESTARTS: usize = 20;
const PERIOD: Duration = Duration::from_secs(5);

fn scope_spec(shared: Arc<crate::groups::Shared>) -> ChildSpec {
    let name = server_name(&shared.scope);
    ChildSpec::new(name.clone(), move || GroupServer::new(shared.clone())).name(name)
}

/// Starts the system supervisor of a freshly started node, with the global server and the
/// default scope's server, and feeds node events to whichever servers run now.
pub(crate) async fn start(node: &Node, net: &Arc<Net>) {
    let global = net.global.clone();
    let default_scope = crate::groups::Shared::new(crate::groups::DEFAULT_SCOPE);
    lock(&net.scopes).insert(default_scope.scope.clone(), default_scope.clone());
    let sup = Supervisor::new(Strategy::OneForOne)
        .intensity(RESTARTS, PERIOD)
        .child(
            ChildSpec::new("global", move || GlobalServer::new(global.clone())).name(SERVER_NAME),
        )
        .child(scope_spec(default_scope))
        .start(node)
        .await;
    *lock(&net.system) = Some(sup);
    let mut events = node.monitor_nodes();
    let net = Arc::downgrade(net);
    actors::rt::spawn(async move {
        while let Some(event) = events.next().await {
            let Some(net) = net.upgrade() else { return };
            let global = net.global.server();
            let scopes: Vec<_> = lock(&net.scopes).values().cloned().collect();
            match event {
                NodeEvent::Up(peer) => {
                    if let Some(server) = global {
                        let _ = server.node_up(peer.clone(), false);
                    }
                    for scope in scopes {
                        if let Some(server) = scope.server() {
                            let _ = server.node_up(peer.clone());
                        }
                    }
                }
                NodeEvent::Down(peer) => {
                    if let Some(server) = global {
                        let _ = server.node_down(peer);
                    }
                }
            }
        }
    });
}

/// Starts the server of a scope first used now, under the system supervisor.
pub(crate) fn start_scope(net: &Net, shared: Arc<crate::groups::Shared>) {
    let Some(sup): Option<Pid<Supervisor>> = lock(&net.system).clone() else {
        return;
    };
    actors::rt::spawn(async move {
        let scope = shared.scope.clone();
        if let Ok(Err(e)) = sup.start_child(scope_spec(shared)).await {
            tracing::warn!(scope, "the scope's server did not start: {e}");
        }
    });
}
