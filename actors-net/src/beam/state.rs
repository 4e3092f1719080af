//! What the BEAM side of a node keeps: its name and creation, its connections, the calls it
//! waits on and the monitors BEAM processes hold on its processes. Every table a peer can
//! grow has a limit.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::dist::Watcher;
use actors::etf::{Atom, ErlPid, ErlRef, Term};
use actors::{AnyPid, MonitorRef, Node, WeakNode};
use futures::channel::oneshot;

use super::conn::{Conn, Timing};
use super::epmd::Registration;

pub(crate) use crate::connection::lock;

/// How a call to a BEAM process ended, short of the caller's own timeout.
pub(crate) enum Outcome {
    /// `{Ref, Reply}` arrived.
    Reply(Term),
    /// The monitor fired: the process is gone, with this reason.
    Down(Term),
    /// The connection it went out on was lost.
    NoConnection,
}

/// A call waiting for its reply: which connection it went out on, and where the outcome goes.
pub(crate) struct Pending {
    pub(crate) conn: u64,
    pub(crate) done: oneshot::Sender<Outcome>,
}

/// This node's `global_name_server` toward BEAM nodes (the `global` module), held here
/// behind what the inbox asks of it.
pub(crate) trait GlobalServer: Send + Sync {
    /// A message to the server from `conn`'s peer.
    fn message(&self, conn: &Arc<super::conn::Conn>, message: &Term);
}

/// The limits on what peers can make this side keep.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// BEAM nodes connected at once.
    pub(crate) max_peers: usize,
    /// Monitors one peer's processes may hold on this node's processes.
    pub(crate) max_monitors_per_peer: usize,
    /// Calls from this node to BEAM processes in flight at once.
    pub(crate) max_calls: usize,
    /// Group members one BEAM node's `pg` scope may list here.
    pub(crate) max_group_members_per_peer: usize,
    /// Processes one peer's spawn requests (`erpc`, `rpc`, `spawn/4`) may run at once.
    pub(crate) max_spawned_per_peer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_peers: 256,
            max_monitors_per_peer: 100_000,
            max_calls: 100_000,
            max_group_members_per_peer: 100_000,
            max_spawned_per_peer: 10_000,
        }
    }
}

/// The BEAM side of one node.
pub(crate) struct Inner {
    /// This value itself, for work it hands to tasks of their own.
    pub(crate) this: std::sync::Weak<Inner>,
    pub(crate) node: WeakNode,
    /// `name@host`, as BEAM nodes know this node.
    pub(crate) me: Atom,
    pub(crate) creation: u32,
    /// A visible node (`erl -name`), not a hidden one.
    pub(crate) visible: bool,
    /// The port BEAM nodes connect to (EPMD tells them).
    pub(crate) port: u16,
    pub(crate) cookie: Vec<u8>,
    pub(crate) epmd_port: u16,
    pub(crate) timing: Timing,
    pub(crate) handshake_timeout: Duration,
    pub(crate) limits: Limits,
    pub(crate) peers: Mutex<HashMap<String, Arc<Conn>>>,
    /// Callers of `connect` waiting for a connection the peer is making to us.
    pub(crate) arriving: Mutex<Vec<(String, oneshot::Sender<()>)>>,
    /// One dial at a time to each node: two at once to the same node would race each other,
    /// while a node that does not answer holds up no dial to another.
    pub(crate) dialing: Mutex<HashMap<String, Arc<futures::lock::Mutex<()>>>>,
    pub(crate) calls: Mutex<HashMap<ErlRef, Pending>>,
    pub(crate) monitors: Arc<Monitors>,
    pub(crate) ties: Mutex<Ties>,
    /// Subscribers to BEAM nodes coming and going.
    pub(crate) events:
        Mutex<Vec<futures::channel::mpsc::UnboundedSender<super::dest::BeamNodeEvent>>>,
    pub(crate) registration: Mutex<Option<Registration>>,
    pub(crate) accept_task: Mutex<Option<actors::rt::JoinHandle<()>>>,
    pub(crate) closing: AtomicBool,
    /// The Rust functions BEAM nodes may call (`rpc`, `erpc`, `spawn/4`).
    pub(crate) functions: super::functions::Functions,
    /// Erlang's `global`, as this node takes part in it when visible.
    pub(crate) global: std::sync::OnceLock<Arc<dyn GlobalServer>>,
}

/// Process ids split as Erlang splits them: 15 bits of number, the rest in the serial.
const NUMBER_BITS: u32 = 15;

impl Inner {
    pub(crate) fn node(&self) -> Option<Node> {
        self.node.upgrade()
    }

    /// The pid BEAM nodes know a local process by.
    pub(crate) fn erl_pid(&self, id: u64) -> ErlPid {
        ErlPid {
            node: self.me.clone(),
            id: (id & ((1 << NUMBER_BITS) - 1)) as u32,
            serial: (id >> NUMBER_BITS) as u32,
            creation: self.creation,
        }
    }

    /// The local process id an Erlang pid names, if it names one of this run of this node.
    pub(crate) fn local_id(&self, pid: &ErlPid) -> Option<u64> {
        (pid.node == self.me && pid.creation == self.creation && pid.id < (1 << NUMBER_BITS))
            .then_some((pid.serial as u64) << NUMBER_BITS | pid.id as u64)
    }

    /// The pid that calls from Rust go out from (number 0, which no process has): replies to
    /// it are matched to their calls by reference.
    pub(crate) fn caller(&self) -> ErlPid {
        self.erl_pid(0)
    }

    /// A fresh reference of this node.
    pub(crate) fn make_ref(&self) -> ErlRef {
        let n = actors::dist::rt::unique();
        ErlRef {
            node: self.me.clone(),
            creation: self.creation,
            // Four words, where a monitor's has three: the two never meet.
            ids: vec![(n & 0x3_ffff) as u32, (n >> 18) as u32, (n >> 50) as u32, 1],
        }
    }

    /// The BEAM nodes connected now, sorted.
    pub(crate) fn nodes(&self) -> Vec<String> {
        let mut nodes: Vec<String> = lock(&self.peers)
            .iter()
            .filter(|(_, c)| !c.is_closed())
            .map(|(n, _)| n.clone())
            .collect();
        nodes.sort();
        nodes
    }

    /// BEAM nodes connecting and disconnecting, from now on.
    pub(crate) fn subscribe(
        &self,
    ) -> futures::channel::mpsc::UnboundedReceiver<super::dest::BeamNodeEvent> {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        lock(&self.events).push(tx);
        rx
    }

    pub(crate) fn emit(&self, event: super::dest::BeamNodeEvent) {
        lock(&self.events).retain(|tx| tx.unbounded_send(event.clone()).is_ok());
    }

    pub(crate) fn conn(&self, name: &str) -> Option<Arc<Conn>> {
        lock(&self.peers)
            .get(name)
            .filter(|c| !c.is_closed())
            .cloned()
    }
}

/// Monitors BEAM processes hold on local processes, by connection and reference: the
/// watched process and our monitor on it. Each connection counts its own, for its limit.
pub(crate) struct Monitors {
    table: Mutex<HashMap<(u64, ErlRef), (AnyPid, MonitorRef)>>,
    per_peer: usize,
}

impl Monitors {
    pub(crate) fn new(per_peer: usize) -> Self {
        Monitors {
            table: Mutex::new(HashMap::new()),
            per_peer,
        }
    }

    /// Takes a monitor, unless the connection holds its limit already.
    pub(crate) fn hold(
        &self,
        conn: &Conn,
        reference: ErlRef,
        target: AnyPid,
        monitor: MonitorRef,
    ) -> bool {
        let mut table = lock(&self.table);
        if conn.monitors.load(Ordering::Acquire) >= self.per_peer {
            return false;
        }
        if table
            .insert((conn.id, reference), (target, monitor))
            .is_none()
        {
            conn.monitors.fetch_add(1, Ordering::AcqRel);
        }
        true
    }

    /// Lets a monitor go (fired or demonitored): what it watched, if it was held. Exactly one
    /// of a firing and a demonitor racing each other gets it.
    pub(crate) fn release(&self, conn: &Conn, key: &(u64, ErlRef)) -> Option<(AnyPid, MonitorRef)> {
        let released = lock(&self.table).remove(key);
        if released.is_some() {
            conn.monitors.fetch_sub(1, Ordering::AcqRel);
        }
        released
    }

    /// Drops every monitor of a lost connection: what they watched.
    pub(crate) fn forget(&self, conn: &Conn) -> Vec<(AnyPid, MonitorRef)> {
        let mut table = lock(&self.table);
        let keys: Vec<_> = table
            .keys()
            .filter(|(c, _)| *c == conn.id)
            .cloned()
            .collect();
        keys.into_iter().filter_map(|k| table.remove(&k)).collect()
    }
}

/// The ties that crossed each connection, so that its loss can break them.
#[derive(Default)]
pub(crate) struct Ties {
    /// Links between a local process (by id) and a BEAM process, by connection.
    pub(crate) links: HashMap<u64, HashSet<(u64, ErlPid)>>,
    /// Monitors local watchers hold on BEAM processes: by reference, the connection, the
    /// watcher and the watched pid.
    pub(crate) watching: HashMap<ErlRef, (u64, Watcher, AnyPid)>,
}
