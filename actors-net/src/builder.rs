//! The settings of a distributed node to be started: `Node::builder(name)...`. Starting it
//! (`NodeBuilder::start`) wires every layer together, and lives at the top, in `start`.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, GlobalLimits};
use crate::transport::{Tcp, Transport};

/// Starts a distributed node: `Node::builder("a@127.0.0.1:4001").cookie("secret").start()`.
///
/// The name is `name@host:port`; port 0 takes any free port, and the started node's
/// [`name`](actors::Node::name) says which.
///
/// ```
/// use std::time::Duration;
/// use actors_net::prelude::*;
///
/// # actors::rt::block_on(async {
/// let node = Node::builder("a@127.0.0.1:0")
///     .cookie("secret")                               // shared by every node of the cluster
///     .heartbeat(Duration::from_millis(200), 5)       // a frozen peer is down within 1 s
///     .start()
///     .await
///     .expect("the node starts");
/// assert!(node.name().starts_with("a@127.0.0.1:"));
/// # });
/// ```
pub struct NodeBuilder {
    pub(crate) name: String,
    pub(crate) config: Config,
    pub(crate) transport: Arc<dyn Transport>,
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
        self.config.global_limits = GlobalLimits {
            max_names,
            max_locks_per_node,
        };
        self
    }

    /// Also joins Erlang and Elixir clusters as the BEAM node `name` (`name@host`): registers
    /// with EPMD (serving one in the process when none runs) and speaks Erlang's distribution
    /// to BEAM nodes, with the same cookie. See the `beam` module.
    pub fn beam(mut self, name: &str) -> Self {
        self.config.beam = Some(crate::config::BeamConfig::new(name));
        self
    }

    /// The port of the EPMD to register with and to ask (default `ERL_EPMD_PORT`, else 4369);
    /// 0 serves an EPMD of the node's own on a free port (`Beam::epmd_port` tells which), for
    /// tests that must meet no other run's nodes.
    pub fn epmd_port(mut self, port: u16) -> Self {
        if let Some(beam) = &mut self.config.beam {
            beam.epmd_port = Some(port);
        }
        self
    }

    /// Joins BEAM clusters as a visible node, as `erl -name` does, rather than a hidden one
    /// (`erl -hidden`), the default: `nodes()` on a BEAM node lists it, and Erlang's
    /// `global` counts it (names registered there are seen here and the other way round).
    /// Hidden suits a Rust cluster that only calls into Erlang: a visible node takes part in
    /// `global`'s locks on every name registered anywhere in the BEAM cluster.
    pub fn beam_visible(mut self) -> Self {
        if let Some(beam) = &mut self.config.beam {
            beam.visible = true;
        }
        self
    }

    /// Erlang's `net_ticktime` toward BEAM nodes (default 60 s): a tick goes out after a
    /// quarter of it without traffic, and a BEAM node silent for all of it is down. Set it as
    /// the BEAM nodes have it.
    pub fn beam_ticktime(mut self, ticktime: std::time::Duration) -> Self {
        if let Some(beam) = &mut self.config.beam {
            beam.ticktime = ticktime.max(std::time::Duration::from_millis(40));
        }
        self
    }

    /// Finds the other nodes of the cluster by itself, and keeps looking: a static list of
    /// names, or every address of a DNS name (a Kubernetes headless service). Each node found
    /// is joined as if a peer had listed it; see [`Discovery`](crate::Discovery).
    ///
    /// ```
    /// use actors_net::{Discovery, prelude::*};
    ///
    /// # actors::rt::block_on(async {
    /// let a = Node::builder("a@127.0.0.1:0").cookie("secret").start().await.unwrap();
    /// // `b` is told only where `a` is: it connects, and would reconnect, by itself.
    /// let b = Node::builder("b@127.0.0.1:0")
    ///     .cookie("secret")
    ///     .discovery(Discovery::nodes([a.name()]))
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// let mut events = a.monitor_nodes();
    /// actors::rt::timeout(std::time::Duration::from_secs(10), async {
    ///     while !a.nodes().contains(&b.name().to_string()) {
    ///         events.next().await;
    ///     }
    /// })
    /// .await
    /// .expect("b joins a within 10 s");
    /// # });
    /// ```
    pub fn discovery(mut self, discovery: crate::discovery::Discovery) -> Self {
        self.config.discovery = Some(discovery);
        self
    }

    /// Runs the node on a partial-view overlay instead of a full mesh: it keeps direct
    /// connections (links) to a few neighbours only, about log2(N)/2 + 1 of them
    /// (HyParView), and reaches every other node over sessions relayed along the links by
    /// link-state routes. Pids, calls, monitors, links, global names and groups work as
    /// over a full mesh; a node far away is seen down when no route leads to it any more.
    /// Every node of the cluster must run the overlay; clean partitions are off (the
    /// overlay repairs itself instead). See `docs/semantics.md`.
    ///
    /// ```
    /// use actors_net::overlay::OverlayConfig;
    /// use actors_net::prelude::*;
    ///
    /// # actors::rt::block_on(async {
    /// let start = |name: &str| {
    ///     Node::builder(name).cookie("c").overlay(OverlayConfig::for_cluster(100)).start()
    /// };
    /// let a = start("a@127.0.0.1:0").await.unwrap();
    /// let b = start("b@127.0.0.1:0").await.unwrap();
    /// b.connect(a.name()).await.expect("b joins the overlay through a");
    /// assert_eq!(b.nodes(), vec![a.name().to_string()]);
    /// # });
    /// ```
    pub fn overlay(mut self, config: crate::overlay::OverlayConfig) -> Self {
        self.config.overlay = Some(config);
        self.config.clean_partitions = false;
        self
    }

    /// Carries the connections over another transport than TCP.
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Arc::new(transport);
        self
    }

    /// A builder for the node `name`, with the defaults.
    pub(crate) fn new(name: &str) -> Self {
        NodeBuilder {
            name: name.to_string(),
            config: Config::default(),
            transport: Arc::new(Tcp),
        }
    }
}
