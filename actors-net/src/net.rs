//! A distributed node's network state: its peer table, and how connections are found,
//! closed, and what depended on them released. Setting them up is in `setup`, what arrives on
//! them in `dispatch`, their tasks in `io`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actors::dist::Signal;
use actors::{CallError, Down, ExitReason, MonitorRef, Node, NodeId, WeakNode};
use futures::channel::mpsc::UnboundedSender;
use futures::channel::oneshot;

use crate::config::Config;
use crate::connection::{Conn, Origin, lock};
use crate::frame::{self, Control};
use crate::node::{LookupError, NodeEvent};
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

/// Starts a process of one actor type from its encoded state, maybe linked to a parent.
pub(crate) type Spawner = Arc<
    dyn Fn(&Node, &[u8], Option<actors::AnyPid>) -> Result<actors::AnyPid, String> + Send + Sync,
>;

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
    accept_task: Mutex<Option<actors::rt::JoinHandle<()>>>,
    /// The actor types other nodes may spawn here, by wire name: (identity hash, spawner).
    pub(crate) spawnable: Mutex<HashMap<String, (u64, Spawner)>>,
    /// The cluster-wide registry's table, shared with the global server.
    pub(crate) global: Arc<crate::global::Shared>,
    /// The process-group scopes running here, by name, each shared with its server.
    pub(crate) scopes: Mutex<HashMap<String, Arc<crate::groups::Shared>>>,
    /// The supervisor of the services this node runs by itself.
    pub(crate) system: Mutex<Option<actors::Pid<actors::supervisor::Supervisor>>>,
}

/// After a failed attempt, how long sends to that node fail at once instead of dialling again;
/// doubled with each failure in a row, up to `RETRY_CEILING`.
const RETRY_AFTER: Duration = Duration::from_millis(200);
const RETRY_CEILING: Duration = Duration::from_secs(5);

/// How long a node keeps trying to reach a peer whose link failed.
const HEAL_FOR: Duration = Duration::from_secs(300);

/// How often the healer looks for severed peers to dial again.
const HEAL_EVERY: Duration = Duration::from_millis(500);

fn retry_after(failures: u32) -> Duration {
    RETRY_AFTER
        .saturating_mul(1 << failures.saturating_sub(1).min(8))
        .min(RETRY_CEILING)
}

/// The `host:port` a node name carries.
pub(crate) fn address(name: &str) -> Option<&str> {
    let (_, addr) = name.rsplit_once('@')?;
    addr.rsplit_once(':')?.1.parse::<u16>().ok()?;
    Some(addr)
}

impl Net {
    pub(crate) fn new(node: &Node, config: Config, transport: Arc<dyn Transport>) -> Self {
        let config_clean_partitions = config.clean_partitions;
        let config_max_partial = config.max_partial;
        let config_global_limits = config.global_limits;
        Net {
            node: node.downgrade(),
            id: node.id().clone(),
            config,
            transport,
            peers: Mutex::new(Peers {
                conns: HashMap::new(),
                blocked: HashSet::new(),
                failed: HashMap::new(),
                indexes: HashMap::new(),
                severed: HashMap::new(),
                apart: HashMap::new(),
            }),
            events: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            next_link: AtomicU64::new(1),
            partial: crate::io::PartialBudget::new(config_max_partial),
            accept_task: Mutex::new(None),
            spawnable: Mutex::new(HashMap::new()),
            global: crate::global::Shared::new(config_clean_partitions, config_global_limits),
            scopes: Mutex::new(HashMap::new()),
            system: Mutex::new(None),
        }
    }

    /// Asks `node` to start a process of actor type `actor` from `state`.
    pub(crate) async fn spawn_remote(
        self: &Arc<Self>,
        node: &str,
        actor: &str,
        identity: u64,
        state: Vec<u8>,
        link: Option<actors::AnyPid>,
    ) -> Result<actors::AnyPid, crate::spawn::SpawnError> {
        use crate::spawn::SpawnError;
        let conn = self
            .conn(node)
            .ok_or_else(|| SpawnError::NoConnection(node.to_string()))?;
        let (tx, rx) = oneshot::channel();
        let request = conn.next_call_ref();
        lock(&conn.spawns).insert(request, tx);
        self.send_control(
            &conn,
            &Control::Spawn {
                request,
                actor: actor.to_string(),
                identity,
                state: serde_bytes::ByteBuf::from(state),
                link,
            },
        );
        match rx.await {
            Ok(Ok(pid)) => Ok(pid),
            Ok(Err(why)) => Err(SpawnError::Refused(why)),
            Err(_) => Err(SpawnError::NoConnection(node.to_string())),
        }
    }

    pub(crate) fn set_accept_task(&self, task: actors::rt::JoinHandle<()>) {
        *lock(&self.accept_task) = Some(task);
    }

    /// Asks `node` which process is registered there as `name`.
    pub(crate) async fn lookup(
        self: &Arc<Self>,
        node: &str,
        name: &str,
    ) -> Result<Option<actors::AnyPid>, LookupError> {
        let no_connection = || LookupError::NoConnection(node.to_string());
        let conn = self.conn(node).ok_or_else(no_connection)?;
        let (tx, rx) = oneshot::channel();
        let request = conn.next_call_ref();
        lock(&conn.lookups).insert(request, tx);
        self.send_control(
            &conn,
            &Control::WhereIs {
                name: name.to_string(),
                request,
            },
        );
        match actors::rt::timeout(self.config.handshake_timeout, rx).await {
            Ok(Ok(pid)) => Ok(pid),
            _ => {
                lock(&conn.lookups).remove(&request);
                Err(no_connection())
            }
        }
    }

    pub(crate) fn subscribe(&self, tx: UnboundedSender<NodeEvent>) {
        lock(&self.events).push(tx);
    }

    /// Emitted under the peers lock, so that a node's `Down` always precedes its next `Up`.
    pub(crate) fn emit(&self, event: NodeEvent) {
        lock(&self.events).retain(|tx| tx.unbounded_send(event.clone()).is_ok());
    }

    pub(crate) fn node_index(&self, name: &str) -> u32 {
        let mut peers = lock(&self.peers);
        let next = peers.indexes.len() as u32 + 1;
        *peers.indexes.entry(name.to_string()).or_insert(next)
    }

    /// The connection to `name`, dialling it if there is none (lazy connect). Shortly after a
    /// failed attempt, sends fail at once rather than dial again.
    pub(crate) fn conn(self: &Arc<Self>, name: &str) -> Option<Arc<Conn>> {
        self.conn_or_dial(name, false)
    }

    /// The connection to `name`; `explicit` dials even right after a failed attempt, and
    /// a peer kept apart.
    pub(crate) fn conn_or_dial(self: &Arc<Self>, name: &str, explicit: bool) -> Option<Arc<Conn>> {
        let mut peers = lock(&self.peers);
        if let Some(c) = peers.conns.get(name) {
            return Some(c.clone());
        }
        if self.closing.load(Ordering::Acquire)
            || name == self.id.name()
            || peers.blocked.contains(name)
            || address(name).is_none()
            || peers.conns.len() >= self.config.max_peers
            || (!explicit
                && ((peers.apart.contains_key(name) && !peers.severed.contains_key(name))
                    || peers
                        .failed
                        .get(name)
                        .is_some_and(|(t, n)| t.elapsed() < retry_after(*n))))
        {
            return None;
        }
        let conn = self.new_conn(name, Origin::Dialing);
        peers.conns.insert(name.to_string(), conn.clone());
        drop(peers);
        actors::rt::spawn(crate::setup::dial(self.clone(), conn.clone()));
        Some(conn)
    }

    /// A connection to `name` being set up, with an identity of its own.
    pub(crate) fn new_conn(&self, name: &str, origin: Origin) -> Arc<Conn> {
        let link = self.next_link.fetch_add(1, Ordering::Relaxed);
        Arc::new(Conn::new(name, link, origin, self.config.send_limit))
    }

    /// The connection to the node of `pid`, remembered in the pid for its next sends.
    pub(crate) fn conn_for(self: &Arc<Self>, pid: &actors::AnyPid) -> Option<Arc<Conn>> {
        if let Some(hint) = actors::dist::route_hint(pid) {
            if let Ok(conn) = hint.downcast::<Conn>() {
                if !conn.is_closed() {
                    return Some(conn);
                }
            }
        }
        let conn = self.conn(pid.node())?;
        actors::dist::set_route_hint(pid, conn.clone());
        Some(conn)
    }

    /// The connected peers, sorted.
    pub(crate) fn nodes(&self) -> Vec<String> {
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
    /// names no longer kept apart.
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

    /// Dials the peers whose link failed, each at most every few seconds, until they are
    /// reached again or `HEAL_FOR` has passed: a link that failed for a moment heals by
    /// itself, and a partition heals once the network does.
    pub(crate) async fn heal_loop(self: Arc<Self>) {
        loop {
            actors::rt::sleep(HEAL_EVERY).await;
            if self.is_closing() || self.node.upgrade().is_none() {
                return;
            }
            let due: Vec<String> = {
                let mut peers = lock(&self.peers);
                peers
                    .severed
                    .retain(|_, (_, since)| since.elapsed() < HEAL_FOR);
                peers
                    .severed
                    .keys()
                    .filter(|n| !peers.conns.contains_key(*n))
                    .cloned()
                    .collect()
            };
            for name in due {
                self.conn(&name);
            }
        }
    }

    pub(crate) fn shutdown(&self) {
        self.closing.store(true, Ordering::Release);
        if let Some(task) = lock(&self.accept_task).take() {
            actors::rt::spawn(async move {
                task.cancel().await;
            });
        }
        let conns: Vec<Arc<Conn>> = lock(&self.peers).conns.values().cloned().collect();
        for conn in conns {
            self.say_goodbye(&conn, "node shutting down");
        }
        // Registered pids and the servers' own lead back to the node: let go of them, so
        // that a node that was shut down and dropped is freed.
        self.global.clear();
        lock(&self.scopes).clear();
        lock(&self.system).take();
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
                actors::rt::spawn(async move {
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
                if loss == Loss::Severed && !self.is_closing() {
                    if let Some(id) = conn.peer_id() {
                        if peers.severed.len() < self.config.max_peers {
                            peers
                                .severed
                                .insert(conn.name.clone(), (id.creation(), Instant::now()));
                        }
                    }
                }
                self.emit(NodeEvent::Down(conn.name.clone()));
            } else {
                let failures = peers.failed.get(&conn.name).map_or(0, |(_, n)| *n);
                peers.failed.insert(
                    conn.name.clone(),
                    (Instant::now(), failures.saturating_add(1)),
                );
            }
        }
        self.release(conn);
    }

    /// Everything that crossed a lost connection ends with `NoConnection`.
    fn release(&self, conn: &Conn) {
        let Some(node) = self.node.upgrade() else {
            return;
        };
        // Dropping the lookups' and spawns' senders tells their askers the connection is gone.
        lock(&conn.lookups).clear();
        lock(&conn.spawns).clear();
        let pending: Vec<_> = lock(&conn.pending).drain().map(|(_, p)| p).collect();
        for call in pending {
            call.complete(&node, Err(CallError::NoConnection));
        }
        let ties = std::mem::take(&mut *lock(&conn.ties));
        for (local, remote) in ties.links {
            node.signal_local(
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
            node.signal_local(pid.id(), Signal::Demonitor(local_ref));
        }
    }

    pub(crate) fn send_control(&self, conn: &Conn, control: &Control) {
        let mut cbor = Vec::new();
        match actors::wire::encode(control, &mut cbor) {
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
