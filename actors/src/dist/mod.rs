//! The seam for distribution layers (`actors-net`): what a distribution layer attaches to a
//! node (its router, and state of its own, one value per type, each told when the node
//! shuts down), routing, signals, delivery of traffic that crossed the wire, and the glue
//! between Erlang terms and calls. Applications do not need it.

mod inbound;
pub(crate) mod terms;

use std::any::Any;
use std::sync::Arc;

use crate::id::NodeId;
use crate::kernel::node::Node;
use crate::kernel::pid::{AnyPid, AnyRoute, RemoteAddr};

pub use crate::cbor::{decode_plain, encode};
pub use crate::decoding::decode;
pub use crate::extension::Extension;
pub use crate::id::new_creation;
pub use crate::kernel::cell::bounce;
pub use crate::kernel::seam::{Backlog, Router};
pub use crate::kernel::seam::{Outbound, PendingCall, Responder};
pub use crate::kernel::signal::{InfoRequest, Signal, Watcher};
pub use crate::lock::Unpoisoned;
pub use crate::origin::Origin;
pub use inbound::Inbound;

/// What distribution needs of the runtime beyond [`crate::rt`]: sockets, seeded randomness,
/// the hash maps whose seed a simulation fixes, and the simulated machines tasks run on.
pub mod rt {
    pub use crate::runtime::{
        Domain, HashMap, HashSet, RandomState, current_domain, fill_random, io, net, simulated,
        spawn_in, unique, wall_micros,
    };
}
pub use crate::shown::ShownState;
pub use terms::{deliver_term, error_reply, exit_reason, exit_reason_of};

/// `node` speaks to BEAM nodes as `beam_name` (of `creation`): its pids in terms become
/// Erlang pids of that name, and Erlang pids of that name in terms become its pids.
pub fn set_beam_name(node: &Node, beam_name: &str, creation: u32) {
    let id = &node.inner.id;
    crate::etf::pids::register(id.name(), id.creation(), beam_name, creation);
}

/// Runs `f` (which reads values out of terms, `etf::from_term`) with `node` as the node
/// that pids read are bound to.
pub fn reading_on<T>(node: &Node, f: impl FnOnce() -> T) -> T {
    crate::decoding::with_node(node, f)
}

/// `node` no longer speaks to BEAM nodes (it shuts down).
pub fn forget_beam_name(node: &Node) {
    crate::etf::pids::forget(node.inner.id.name());
}

/// What local process `pid` shows of its state (`sys:get_state` from a BEAM node), asked
/// between two of its messages; `None` if it is not alive here.
pub async fn shown_state(pid: &crate::AnyPid) -> Option<ShownState> {
    if !pid.is_local() {
        return None;
    }
    let slot = Arc::new(crate::sync::slot::Slot::new());
    let sender = crate::sync::slot::SlotSender::new(slot.clone());
    let request = crate::kernel::signal::StateRequest::shown(move |shown| sender.fill(shown));
    crate::kernel::cell::send_signal(pid, crate::kernel::signal::Signal::State(request));
    std::future::poll_fn(|cx| slot.poll_take(cx)).await
}

/// The router's note of how to reach the node of `pid` (a pid of another node), if any.
pub fn route_hint(pid: &crate::AnyPid) -> Option<Arc<dyn Any + Send + Sync>> {
    match &pid.0 {
        crate::kernel::pid::AnyRoute::Remote(r) => r.hint.lock().unpoisoned().clone(),
        crate::kernel::pid::AnyRoute::Local(_) => None,
    }
}

/// Keeps the router's note of how to reach the node of `pid`, for its next sends.
pub fn set_route_hint(pid: &crate::AnyPid, hint: Arc<dyn Any + Send + Sync>) {
    if let crate::kernel::pid::AnyRoute::Remote(r) = &pid.0 {
        *r.hint.lock().unpoisoned() = Some(hint);
    }
}

/// A node with the given identity: distribution layers name their nodes this way.
pub fn node_with_id(id: NodeId) -> Node {
    Node::with_id(id)
}

/// The simulated machine `node` runs on (`rt::Domain`): a distribution layer runs the
/// node's own tasks there, whoever asks it to start them.
pub fn domain_of(node: &Node) -> crate::runtime::Domain {
    node.inner.domain
}

/// Installs the router that carries traffic to other nodes; only once per node.
pub fn install_router(node: &Node, router: Arc<dyn Router>) -> Result<(), Arc<dyn Router>> {
    node.inner.router.set(router)
}

/// Attaches `ext` to `node`, one value per type; false (and nothing changes) if one of its
/// type is attached already.
pub fn set_extension<T: Extension>(node: &Node, ext: Arc<T>) -> bool {
    node.inner.extensions.insert(ext)
}

/// The value of type `T` attached to `node`, if any.
pub fn extension<T: Extension>(node: &Node) -> Option<Arc<T>> {
    node.inner.extensions.get()
}

/// The pid of process `id` of `node`, alive or not: a dead one answers `NoProc`.
pub fn pid_of(node: &Node, id: u64) -> AnyPid {
    match node.inner.procs.get(id) {
        Some(cell) => AnyPid(AnyRoute::Local(cell)),
        None => AnyPid(AnyRoute::Remote(Arc::new(RemoteAddr::new(
            node.inner.clone(),
            node.inner.id.clone(),
            id,
            0,
        )))),
    }
}

/// The pid of process `id` of node `home` (any node, any run), bound to `node`.
pub fn remote_pid(node: &Node, home: &NodeId, id: u64) -> AnyPid {
    if *home == node.inner.id {
        return pid_of(node, id);
    }
    AnyPid(AnyRoute::Remote(Arc::new(RemoteAddr::new(
        node.inner.clone(),
        home.clone(),
        id,
        0,
    ))))
}

/// Delivers a signal that came over the wire to local process `id` of `node`; if it is gone,
/// the signal bounces (a monitor gets `Down(NoProc)`, a link attempt an exit signal).
pub fn signal_local(node: &Node, id: u64, sig: Signal) {
    crate::kernel::cell::send_signal(&pid_of(node, id), sig);
}

/// Starts a process on `node` linked to `parent` (a process of any node) from its first
/// moment: the child's half of a remote `spawn_link`.
pub fn spawn_linked_to<A: crate::Actor>(node: &Node, actor: A, parent: AnyPid) -> crate::Pid<A> {
    crate::process::spawn(&node.inner, actor, Some(parent))
}
