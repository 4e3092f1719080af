//! Starting a distributed node, and what a distributed node can do beyond a local one.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actors::{Actor, AnyPid, Node, NodeId, Pid};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::spawn::SpawnError;
use futures::Stream;
use futures::channel::mpsc;

use crate::config::Config;
use crate::net::{Net, address};
use crate::router::NetRouter;
use crate::transport::{Tcp, Transport};

/// A change in the set of connected nodes, as Erlang's `monitor_node`/`net_kernel` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// A connection to this node is up.
    Up(String),
    /// The connection to this node is lost. For one node, a `Down` always comes before the
    /// next `Up`.
    Down(String),
}

/// A stream of [`NodeEvent`]s from [`DistNode::monitor_nodes`].
pub struct NodeEvents(mpsc::UnboundedReceiver<NodeEvent>);

impl NodeEvents {
    /// The next event; `None` once the node is gone.
    pub async fn next(&mut self) -> Option<NodeEvent> {
        futures::StreamExt::next(&mut self.0).await
    }
}

impl Stream for NodeEvents {
    type Item = NodeEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<NodeEvent>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The name is not `name@host:port`.
    #[error("node name {0:?} is not of the form name@host:port")]
    BadName(String),
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Why a connection could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// This node has no network (`Node::local()`).
    #[error("this node is not distributed")]
    NotDistributed,
    /// The name is not `name@host:port`, is this node's own, or is blocked.
    #[error("cannot connect to {0}: not a reachable node name (or blocked)")]
    Unreachable(String),
    /// The attempt failed, with the reason.
    #[error("connection to {node} failed: {reason}")]
    Failed {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
}

/// Why a remote name lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No connection to the node.
    #[error("no connection to {0}")]
    NoConnection(String),
    /// No process is registered under the name there.
    #[error("no process is registered as {name:?} on {node}")]
    NotRegistered {
        /// The name.
        name: String,
        /// The node.
        node: String,
    },
    /// The process registered there is of another actor type.
    #[error("the process registered as {0:?} is of another actor type")]
    WrongType(String),
}

/// What crosses one connection now, for monitoring and leak checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Links between a process here and one there.
    pub links: usize,
    /// Monitors processes here hold on processes there (including one per process-group
    /// scope both nodes run: the scopes' servers watch each other).
    pub monitors_held: usize,
    /// Monitors processes there hold on processes here.
    pub monitors_served: usize,
    /// Calls sent there awaiting their reply.
    pub pending_calls: usize,
    /// Bytes waiting to be written.
    pub queued_bytes: usize,
}

/// Starts a distributed node: `Node::builder("a@127.0.0.1:4001").cookie("secret").start()`.
pub struct NodeBuilder {
    name: String,
    config: Config,
    transport: Arc<dyn Transport>,
}

impl NodeBuilder {
    /// The secret every node of the cluster shares; it never crosses the wire.
    pub fn cookie(mut self, cookie: impl AsRef<[u8]>) -> Self {
        self.config.cookie = cookie.as_ref().to_vec();
        self
    }

    /// A tick goes out after `interval` without traffic; a peer silent for `misses` intervals
    /// is declared down (default 500 ms x 5: a frozen node is seen within 2.5 s).
    pub fn heartbeat(mut self, interval: Duration, misses: u32) -> Self {
        self.config.heartbeat_interval = interval;
        self.config.heartbeat_misses = misses.max(1);
        self
    }

    /// The largest frame accepted (default 4 MiB); a peer sending a larger one is cut off.
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.config.max_frame = bytes;
        self
    }

    /// How long a connection may take to dial and handshake (default 5 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// Bytes queued to one peer past which calls wait for the queue to drain (default 16 MiB);
    /// past four times this, sends fail with `Overloaded` instead of growing memory.
    pub fn send_limit(mut self, bytes: usize) -> Self {
        self.config.send_limit = bytes;
        self
    }

    /// Whether a node that loses a peer makes the others split cleanly (default on): each
    /// node connected to both drops the same one, so partitions are fully connected, as OTP's
    /// `prevent_overlapping_partitions`.
    pub fn clean_partitions(mut self, on: bool) -> Self {
        self.config.clean_partitions = on;
        self
    }

    /// The most nodes this node is connected to, or connecting to, at once (default 1,024):
    /// past it, dials and incoming connections are refused, and a peer's list of nodes to
    /// join is cut short, so no peer can make this node open sockets without bound.
    pub fn max_peers(mut self, peers: usize) -> Self {
        self.config.max_peers = peers.max(1);
        self
    }

    /// The most bytes all connections together may hold in frames that have begun to arrive
    /// and are not complete (default 64 MiB). A frame's buffer grows as its bytes arrive, never
    /// ahead of them; a connection whose frame would take the total past this is closed.
    pub fn max_partial_frames(mut self, bytes: usize) -> Self {
        self.config.max_partial = bytes;
        self
    }

    /// The most names the cluster-wide registry keeps on this node (default 100,000), and the
    /// most cluster locks the processes of any one node may hold on it (default 100,000):
    /// past them, a registration or a lock fails with `GlobalError::TableFull`, and names a
    /// peer sends beyond them are not taken.
    pub fn global_limits(mut self, max_names: usize, max_locks_per_node: usize) -> Self {
        self.config.global_limits = crate::global::Limits {
            max_names,
            max_locks_per_node,
        };
        self
    }

    /// Carries the connections over another transport than TCP.
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Arc::new(transport);
        self
    }

    /// Listens, and returns the node. With port 0 the system picks one, and the node's name
    /// says which.
    pub async fn start(self) -> Result<Node, StartError> {
        let (short, host) =
            parse(&self.name).ok_or_else(|| StartError::BadName(self.name.clone()))?;
        let addr = address(&self.name).ok_or_else(|| StartError::BadName(self.name.clone()))?;
        let listener = self
            .transport
            .listen(addr)
            .await
            .map_err(|source| StartError::Listen {
                addr: addr.to_string(),
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| StartError::Listen {
            addr: addr.to_string(),
            source,
        })?;
        let port = bound.rsplit_once(':').map_or("0", |(_, p)| p);
        let name = format!("{short}@{host}:{port}");
        let node = Node::with_id(NodeId::new(&name, actors::dist::new_creation()));
        let net = Arc::new(Net::new(&node, self.config, self.transport));
        let installed = node.install_router(Arc::new(NetRouter { net: net.clone() }));
        debug_assert!(installed.is_ok(), "a fresh node has no router");
        node.set_extension(net.clone());
        crate::system::start(&node, &net).await;
        let accept = actors::rt::spawn(net.clone().accept_loop(listener));
        net.set_accept_task(accept);
        actors::rt::spawn(net.clone().heal_loop());
        tracing::info!(node = %name, "started");
        Ok(node)
    }
}

/// `name@host` of `name@host:port`.
fn parse(name: &str) -> Option<(&str, &str)> {
    let (short, rest) = name.split_once('@')?;
    let (host, _) = rest.rsplit_once(':')?;
    (!short.is_empty() && !host.is_empty()).then_some((short, host))
}

fn net(node: &Node) -> Option<Arc<Net>> {
    node.extension::<Net>()
}

/// What a distributed node adds to [`Node`]; in `actors_net::prelude`.
pub trait DistNode: Sized {
    /// Starts building a distributed node named `name@host:port`.
    fn builder(name: &str) -> NodeBuilder;

    /// Connects to `node` (and, through it, to every node it knows: full mesh). Sends to a
    /// node's pids connect by themselves; this waits for the connection.
    fn connect(&self, node: &str) -> impl Future<Output = Result<(), ConnectError>> + Send;

    /// Closes the connection to `node`; both sides see `NodeEvent::Down`.
    fn disconnect(&self, node: &str) -> bool;

    /// The nodes connected now, sorted.
    fn nodes(&self) -> Vec<String>;

    /// Connections coming up and going down, from now on.
    fn monitor_nodes(&self) -> NodeEvents;

    /// Cuts the connection to `node` and refuses it until [`DistNode::unblock`], as OTP's
    /// `disconnect_node` with an allow list: how tests cut a cluster into partitions.
    fn block(&self, node: &str);

    /// Allows the connection to `node` again.
    fn unblock(&self, node: &str);

    /// The process registered as `name` on `node`, if it is an `A`: `{Name, Node}` addressing.
    fn whereis_on<A: Actor>(
        &self,
        name: &str,
        node: &str,
    ) -> impl Future<Output = Result<Pid<A>, LookupError>> + Send;

    /// Lets other nodes start processes of actor type `A` here (`spawn_on`, `spawn_link_on`,
    /// remote supervised children). Erlang spawns any loaded code; here a node says which
    /// types it runs.
    fn allow_spawn<A: Actor + Serialize + DeserializeOwned>(&self);

    /// Starts `actor` on `node`, which must allow its type.
    fn spawn_on<A: Actor + Serialize>(
        &self,
        node: &str,
        actor: A,
    ) -> impl Future<Output = Result<Pid<A>, SpawnError>> + Send;

    /// Resolves once the connection to `node` is down (at once if it cannot be made), as
    /// Erlang's `monitor_node`.
    fn monitor_node(&self, node: &str) -> impl Future<Output = ()> + Send;

    /// What crosses the connection to `node` now, if there is one.
    fn connection_info(&self, node: &str) -> Option<ConnectionInfo>;

    /// The cluster-wide registry, as Erlang's `global`.
    fn global(&self) -> crate::global::Global;

    /// The default process-group scope, as Erlang's `pg`.
    fn groups(&self) -> crate::groups::Groups;

    /// The process-group scope `name`, started on this node at its first use. Scopes are
    /// independent: each sees only the members of its own scope, on the nodes that run it.
    fn scope(&self, name: &str) -> crate::groups::Groups;
}

impl DistNode for Node {
    fn builder(name: &str) -> NodeBuilder {
        NodeBuilder {
            name: name.to_string(),
            config: Config::default(),
            transport: Arc::new(Tcp),
        }
    }

    async fn connect(&self, node: &str) -> Result<(), ConnectError> {
        let net = net(self).ok_or(ConnectError::NotDistributed)?;
        let conn = net
            .conn_or_dial(node, true)
            .ok_or_else(|| ConnectError::Unreachable(node.to_string()))?;
        std::future::poll_fn(|cx| conn.poll_settled(cx))
            .await
            .map_err(|reason| ConnectError::Failed {
                node: node.to_string(),
                reason,
            })
    }

    fn disconnect(&self, node: &str) -> bool {
        net(self).is_some_and(|net| net.disconnect(node))
    }

    fn nodes(&self) -> Vec<String> {
        net(self).map(|net| net.nodes()).unwrap_or_default()
    }

    fn monitor_nodes(&self) -> NodeEvents {
        let (tx, rx) = mpsc::unbounded();
        if let Some(net) = net(self) {
            net.subscribe(tx);
        }
        NodeEvents(rx)
    }

    fn block(&self, node: &str) {
        if let Some(net) = net(self) {
            net.block(node, true);
        }
    }

    fn unblock(&self, node: &str) {
        if let Some(net) = net(self) {
            net.block(node, false);
        }
    }

    fn allow_spawn<A: Actor + Serialize + DeserializeOwned>(&self) {
        if let Some(net) = net(self) {
            let spawner: crate::net::Spawner = Arc::new(|node: &Node, state: &[u8], link| {
                let actor: A = actors::wire::decode(node, state).map_err(|e| e.to_string())?;
                Ok(match link {
                    Some(parent) => node.spawn_linked_to(actor, parent).any(),
                    None => node.spawn(actor).any(),
                })
            });
            let identity = A::IDENTITY;
            crate::connection::lock(&net.spawnable)
                .insert(identity.name.to_string(), (identity.hash, spawner));
        }
    }

    async fn spawn_on<A: Actor + Serialize>(
        &self,
        node: &str,
        actor: A,
    ) -> Result<Pid<A>, SpawnError> {
        crate::spawn::spawn_on(self, node, actor, None).await
    }

    async fn monitor_node(&self, node: &str) {
        let mut events = self.monitor_nodes();
        if self.connect(node).await.is_err() {
            return;
        }
        if !self.nodes().iter().any(|n| n == node) {
            return;
        }
        while let Some(event) = events.next().await {
            if event == NodeEvent::Down(node.to_string()) {
                return;
            }
        }
    }

    fn global(&self) -> crate::global::Global {
        crate::global::Global::new(self.clone(), net(self).map(|n| n.global.clone()))
    }

    fn groups(&self) -> crate::groups::Groups {
        self.scope(crate::groups::DEFAULT_SCOPE)
    }

    fn scope(&self, name: &str) -> crate::groups::Groups {
        let shared = net(self).map(|net| {
            let mut scopes = crate::connection::lock(&net.scopes);
            scopes
                .entry(name.to_string())
                .or_insert_with(|| {
                    let shared = crate::groups::Shared::new(name);
                    crate::system::start_scope(&net, shared.clone());
                    shared
                })
                .clone()
        });
        crate::groups::Groups::new(shared)
    }

    fn connection_info(&self, node: &str) -> Option<ConnectionInfo> {
        let net = net(self)?;
        let conn = crate::connection::lock(&net.peers)
            .conns
            .get(node)
            .cloned()?;
        Some(conn.info())
    }

    async fn whereis_on<A: Actor>(&self, name: &str, node: &str) -> Result<Pid<A>, LookupError> {
        if node == self.name() {
            return self
                .whereis(name)
                .ok_or_else(|| LookupError::NotRegistered {
                    name: name.to_string(),
                    node: node.to_string(),
                });
        }
        let net = net(self).ok_or_else(|| LookupError::NoConnection(node.to_string()))?;
        let found: Option<AnyPid> = net.lookup(node, name).await?;
        let pid = found.ok_or_else(|| LookupError::NotRegistered {
            name: name.to_string(),
            node: node.to_string(),
        })?;
        pid.downcast()
            .ok_or_else(|| LookupError::WrongType(name.to_string()))
    }
}
