//! A distributed node's network state: its peer table, and how connections are found,
//! closed, and what depended on them released. Setting them up is in `setup`, what arrives on
//! them in `dispatch`, their tasks in `io`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// When the last attempt to reach a node failed: sends fail fast for a moment after.
    failed: HashMap<String, Instant>,
    indexes: HashMap<String, u32>,
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
    accept_task: Mutex<Option<actors::rt::JoinHandle<()>>>,
    /// The actor types other nodes may spawn here, by wire name: (identity hash, spawner).
    pub(crate) spawnable: Mutex<HashMap<String, (u64, Spawner)>>,
    /// The cluster-wide registry's table, shared with the global server.
    pub(crate) global: Arc<crate::global::Shared>,
    /// The process-group scopes running here, by name, each shared with its server.
    pub(crate) scopes: Mutex<HashMap<String, Arc<crate::groups::Shared>>>,
}

/// After a failed attempt, how long sends to that node fail at once instead of dialling again.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// The `host:port` a node name carries.
pub(crate) fn address(name: &str) -> Option<&str> {
    let (_, addr) = name.rsplit_once('@')?;
    addr.rsplit_once(':')?.1.parse::<u16>().ok()?;
    Some(addr)
}

impl Net {
    pub(crate) fn new(node: &Node, config: Config, transport: Arc<dyn Transport>) -> Self {
        let config_clean_partitions = config.clean_partitions;
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
            }),
            events: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            accept_task: Mutex::new(None),
            spawnable: Mutex::new(HashMap::new()),
            global: crate::global::Shared::new(config_clean_partitions),
            scopes: Mutex::new(HashMap::new()),
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

    /// The connection to `name`; `explicit` dials even right after a failed attempt.
    pub(crate) fn conn_or_dial(self: &Arc<Self>, name: &str, explicit: bool) -> Option<Arc<Conn>> {
        let mut peers = lock(&self.peers);
        if let Some(c) = peers.conns.get(name) {
            return Some(c.clone());
        }
        if self.closing.load(Ordering::Acquire)
            || name == self.id.name()
            || peers.blocked.contains(name)
            || address(name).is_none()
            || (!explicit
                && peers
                    .failed
                    .get(name)
                    .is_some_and(|t| t.elapsed() < RETRY_AFTER))
        {
            return None;
        }
        let conn = Arc::new(Conn::new(name, Origin::Dialing, self.config.send_limit));
        peers.conns.insert(name.to_string(), conn.clone());
        drop(peers);
        actors::rt::spawn(crate::setup::dial(self.clone(), conn.clone()));
        Some(conn)
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
            self.close(&conn, "blocked");
        }
    }

    pub(crate) fn disconnect(&self, name: &str) -> bool {
        let conn = lock(&self.peers).conns.get(name).cloned();
        match conn {
            Some(conn) => {
                self.close(&conn, "disconnected");
                true
            }
            None => false,
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
            self.close(&conn, "node shutting down");
        }
        // Registered pids and the servers' own lead back to the node: let go of them, so
        // that a node that was shut down and dropped is freed.
        self.global.clear();
        lock(&self.scopes).clear();
        // Ends every node-event stream, and the tasks that forward them to the servers.
        lock(&self.events).clear();
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// A connection attempt failed or ended: fail what depended on it.
    pub(crate) fn close(&self, conn: &Arc<Conn>, reason: &str) {
        let was_up = conn.is_up();
        {
            let mut peers = lock(&self.peers);
            if !conn.set_down(reason) {
                return;
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
                self.emit(NodeEvent::Down(conn.name.clone()));
            } else {
                peers.failed.insert(conn.name.clone(), Instant::now());
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
            Ok(()) => {
                let _ = conn.enqueue(|out| frame::control(out, &cbor));
            }
            Err(e) => tracing::error!("cannot encode a control frame: {e}"),
        }
    }
}
