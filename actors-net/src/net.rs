//! The peers layer: a distributed node's peer table, node events, and how connections are
//! closed and what depended on them released; which links failed and which peers are kept
//! apart. Setting connections up (dialling, answering, healing) is in `setup`; what arrives
//! on them is handed to the routing layer through `io::Owner`.

use actors::dist::rt::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use actors::dist::Signal;
use actors::{CallError, Down, ExitReason, MonitorRef, Node, NodeId, WeakNode};
use futures::channel::mpsc::UnboundedSender;

use crate::config::Config;
use crate::connection::{Conn, Side, Traffic, lock};
use crate::frame::{self, Control};
use crate::io::Owner;
use crate::transport::Transport;

pub(crate) struct Peers {
    pub(crate) conns: HashMap<String, Arc<Conn>>,
    pub(crate) blocked: HashSet<String>,
    /// Nodes whose last attempt failed: when, and how many attempts in a row. Sends to them
    /// fail at once for a while, a while that doubles with each failure.
    pub(crate) failed: HashMap<String, (Instant, u32)>,
    indexes: HashMap<String, u32>,
    /// Peers whose link failed (not closed on purpose), by name: their creation, and when
    /// the link was lost. Other nodes learn of them (clean partitions), and this node tries
    /// to reach them again until it does, or gives up.
    pub(crate) severed: HashMap<String, (u32, Instant)>,
    /// Peers this node keeps away, by name and creation, because a node it keeps lost its
    /// link to them (clean partitions): neither dialled nor accepted while this holds.
    pub(crate) apart: HashMap<String, u32>,
    /// Nodes a peer listed that this node has not reached yet, and since when: dialled
    /// again (with the back-off of `failed`) until reached or `HEAL_FOR` has passed, so a
    /// dial that failed while the network was cut does not leave the mesh with a hole.
    pub(crate) wanted: HashMap<String, Instant>,
}

/// Why a connection ended, as far as the rest of the cluster is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loss {
    /// The link failed (a read error, a silent peer, a cut by `block`): other nodes are told,
    /// and this node tries to reach the peer again.
    Severed,
    /// Closed on purpose by either side (`disconnect`, a goodbye, clean partitions, shutdown),
    /// or never up: nobody is told.
    Quiet,
}

/// A change in the set of connected nodes, as Erlang's `monitor_node`/`net_kernel` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// A connection to this node is up.
    Up(String),
    /// The connection to this node is lost. For one node, a `Down` always comes before the
    /// next `Up`.
    Down(String),
}

pub(crate) struct Net {
    pub(crate) node: WeakNode,
    pub(crate) id: NodeId,
    pub(crate) config: Config,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) peers: Mutex<Peers>,
    events: Mutex<Vec<UnboundedSender<NodeEvent>>>,
    closing: AtomicBool,
    /// The next connection's identity.
    next_link: AtomicU64,
    /// Partial frames held by all connections together.
    pub(crate) partial: crate::io::PartialBudget,
    /// What crossed the connections that have ended, so that totals never go back.
    ended_traffic: Mutex<Traffic>,
    accept_task: Mutex<Option<actors::rt::JoinHandle<()>>>,
    /// Where the connections' tasks hand what they read: the routing layer, held weakly so
    /// that the two do not keep each other alive.
    owner: Mutex<Option<Weak<dyn Owner>>>,
    /// The machine the node runs on: its connections' tasks run there whoever starts them.
    domain: actors::dist::rt::Domain,
    /// The partial-view overlay, when the node runs one: its sessions replace direct
    /// connections.
    overlay: std::sync::OnceLock<Arc<crate::links::Overlay>>,
}

/// The router shuts the peers down (`Router::shutdown`): nothing more to do here.
impl actors::dist::Extension for Net {}

pub(crate) use crate::transport::address;

impl Net {
    pub(crate) fn new(node: &Node, config: Config, transport: Arc<dyn Transport>) -> Self {
        let config_max_partial = config.max_partial;
        Net {
            domain: actors::dist::domain_of(node),
            node: node.downgrade(),
            id: node.id().clone(),
            config,
            transport,
            peers: Mutex::new(Peers {
                conns: HashMap::default(),
                blocked: HashSet::default(),
                failed: HashMap::default(),
                indexes: HashMap::default(),
                severed: HashMap::default(),
                apart: HashMap::default(),
                wanted: HashMap::default(),
            }),
            events: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            next_link: AtomicU64::new(1),
            partial: crate::io::PartialBudget::new(config_max_partial),
            ended_traffic: Mutex::new(Traffic::default()),
            accept_task: Mutex::new(None),
            owner: Mutex::new(None),
            overlay: std::sync::OnceLock::new(),
        }
    }

    /// This peer table, shared, while its node lives.
    pub(crate) fn myself(&self) -> Option<Arc<Net>> {
        actors::dist::extension::<Net>(&self.node.upgrade()?)
    }

    /// Runs the node's connections as sessions over a partial-view overlay.
    pub(crate) fn set_overlay(&self, overlay: Arc<crate::links::Overlay>) {
        let _ = self.overlay.set(overlay);
    }

    /// The overlay, when the node runs one.
    pub(crate) fn overlay(&self) -> Option<&Arc<crate::links::Overlay>> {
        self.overlay.get()
    }

    /// Sets where the connections' tasks hand what they read.
    pub(crate) fn set_owner(&self, owner: Weak<dyn Owner>) {
        *lock(&self.owner) = Some(owner);
    }

    /// Where the connections' tasks hand what they read, while the node lives.
    pub(crate) fn owner(&self) -> Option<Arc<dyn Owner>> {
        lock(&self.owner).as_ref()?.upgrade()
    }

    pub(crate) fn set_accept_task(&self, task: actors::rt::JoinHandle<()>) {
        *lock(&self.accept_task) = Some(task);
    }

    pub(crate) fn subscribe(&self, tx: UnboundedSender<NodeEvent>) {
        lock(&self.events).push(tx);
    }

    /// Emitted under the peers lock, so that a node's `Down` always precedes its next `Up`.
    pub(crate) fn emit(&self, event: NodeEvent) {
        #[cfg(feature = "sim")]
        actors::sim::note(format_args!("{event:?}"));
        lock(&self.events).retain(|tx| tx.unbounded_send(event.clone()).is_ok());
    }

    pub(crate) fn node_index(&self, name: &str) -> u32 {
        let mut peers = lock(&self.peers);
        let next = peers.indexes.len() as u32 + 1;
        *peers.indexes.entry(name.to_string()).or_insert(next)
    }

    /// A connection to `name` being set up, with an identity of its own.
    pub(crate) fn new_conn(&self, name: &str, side: Side) -> Arc<Conn> {
        let link = self.next_link.fetch_add(1, Ordering::Relaxed);
        Arc::new(Conn::new(name, link, side, self.config.send_limit))
    }

    /// The connected peers, sorted; on the overlay, the nodes it reaches (a session is
    /// opened to one when something is sent there).
    pub(crate) fn nodes(&self) -> Vec<String> {
        if let Some(overlay) = self.overlay() {
            return overlay.nodes_up();
        }
        let mut names: Vec<String> = lock(&self.peers)
            .conns
            .values()
            .filter(|c| c.is_up())
            .map(|c| c.name.clone())
            .collect();
        names.sort();
        names
    }

    pub(crate) fn block(&self, name: &str, on: bool) {
        let conn = {
            let mut peers = lock(&self.peers);
            if on {
                peers.blocked.insert(name.to_string());
                peers.conns.get(name).cloned()
            } else {
                peers.blocked.remove(name);
                peers.failed.remove(name);
                None
            }
        };
        if let Some(conn) = conn {
            // A block is a partition: the others are told, as of a failed link.
            self.close(&conn, "blocked", Loss::Severed);
        }
    }

    pub(crate) fn disconnect(&self, name: &str) -> bool {
        let conn = lock(&self.peers).conns.get(name).cloned();
        match conn {
            Some(conn) => {
                self.say_goodbye(&conn, "disconnected");
                true
            }
            None => false,
        }
    }

    /// Closes `conn` on purpose: the peer reads a goodbye after what was queued, so neither
    /// side takes it for a failed link.
    pub(crate) fn say_goodbye(&self, conn: &Arc<Conn>, reason: &str) {
        self.send_control(conn, &Control::Bye);
        self.close(conn, reason, Loss::Quiet);
    }

    /// Peers whose link failed and that this node has not reached since: name and creation.
    pub(crate) fn severed(&self) -> Vec<(String, u32)> {
        let mut severed: Vec<(String, u32)> = lock(&self.peers)
            .severed
            .iter()
            .map(|(n, (c, _))| (n.clone(), *c))
            .collect();
        severed.sort();
        severed
    }

    /// Keeps exactly the peers of `apart` away (by name and creation): closes their
    /// connections now, on purpose, and refuses them until they leave the set. Returns the
    /// names no longer kept apart, which are wanted again (redialled until reached).
    pub(crate) fn keep_apart(&self, apart: HashMap<String, u32>) -> Vec<String> {
        let (cut, lifted) = {
            let mut peers = lock(&self.peers);
            let lifted: Vec<String> = peers
                .apart
                .keys()
                .filter(|n| !apart.contains_key(*n))
                .cloned()
                .collect();
            let cut: Vec<Arc<Conn>> = apart
                .iter()
                .filter_map(|(name, creation)| {
                    let conn = peers.conns.get(name)?;
                    let id = conn.peer_id()?;
                    (id.creation() == *creation).then(|| conn.clone())
                })
                .collect();
            peers.apart = apart;
            // Wanted until reached: the dial that follows may fail while the network is still
            // cut, and a link closed on purpose is not one the heal loop redials otherwise.
            let now = actors::rt::now();
            for name in &lifted {
                if peers.wanted.len() < self.config.max_peers {
                    peers.wanted.entry(name.clone()).or_insert(now);
                }
            }
            (cut, lifted)
        };
        for conn in cut {
            tracing::info!(node = %self.id.name(), peer = %conn.name, "disconnecting to keep partitions clean");
            self.say_goodbye(&conn, "kept apart for clean partitions");
        }
        lifted
    }

    /// Whether `peer` is kept apart now. A peer whose own link to this node failed is not:
    /// this node is then one of those whose word keeps it apart elsewhere, and healing that
    /// link is what lifts it (two nodes that each lost the same peer would otherwise each
    /// keep it away for the other, for good).
    pub(crate) fn is_apart(&self, peers: &Peers, peer: &NodeId) -> bool {
        peers.apart.get(peer.name()) == Some(&peer.creation())
            && !peers.severed.contains_key(peer.name())
    }

    /// The identity of the connection up to `name` now, if there is one.
    pub(crate) fn link_to(&self, name: &str) -> Option<u64> {
        let peers = lock(&self.peers);
        let conn = peers.conns.get(name)?;
        conn.is_up().then_some(conn.link)
    }

    /// The creation of the run of `name` connected now, if it is.
    pub(crate) fn creation_of(&self, name: &str) -> Option<u32> {
        let peers = lock(&self.peers);
        let conn = peers.conns.get(name)?;
        conn.is_up()
            .then(|| conn.peer_id().map(|id| id.creation()))?
    }

    /// Runs `future` as a task of this node (in a simulation, on its machine).
    pub(crate) fn spawn<F>(&self, future: F) -> actors::rt::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        actors::dist::rt::spawn_in(self.domain, future)
    }

    pub(crate) fn shutdown(&self) {
        self.closing.store(true, Ordering::Release);
        if let Some(task) = lock(&self.accept_task).take() {
            self.spawn(async move {
                task.cancel().await;
            });
        }
        if let Some(overlay) = self.overlay() {
            overlay.leave();
        }
        let conns: Vec<Arc<Conn>> = lock(&self.peers).conns.values().cloned().collect();
        for conn in conns {
            self.say_goodbye(&conn, "node shutting down");
        }
        if let Some(overlay) = self.overlay() {
            // After the goodbyes have had their moment on the links.
            let overlay = overlay.clone();
            self.spawn(async move {
                actors::rt::sleep(crate::io::FAREWELL / 4).await;
                overlay.shutdown();
            });
        }
        // Ends every node-event stream, and the tasks that forward them to the servers.
        lock(&self.events).clear();
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// A connection attempt failed or ended: fail what depended on it. A link that was up
    /// and failed (`Loss::Severed`) is remembered, for clean partitions and to heal it.
    pub(crate) fn close(&self, conn: &Arc<Conn>, reason: &str, loss: Loss) {
        let was_up = conn.is_up();
        {
            let mut peers = lock(&self.peers);
            if !conn.set_down(reason, loss == Loss::Quiet) {
                return;
            }
            if was_up && loss == Loss::Quiet {
                // The writer cuts the stream once the goodbye is out; a peer that reads
                // nothing does not keep it open past the farewell time.
                let conn = conn.clone();
                self.spawn(async move {
                    actors::rt::sleep(crate::io::FAREWELL).await;
                    conn.cut();
                });
            }
            if peers
                .conns
                .get(&conn.name)
                .is_some_and(|c| Arc::ptr_eq(c, conn))
            {
                peers.conns.remove(&conn.name);
            }
            if was_up {
                tracing::info!(node = %self.id.name(), peer = %conn.name, reason, "connection lost");
                if loss == Loss::Severed
                    && !self.is_closing()
                    && let Some(id) = conn.peer_id()
                    && peers.severed.len() < self.config.max_peers
                {
                    peers
                        .severed
                        .insert(conn.name.clone(), (id.creation(), actors::rt::now()));
                }
                if self.overlay().is_none() {
                    self.emit(NodeEvent::Down(conn.name.clone()));
                }
            } else {
                let failures = peers.failed.get(&conn.name).map_or(0, |(_, n)| *n);
                peers.failed.insert(
                    conn.name.clone(),
                    (actors::rt::now(), failures.saturating_add(1)),
                );
            }
        }
        self.release(conn);
    }

    /// What has crossed every connection of this node since it started.
    pub(crate) fn traffic(&self) -> Traffic {
        let mut total = *lock(&self.ended_traffic);
        let live: Vec<Arc<Conn>> = lock(&self.peers).conns.values().cloned().collect();
        for conn in live {
            total.add(&conn.info());
        }
        total
    }

    /// Everything that crossed a lost connection ends with `NoConnection`.
    fn release(&self, conn: &Conn) {
        lock(&self.ended_traffic).add(&conn.info());
        let Some(node) = self.node.upgrade() else {
            return;
        };
        // Dropping the lookups' and spawns' senders tells their askers the connection is gone.
        lock(&conn.lookups).clear();
        lock(&conn.spawns).clear();
        lock(&conn.pings).clear();
        let pending: Vec<_> = lock(&conn.pending).drain().map(|(_, p)| p).collect();
        for call in pending {
            call.complete(&node, Err(CallError::NoConnection));
        }
        let ties = std::mem::take(&mut *lock(&conn.ties));
        for (local, remote) in ties.links {
            actors::dist::signal_local(
                &node,
                local.id(),
                Signal::Exit {
                    from: remote,
                    reason: ExitReason::NoConnection,
                    linked: true,
                },
            );
        }
        for (monitor, (watcher, pid)) in ties.watching {
            watcher.notify(Down {
                monitor_ref: MonitorRef::from_raw(monitor),
                pid,
                reason: ExitReason::NoConnection,
            });
        }
        for (_, (local_ref, pid)) in ties.watched {
            actors::dist::signal_local(&node, pid.id(), Signal::Demonitor(local_ref));
        }
    }

    pub(crate) fn send_control(&self, conn: &Conn, control: &Control) {
        let mut cbor = Vec::new();
        match actors::dist::encode(control, &mut cbor) {
            Ok(()) if 1 + cbor.len() > self.config.max_frame => {
                tracing::error!(peer = %conn.name, "a control frame of {} bytes exceeds the frame limit: not sent", cbor.len() + 1);
            }
            Ok(()) => {
                let _ = conn.enqueue(|out| frame::control(out, &cbor));
            }
            Err(e) => tracing::error!("cannot encode a control frame: {e}"),
        }
    }
}
