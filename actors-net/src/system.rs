//! The services a distributed node runs by itself (the global name server, one server per
//! process-group scope, the introspection server), under one supervisor, as OTP's kernel supervisor runs `global` and
//! `pg`. A service that crashes or is killed is restarted, and the new server takes its
//! state back from the table it shares with the node and from its peers.

use std::sync::Arc;
use std::time::Duration;

use actors::supervisor::{ChildSpec, Strategy, Supervisor};
use actors::{Node, Pid};

use crate::config::Config;
use crate::connection::lock;
use crate::global::{GlobalServer, SERVER_NAME};
use crate::groups::{GroupServer, Scopes, server_name};
use crate::introspect::server as introspect;
use crate::net::NodeEvent;
use crate::node::DistNode;

/// The system supervisor of a node; an extension of the node.
#[derive(Default)]
struct System(std::sync::Mutex<Option<Pid<Supervisor>>>);

impl actors::dist::Extension for System {
    fn shutdown(&self) {
        lock(&self.0).take();
    }
}

/// How many restarts of its services the system supervisor allows in `PERIOD`.
const RESTARTS: usize = 20;
const PERIOD: Duration = Duration::from_secs(5);

fn scope_spec(shared: Arc<crate::groups::Shared>) -> ChildSpec {
    let name = server_name(&shared.scope);
    ChildSpec::new(name.clone(), move || GroupServer::new(shared.clone())).name(name)
}

/// Starts the system supervisor of a freshly started node, with the global server and the
/// default scope's server, and feeds node events to whichever servers run now.
pub(crate) async fn start(node: &Node, config: &Config) {
    let global = crate::global::Shared::new(config.clean_partitions, config.global_limits);
    actors::dist::set_extension(node, global.clone());
    let scopes = Arc::new(Scopes::default());
    actors::dist::set_extension(node, scopes.clone());
    let system = Arc::new(System::default());
    actors::dist::set_extension(node, system.clone());
    let default_scope = crate::groups::Shared::new(crate::groups::DEFAULT_SCOPE);
    lock(&scopes.scopes).insert(default_scope.scope.clone(), default_scope.clone());
    let server = global.clone();
    let sup = Supervisor::new(Strategy::OneForOne)
        .intensity(RESTARTS, PERIOD)
        .child(
            ChildSpec::new("global", move || GlobalServer::new(server.clone())).name(SERVER_NAME),
        )
        .child(scope_spec(default_scope))
        .child(
            ChildSpec::new(introspect::SERVER_NAME, || introspect::IntrospectServer)
                .name(introspect::SERVER_NAME),
        )
        .start(node)
        .await;
    let Ok(sup) = sup else {
        // The servers are plain processes that start with nothing to fail on: only a node
        // shutting down meanwhile stops them.
        tracing::warn!(node = %node.name(), "the system services did not start");
        return;
    };
    *lock(&system.0) = Some(sup.clone());
    // A scope first used later is started under the same supervisor.
    // Cleared when the node shuts down (`Scopes::shutdown`): the pid leads back to the node.
    let for_scopes = sup.clone();
    *lock(&scopes.start) = Some(Box::new(move |shared| start_scope(&for_scopes, shared)));
    let mut events = node.monitor_nodes();
    let (global, scopes) = (Arc::downgrade(&global), Arc::downgrade(&scopes));
    actors::rt::spawn(async move {
        while let Some(event) = events.next().await {
            let (Some(global), Some(scopes)) = (global.upgrade(), scopes.upgrade()) else {
                return;
            };
            let global: Option<Pid<GlobalServer>> = global.server().and_then(|s| s.downcast());
            let scopes: Vec<_> = lock(&scopes.scopes).values().cloned().collect();
            match event {
                NodeEvent::Up(peer) => {
                    if let Some(server) = global {
                        let _ = server.node_up(peer.clone(), false);
                    }
                    for scope in scopes {
                        if let Some(server) =
                            scope.server().and_then(|s| s.downcast::<GroupServer>())
                        {
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
fn start_scope(sup: &Pid<Supervisor>, shared: Arc<crate::groups::Shared>) {
    let sup = sup.clone();
    actors::rt::spawn(async move {
        let scope = shared.scope.clone();
        if let Ok(Err(e)) = sup.start_child(scope_spec(shared)).await {
            tracing::warn!(scope, "the scope's server did not start: {e}");
        }
    });
}

/// Starts one more service under the system supervisor of `node`: false if it has none, or
/// the service did not start.
pub(crate) async fn add(node: &Node, spec: ChildSpec) -> bool {
    let Some(sup) = actors::dist::extension::<System>(node).and_then(|s| lock(&s.0).clone()) else {
        return false;
    };
    matches!(sup.start_child(spec).await, Ok(Ok(_)))
}
