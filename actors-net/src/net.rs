//! A distributed node's network state: its peers, how connections are set up and torn down,
//! and what arrives on them.
//!
//! One connection per pair of nodes. A connection is reserved in the peer table the moment
//! either side wants it, under one lock: by a dial, or by the `Hello` of an incoming one. When
//! both sides dial at once, the side with the greater name keeps its own attempt, so both
//! agree on which socket survives.

use std::collections::{HashMap, HashSet};
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actors::dist::{Responder, Signal, Watcher};
use actors::rt::io::{AsyncBufReadExt, BufReader, ReadExt, WriteExt};
use actors::{CallError, Down, ExitReason, MonitorRef, Node, NodeId, WeakNode};
use futures::channel::mpsc::UnboundedSender;
use futures::channel::oneshot;

use crate::config::Config;
use crate::connection::{Conn, Origin, State, lock};
use crate::frame::{self, Control, Frame, Target};
use crate::handshake::{self, HandshakeError, Status};
use crate::node::{LookupError, NodeEvent};
use crate::transport::{Listener, Stream, Transport};

pub(crate) struct Peers {
    pub(crate) conns: HashMap<String, Arc<Conn>>,
    blocked: HashSet<String>,
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
    transport: Arc<dyn Transport>,
    pub(crate) peers: Mutex<Peers>,
    events: Mutex<Vec<UnboundedSender<NodeEvent>>>,
    closing: AtomicBool,
    accept_task: Mutex<Option<actors::rt::JoinHandle<()>>>,
    /// The actor types other nodes may spawn here, by wire name: (identity hash, spawner).
    pub(crate) spawnable: Mutex<HashMap<String, (u64, Spawner)>>,
    /// The cluster-wide registry's table, shared with the global server.
    pub(crate) global: Arc<crate::global::Shared>,
}

/// Bytes read from a connection at a time; frames that fit are parsed in place.
const READ_BUFFER: usize = 64 * 1024;

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
    fn emit(&self, event: NodeEvent) {
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
        actors::rt::spawn(dial(self.clone(), conn.clone()));
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
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// What to answer an incoming `Hello` from `peer`; reserves the connection if accepted.
    fn decide(&self, peer: &NodeId) -> (Status, Option<Arc<Conn>>) {
        let mut peers = lock(&self.peers);
        if self.is_closing() {
            return (Status::Refused("node shutting down".into()), None);
        }
        if peers.blocked.contains(peer.name()) {
            return (Status::Refused("blocked".into()), None);
        }
        match peers.conns.get(peer.name()) {
            None => {
                let conn = Arc::new(Conn::new(
                    peer.name(),
                    Origin::Accepting,
                    self.config.send_limit,
                ));
                peers.conns.insert(peer.name().to_string(), conn.clone());
                (Status::Ok, Some(conn))
            }
            Some(conn) => {
                let mut state = conn.state();
                match *state {
                    State::Connecting(Origin::Dialing) if self.id.name() > peer.name() => {
                        (Status::Nok, None)
                    }
                    State::Connecting(Origin::Dialing) => {
                        // The peer's attempt wins; ours will hear `Nok` and leave this to it.
                        *state = State::Connecting(Origin::Accepting);
                        drop(state);
                        (Status::Ok, Some(conn.clone()))
                    }
                    _ => (Status::Alive, None),
                }
            }
        }
    }

    /// Puts a handshaken stream to work for `conn`.
    fn install(self: &Arc<Self>, conn: Arc<Conn>, stream: Stream, peer: NodeId) {
        let Stream {
            reader,
            writer,
            close,
            peer: addr,
        } = stream;
        {
            let peers = lock(&self.peers);
            let current = peers.conns.get(&conn.name);
            if !current.is_some_and(|c| Arc::ptr_eq(c, &conn)) || conn.is_closed() {
                close();
                return;
            }
            // Emitted before anyone waiting in `connect` wakes: whoever subscribes after
            // `connect` returns must not see this connection's `Up`.
            self.emit(NodeEvent::Up(conn.name.clone()));
            conn.set_up(peer.clone(), close);
            tracing::info!(node = %self.id.name(), peer = %conn.name, %addr, "connected");
        }
        actors::rt::spawn(write_loop(conn.clone(), writer));
        actors::rt::spawn(read_loop(self.clone(), conn.clone(), reader));
        actors::rt::spawn(heartbeat(self.clone(), conn.clone()));
        // Tell the peer who else this node knows: it connects to them too (full mesh).
        let others: Vec<String> = self
            .nodes()
            .into_iter()
            .filter(|n| *n != conn.name)
            .collect();
        self.send_control(&conn, &Control::Peers(others));
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

    /// The pid of a process of this node that a frame names; `None` for an earlier run's.
    fn local_pid(&self, node: &Node, to: Target) -> Option<actors::AnyPid> {
        (to.creation == self.id.creation()).then(|| node.pid_of(to.id))
    }

    /// Acts on one frame from `conn`; an error closes the connection.
    fn dispatch(self: &Arc<Self>, conn: &Arc<Conn>, frame: Frame<'_>) -> Result<(), String> {
        let node = self.node.upgrade().ok_or("node gone")?;
        match frame {
            Frame::Tick => {}
            Frame::Cast {
                to,
                identity,
                payload,
            } => {
                if to.creation == self.id.creation() {
                    if let Err(e) = actors::dist::deliver(&node, to.id, identity, payload, None) {
                        if e != CallError::NoProc {
                            tracing::warn!(peer = %conn.name, "cast to process {} dropped: {e}", to.id);
                        }
                    }
                }
            }
            Frame::Call {
                to,
                identity,
                call_ref,
                payload,
            } => {
                let responder = Box::new(NetResponder {
                    conn: Arc::downgrade(conn),
                    call_ref,
                });
                if to.creation == self.id.creation() {
                    // Failures are answered to the caller by `deliver` itself.
                    let _ = actors::dist::deliver(&node, to.id, identity, payload, Some(responder));
                } else {
                    responder.fail(CallError::NoProc);
                }
            }
            Frame::Reply { call_ref, payload } => {
                let call = lock(&conn.pending).remove(&call_ref);
                if let Some(call) = call {
                    call.complete(&node, Ok(payload));
                }
            }
            Frame::Control(cbor) => {
                let control: Control = actors::wire::decode(&node, cbor)
                    .map_err(|e| format!("malformed control frame: {e}"))?;
                self.control(&node, conn, control);
            }
        }
        Ok(())
    }

    fn control(self: &Arc<Self>, node: &Node, conn: &Arc<Conn>, control: Control) {
        let gone = |sig: Signal, to: Target| {
            let stale = node.remote_pid(&NodeId::new(self.id.name(), to.creation), to.id);
            actors::dist::bounce(sig, &stale, ExitReason::NoProc);
        };
        match control {
            Control::Peers(names) => {
                for name in names {
                    if name != self.id.name() {
                        self.conn(&name);
                    }
                }
            }
            Control::Link { from, to } => match self.local_pid(node, to) {
                Some(local) => {
                    lock(&conn.ties).links.insert((local.clone(), from.clone()));
                    node.signal_local(to.id, Signal::Link(from));
                }
                None => gone(Signal::Link(from), to),
            },
            Control::Unlink { from, to } => {
                if let Some(local) = self.local_pid(node, to) {
                    lock(&conn.ties).links.remove(&(local, from.clone()));
                    node.signal_local(to.id, Signal::Unlink(from));
                }
            }
            Control::Exit {
                from,
                to,
                reason,
                linked,
            } => {
                if let Some(local) = self.local_pid(node, to) {
                    if linked {
                        lock(&conn.ties).links.remove(&(local, from.clone()));
                    }
                    node.signal_local(
                        to.id,
                        Signal::Exit {
                            from,
                            reason,
                            linked,
                        },
                    );
                }
            }
            Control::Stop { to, reason } => {
                if self.local_pid(node, to).is_some() {
                    node.signal_local(to.id, Signal::Stop(reason));
                }
            }
            Control::Kill { to } => {
                if self.local_pid(node, to).is_some() {
                    node.signal_local(to.id, Signal::Kill);
                }
            }
            Control::Monitor { to, monitor } => {
                let local_ref = node.make_ref();
                let weak = Arc::downgrade(conn);
                let net = Arc::downgrade(self);
                let watcher = Watcher::callback(move |down: Down| {
                    if let (Some(conn), Some(net)) = (weak.upgrade(), net.upgrade()) {
                        lock(&conn.ties).watched.remove(&monitor);
                        net.send_control(
                            &conn,
                            &Control::Down {
                                monitor,
                                reason: down.reason,
                            },
                        );
                    }
                });
                match self.local_pid(node, to) {
                    Some(local) => {
                        lock(&conn.ties).watched.insert(monitor, (local_ref, local));
                        node.signal_local(to.id, Signal::Monitor(local_ref, watcher));
                    }
                    None => gone(Signal::Monitor(local_ref, watcher), to),
                }
            }
            Control::Demonitor { to, monitor } => {
                let held = lock(&conn.ties).watched.remove(&monitor);
                if let (Some((local_ref, _)), true) = (held, to.creation == self.id.creation()) {
                    node.signal_local(to.id, Signal::Demonitor(local_ref));
                }
            }
            Control::WhereIs { name, request } => {
                let pid = node.whereis_any(&name);
                self.send_control(conn, &Control::WhereIsReply { request, pid });
            }
            Control::WhereIsReply { request, pid } => {
                if let Some(tx) = lock(&conn.lookups).remove(&request) {
                    let _ = tx.send(pid);
                }
            }
            Control::Spawn {
                request,
                actor,
                identity,
                state,
                link,
            } => {
                let found = lock(&self.spawnable).get(&actor).cloned();
                let result = match found {
                    None => Err(format!(
                        "{actor} may not be spawned on {} (see allow_spawn)",
                        self.id.name()
                    )),
                    Some((known, _)) if known != identity => Err(format!(
                        "{actor} differs between the two nodes (another version of it)"
                    )),
                    Some((_, spawner)) => spawner(node, &state, link.clone()),
                };
                if let (Ok(child), Some(parent)) = (&result, link) {
                    lock(&conn.ties).links.insert((child.clone(), parent));
                }
                self.send_control(conn, &Control::Spawned { request, result });
            }
            Control::Spawned { request, result } => {
                if let Some(tx) = lock(&conn.spawns).remove(&request) {
                    let _ = tx.send(result);
                }
            }
            Control::Down { monitor, reason } => {
                let held = lock(&conn.ties).watching.remove(&monitor);
                if let Some((watcher, pid)) = held {
                    watcher.notify(Down {
                        monitor_ref: MonitorRef::from_raw(monitor),
                        pid,
                        reason,
                    });
                }
            }
        }
    }

    pub(crate) async fn accept_loop(self: Arc<Self>, listener: Box<dyn Listener>) {
        while !self.is_closing() && self.node.upgrade().is_some() {
            match listener.accept().await {
                Ok(stream) => {
                    actors::rt::spawn(incoming(self.clone(), stream));
                }
                Err(e) => {
                    tracing::warn!(node = %self.id.name(), "accept failed: {e}");
                    actors::rt::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// The callee's side of a call from another node: the reply goes back on the connection.
struct NetResponder {
    conn: std::sync::Weak<Conn>,
    call_ref: u64,
}

impl NetResponder {
    fn fail(self: Box<Self>, err: CallError) {
        let mut payload = Vec::new();
        let reply: Result<(), CallError> = Err(err);
        if actors::wire::encode(&reply, &mut payload).is_ok() {
            self.respond(payload);
        }
    }
}

impl Responder for NetResponder {
    fn respond(self: Box<Self>, payload: Vec<u8>) {
        if let Some(conn) = self.conn.upgrade() {
            let _ = conn.enqueue(|out| frame::reply(out, self.call_ref, &payload));
        }
    }
}

async fn dial(net: Arc<Net>, conn: Arc<Conn>) {
    let Some(addr) = address(&conn.name) else {
        net.close(&conn, "no address in the node name");
        return;
    };
    let attempt = async {
        let mut stream = net
            .transport
            .dial(addr)
            .await
            .map_err(HandshakeError::from)?;
        let peer =
            handshake::initiate(&mut stream, &net.id, &net.config.cookie, &conn.name).await?;
        Ok::<_, HandshakeError>((stream, peer))
    };
    let result = actors::rt::timeout(net.config.handshake_timeout, attempt).await;
    // The connection may meanwhile be carried by the peer's own attempt: a failure of this
    // one then matters no more.
    let superseded = || !matches!(*conn.state(), State::Connecting(Origin::Dialing));
    match result {
        Ok(Ok((stream, peer))) => net.install(conn, stream, peer.id),
        Ok(Err(HandshakeError::Lost)) => {
            // The peer's own attempt is the one to use; give it the handshake time.
            actors::rt::sleep(net.config.handshake_timeout).await;
            if !conn.is_up() {
                net.close(&conn, "simultaneous connect did not complete");
            }
        }
        Ok(Err(e)) if superseded() => {
            tracing::debug!(node = %net.id.name(), peer = %conn.name, "superseded attempt ended: {e}");
        }
        Ok(Err(e)) => {
            tracing::warn!(node = %net.id.name(), peer = %conn.name, "connection to {} rejected: {e}", conn.name);
            net.close(&conn, &e.to_string());
        }
        Err(_) if superseded() => {}
        Err(_) => {
            tracing::warn!(node = %net.id.name(), peer = %conn.name, "connection to {} timed out", conn.name);
            net.close(&conn, "connect timed out");
        }
    }
}

async fn incoming(net: Arc<Net>, mut stream: Stream) {
    let mut reserved = None;
    let result = actors::rt::timeout(
        net.config.handshake_timeout,
        handshake::accept(&mut stream, &net.id, &net.config.cookie, |peer| {
            let (status, conn) = net.decide(peer);
            reserved = conn;
            status
        }),
    )
    .await;
    match result {
        Ok(Ok(peer)) => match reserved {
            Some(conn) => net.install(conn, stream, peer.id),
            None => (stream.close)(),
        },
        Ok(Err(HandshakeError::Lost | HandshakeError::Alive)) => (stream.close)(),
        Ok(Err(e)) => {
            tracing::warn!(node = %net.id.name(), from = %stream.peer, "connection from {} rejected: {e}", stream.peer);
            (stream.close)();
            if let Some(conn) = reserved {
                net.close(&conn, &e.to_string());
            }
        }
        Err(_) => {
            tracing::warn!(node = %net.id.name(), from = %stream.peer, "connection from {} rejected: handshake timed out", stream.peer);
            (stream.close)();
            if let Some(conn) = reserved {
                net.close(&conn, "handshake timed out");
            }
        }
    }
}

async fn write_loop(
    conn: Arc<Conn>,
    mut writer: Box<dyn actors::rt::io::AsyncWrite + Send + Unpin>,
) {
    let mut batch = Vec::new();
    let mut wrote = false;
    loop {
        if wrote && conn.queued() == 0 {
            // Senders are likely still sending: going round the executor once is far cheaper
            // than parking and being woken for the next frame.
            actors::rt::yield_now().await;
        }
        if poll_fn(|cx| conn.poll_batch(cx, &mut batch))
            .await
            .is_none()
        {
            return;
        }
        if writer.write_all(&batch).await.is_err() || writer.flush().await.is_err() {
            // The reader sees the same failure and closes the connection with its reason.
            return;
        }
        conn.batch_written();
        wrote = true;
        // A burst leaves a large buffer behind: do not keep it while idle.
        if batch.capacity() > 1 << 20 {
            batch = Vec::new();
        }
    }
}

async fn read_loop(
    net: Arc<Net>,
    conn: Arc<Conn>,
    reader: Box<dyn actors::rt::io::AsyncRead + Send + Unpin>,
) {
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let mut body = Vec::new();
    let reason = loop {
        let mut len = [0u8; frame::LEN];
        if let Err(e) = reader.read_exact(&mut len).await {
            break format!("read failed: {e}");
        }
        let len = match frame::body_len(len, net.config.max_frame) {
            Ok(len) => len,
            Err(e) => break e.to_string(),
        };
        // A frame already in the read buffer is parsed where it lies; a larger one is read
        // into `body`, bounded by the frame limit.
        let in_place = match reader.fill_buf().await {
            Ok(buffered) => buffered.len() >= len,
            Err(e) => break format!("read failed: {e}"),
        };
        let result = if in_place {
            let buffered = reader.buffer();
            conn.mark_recv();
            let result = frame::parse(&buffered[..len])
                .map_err(|e| e.to_string())
                .and_then(|frame| net.dispatch(&conn, frame));
            reader.consume_unpin(len);
            result
        } else {
            body.resize(len, 0);
            if let Err(e) = reader.read_exact(&mut body).await {
                break format!("read failed: {e}");
            }
            conn.mark_recv();
            let result = frame::parse(&body)
                .map_err(|e| e.to_string())
                .and_then(|frame| net.dispatch(&conn, frame));
            if body.capacity() > 1 << 20 {
                body = Vec::new();
            }
            result
        };
        if let Err(e) = result {
            break e;
        }
    };
    if !conn.is_closed() {
        tracing::warn!(node = %net.id.name(), peer = %conn.name, "closing the connection to {}: {reason}", conn.name);
    }
    net.close(&conn, &reason);
}

/// Sends a tick when nothing else went out for an interval; declares the peer down when
/// nothing came in for `misses` intervals.
async fn heartbeat(net: Arc<Net>, conn: Arc<Conn>) {
    let interval = net.config.heartbeat_interval;
    let misses = net.config.heartbeat_misses;
    let (mut received, mut written) = conn.traffic();
    let mut silent = 0;
    loop {
        actors::rt::sleep(interval).await;
        if conn.is_closed() {
            return;
        }
        let (now_received, now_written) = conn.traffic();
        if now_received == received {
            silent += 1;
            if silent >= misses {
                tracing::warn!(node = %net.id.name(), peer = %conn.name, "no traffic from {} for {silent} intervals of {interval:?}: declaring it down", conn.name);
                net.close(&conn, "heartbeat timeout");
                return;
            }
        } else {
            silent = 0;
            received = now_received;
        }
        if now_written == written {
            let _ = conn.enqueue(frame::tick);
        }
        written = now_written;
        conn.sweep_abandoned_calls();
    }
}
