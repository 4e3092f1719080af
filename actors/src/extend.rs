//! What a distribution layer attaches to a node: its router, and state of its own, one value
//! per type, each told when the node shuts down. Reached through [`crate::dist`].

use crate::rt::HashMap;
use std::any::{Any, TypeId};
use std::sync::{Arc, RwLock};

use crate::node::{Node, NodeId};
use crate::pid::{AnyPid, AnyRoute, RemoteAddr};
use crate::router::Router;
use crate::signal::Signal;

/// State a distribution layer or service keeps on a node: one value per type.
pub trait Extension: Any + Send + Sync {
    /// Called once when the node shuts down, after its processes have ended and its router
    /// has shut down: let go of what would keep the node alive.
    fn shutdown(&self) {}
}

type Entry = (Arc<dyn Any + Send + Sync>, Arc<dyn Extension>);

/// A node's extensions, by type.
#[derive(Default)]
pub(crate) struct Extensions(RwLock<HashMap<TypeId, Entry>>);

impl Extensions {
    pub(crate) fn shutdown(&self) {
        let all: Vec<Arc<dyn Extension>> = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(|(_, e)| e.clone())
            .collect();
        for ext in all {
            ext.shutdown();
        }
    }
}

/// A node with the given identity: distribution layers name their nodes this way.
pub fn node_with_id(id: NodeId) -> Node {
    Node::with_id(id)
}

/// The simulated machine `node` runs on (`rt::Domain`): a distribution layer runs the
/// node's own tasks there, whoever asks it to start them.
pub fn domain_of(node: &Node) -> crate::rt::Domain {
    node.inner.domain
}

/// Installs the router that carries traffic to other nodes; only once per node.
pub fn install_router(node: &Node, router: Arc<dyn Router>) -> Result<(), Arc<dyn Router>> {
    node.inner.router.set(router)
}

/// Attaches `ext` to `node`, one value per type; false (and nothing changes) if one of its
/// type is attached already.
pub fn set_extension<T: Extension>(node: &Node, ext: Arc<T>) -> bool {
    let mut map = node
        .inner
        .extensions
        .0
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.contains_key(&TypeId::of::<T>()) {
        return false;
    }
    let any: Arc<dyn Any + Send + Sync> = ext.clone();
    map.insert(TypeId::of::<T>(), (any, ext));
    true
}

/// The value of type `T` attached to `node`, if any.
pub fn extension<T: Extension>(node: &Node) -> Option<Arc<T>> {
    let map = node
        .inner
        .extensions
        .0
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.get(&TypeId::of::<T>())?.0.clone().downcast().ok()
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
    crate::cell::send_signal(&pid_of(node, id), sig);
}
