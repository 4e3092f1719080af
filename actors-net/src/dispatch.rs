//! The routing layer, inbound: messages delivered to local processes, replies to calls, and
//! control frames (links, monitors, exits, lookups, spawns, peer lists). Also the requests
//! that travel as control frames and wait for their answer: `{Name, Node}` lookups and
//! remote spawns, and the actor types this node lets others spawn.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actors::dist::{Origin, Responder, Signal, Watcher};
use actors::{Actor, AnyPid, CallError, Down, ExitReason, MonitorRef, Node, NodeId, Pid};
use futures::channel::oneshot;
use serde::Serialize;

use crate::config::Config;
use crate::connection::{Conn, lock};
use crate::frame::{self, Control, Frame, Target};
use crate::io::{Owner, PartialBudget};
use crate::net::{Loss, Net};

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

/// Why a process could not be started on another node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// This node is not distributed, or the other node cannot be reached.
    #[error("no connection to {0}")]
    NoConnection(String),
    /// The actor's state could not be encoded.
    #[error("cannot encode the actor's state: {0}")]
    Encode(String),
    /// The other node refused: it does not allow this actor type, has another version of it,
    /// or could not decode the state.
    #[error("refused: {0}")]
    Refused(String),
}

/// Starts a process of one actor type from its encoded state, maybe linked to a parent.
pub(crate) type Spawner =
    Arc<dyn Fn(&Node, &[u8], Option<AnyPid>) -> Result<AnyPid, String> + Send + Sync>;

/// The routing layer of a node, attached to it as an extension.
pub(crate) struct Routing {
    pub(crate) net: Arc<Net>,
    /// The actor types other nodes may spawn here, by wire name: (identity hash, spawner).
    spawnable: Mutex<HashMap<String, (u64, Spawner)>>,
}

impl actors::dist::Extension for Routing {}

impl Owner for Routing {
    fn node_name(&self) -> &str {
        self.net.id.name()
    }
    fn config(&self) -> &Config {
        &self.net.config
    }
    fn budget(&self) -> &PartialBudget {
        &self.net.partial
    }
    fn frame(&self, conn: &Arc<Conn>, origin: &Origin, frame: Frame<'_>) -> Result<(), String> {
        self.dispatch(conn, origin, frame)
    }
    fn failed(&self, conn: &Arc<Conn>, reason: &str) {
        self.net.close(conn, reason, Loss::Severed)
    }
}

impl Routing {
    pub(crate) fn new(net: Arc<Net>) -> Self {
        Routing {
            net,
            spawnable: Mutex::new(HashMap::new()),
        }
    }

    /// The routing layer of `node`, if it is distributed.
    pub(crate) fn of(node: &Node) -> Option<Arc<Routing>> {
        actors::dist::extension::<Routing>(node)
    }

    /// Lets other nodes start processes of actor type `A` here.
    pub(crate) fn allow_spawn<A: Actor + Serialize + serde::de::DeserializeOwned>(&self) {
        let spawner: Spawner = Arc::new(|node: &Node, state: &[u8], link| {
            let actor: A = actors::wire::decode(node, state).map_err(|e| e.to_string())?;
            Ok(match link {
                Some(parent) => node.spawn_linked_to(actor, parent).any(),
                None => node.spawn(actor).any(),
            })
        });
        let identity = A::IDENTITY;
        lock(&self.spawnable).insert(identity.name.to_string(), (identity.hash, spawner));
    }

    /// Starts `actor` on node `on`, maybe linked to `link` from its first moment.
    pub(crate) async fn spawn_on<A: Actor + Serialize>(
        &self,
        on: &str,
        actor: A,
        link: Option<AnyPid>,
    ) -> Result<Pid<A>, SpawnError> {
        let mut state = Vec::new();
        actors::wire::encode(&actor, &mut state).map_err(|e| SpawnError::Encode(e.to_string()))?;
        let identity = A::IDENTITY;
        let net = &self.net;
        let conn = net
            .conn(on)
            .ok_or_else(|| SpawnError::NoConnection(on.to_string()))?;
        let (tx, rx) = oneshot::channel();
        let request = conn.next_call_ref();
        lock(&conn.spawns).insert(request, tx);
        net.send_control(
            &conn,
            &Control::Spawn {
                request,
                actor: identity.name.to_string(),
                identity: identity.hash,
                state: serde_bytes::ByteBuf::from(state),
                link,
            },
        );
        let pid = match rx.await {
            Ok(Ok(pid)) => pid,
            Ok(Err(why)) => return Err(SpawnError::Refused(why)),
            Err(_) => return Err(SpawnError::NoConnection(on.to_string())),
        };
        pid.downcast()
            .ok_or_else(|| SpawnError::Refused("the new process is of another actor type".into()))
    }

    /// Asks `node` which process is registered there as `name`.
    pub(crate) async fn lookup(
        &self,
        node: &str,
        name: &str,
    ) -> Result<Option<AnyPid>, LookupError> {
        let net = &self.net;
        let no_connection = || LookupError::NoConnection(node.to_string());
        let conn = net.conn(node).ok_or_else(no_connection)?;
        let (tx, rx) = oneshot::channel();
        let request = conn.next_call_ref();
        lock(&conn.lookups).insert(request, tx);
        net.send_control(
            &conn,
            &Control::WhereIs {
                name: name.to_string(),
                request,
            },
        );
        match actors::rt::timeout(net.config.handshake_timeout, rx).await {
            Ok(Ok(pid)) => Ok(pid),
            _ => {
                lock(&conn.lookups).remove(&request);
                Err(no_connection())
            }
        }
    }

    /// The pid of a process of this node that a frame names; `None` for an earlier run's.
    fn local_pid(&self, node: &Node, to: Target) -> Option<AnyPid> {
        (to.creation == self.net.id.creation()).then(|| actors::dist::pid_of(node, to.id))
    }

    /// Acts on one frame from `conn`; an error closes the connection.
    fn dispatch(&self, conn: &Arc<Conn>, origin: &Origin, frame: Frame<'_>) -> Result<(), String> {
        let net = &self.net;
        let node = net.node.upgrade().ok_or("node gone")?;
        match frame {
            Frame::Tick => {}
            Frame::Cast {
                to,
                identity,
                payload,
            } => {
                if to.creation == net.id.creation() {
                    if let Err(e) =
                        actors::dist::deliver(&node, to.id, identity, payload, None, origin)
                    {
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
                    max_frame: net.config.max_frame,
                });
                if to.creation == net.id.creation() {
                    // Failures are answered to the caller by `deliver` itself.
                    let _ = actors::dist::deliver(
                        &node,
                        to.id,
                        identity,
                        payload,
                        Some(responder),
                        origin,
                    );
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

    fn control(&self, node: &Node, conn: &Arc<Conn>, control: Control) {
        let net = &self.net;
        let gone = |sig: Signal, to: Target| {
            let stale =
                actors::dist::remote_pid(node, &NodeId::new(net.id.name(), to.creation), to.id);
            actors::dist::bounce(sig, &stale, ExitReason::NoProc);
        };
        match control {
            Control::Peers(names) => net.join_peers(names),
            Control::Bye => net.close(conn, "the peer said goodbye", Loss::Quiet),
            Control::Link { from, to } => match self.local_pid(node, to) {
                Some(local) => {
                    lock(&conn.ties).links.insert((local.clone(), from.clone()));
                    actors::dist::signal_local(node, to.id, Signal::Link(from));
                }
                None => gone(Signal::Link(from), to),
            },
            Control::Unlink { from, to } => {
                if let Some(local) = self.local_pid(node, to) {
                    lock(&conn.ties).links.remove(&(local, from.clone()));
                    actors::dist::signal_local(node, to.id, Signal::Unlink(from));
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
                    actors::dist::signal_local(
                        node,
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
                    actors::dist::signal_local(node, to.id, Signal::Stop(reason));
                }
            }
            Control::Kill { to } => {
                if self.local_pid(node, to).is_some() {
                    actors::dist::signal_local(node, to.id, Signal::Kill);
                }
            }
            Control::Monitor { to, monitor } => {
                let local_ref = node.make_ref();
                let weak = Arc::downgrade(conn);
                let net = Arc::downgrade(net);
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
                        actors::dist::signal_local(
                            node,
                            to.id,
                            Signal::Monitor(local_ref, watcher),
                        );
                    }
                    None => gone(Signal::Monitor(local_ref, watcher), to),
                }
            }
            Control::Demonitor { to, monitor } => {
                let held = lock(&conn.ties).watched.remove(&monitor);
                if let (Some((local_ref, _)), true) = (held, to.creation == net.id.creation()) {
                    actors::dist::signal_local(node, to.id, Signal::Demonitor(local_ref));
                }
            }
            Control::WhereIs { name, request } => {
                let pid = node.whereis_any(&name);
                net.send_control(conn, &Control::WhereIsReply { request, pid });
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
                        net.id.name()
                    )),
                    Some((known, _)) if known != identity => Err(format!(
                        "{actor} differs between the two nodes (another version of it)"
                    )),
                    Some((_, spawner)) => spawner(node, &state, link.clone()),
                };
                if let (Ok(child), Some(parent)) = (&result, link) {
                    lock(&conn.ties).links.insert((child.clone(), parent));
                }
                net.send_control(conn, &Control::Spawned { request, result });
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
}

/// The callee's side of a call from another node: the reply goes back on the connection.
struct NetResponder {
    conn: std::sync::Weak<Conn>,
    call_ref: u64,
    max_frame: usize,
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
        let Some(conn) = self.conn.upgrade() else {
            return;
        };
        let size = 1 + 8 + payload.len();
        if size > self.max_frame {
            // The reply cannot cross: the caller learns why, and the connection carries on.
            let max = self.max_frame;
            return self.fail(CallError::Wire(actors::WireError::TooLarge { size, max }));
        }
        let _ = conn.enqueue(|out| frame::reply(out, self.call_ref, &payload));
    }
}
