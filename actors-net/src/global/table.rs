//! The cluster-wide registry's table on one node, shared by the node's global server and its
//! `Global` handles, and the vocabulary both speak: errors, resolvers, lock names.

use actors::dist::Unpoisoned;
use actors::dist::rt::HashMap;
use std::sync::{Arc, RwLock};

use actors::AnyPid;

use crate::config::GlobalLimits;
use crate::connection::lock;

/// The local name every node's global server is registered under.
pub const SERVER_NAME: &str = "global_name_server";

/// Why a cluster-wide registration failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum GlobalError {
    /// Another process holds the name.
    #[error(
        "the global name {0:?} is taken by another process: unregister it first, or choose another"
    )]
    NameTaken(String),
    /// The process already holds another name.
    #[error("the process is already registered as {0:?}")]
    AlreadyNamed(String),
    /// No process holds the name.
    #[error("no process is registered as {0:?}")]
    NotRegistered(String),
    /// The process registered under the name is of another actor type.
    #[error("the process registered as {0:?} is of another actor type")]
    WrongType(String),
    /// The locks could not be taken in time: the cluster is busy, or a node does not answer.
    #[error("could not take the cluster lock {0:?} in time")]
    Busy(String),
    /// This node is not distributed.
    #[error("this node is not distributed")]
    NotDistributed,
    /// A lock's holder must be a process of the node that takes the lock.
    #[error("{0} is not a process of the node taking the lock")]
    NotLocal(String),
    /// A table is at its limit: the names a node keeps, or the locks one node may hold.
    #[error("the table is full ({0} entries)")]
    TableFull(usize),
    /// A server did not take the registration (it was lost, or restarted, meanwhile).
    #[error("the registration of {0:?} was not committed everywhere")]
    NotCommitted(String),
}

/// The locks one registration takes: their ids, the process holding them (the registering
/// node's server) and the request they are taken under.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hold {
    /// The lock ids: the name's and the pid's.
    pub ids: Vec<String>,
    /// Who holds them.
    pub holder: AnyPid,
    /// The one registration they are held for.
    pub request: u64,
}

/// What a server answers to the first phase of a registration (`lock_commit`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Prepared {
    /// Another holder has one of the locks: nothing was taken.
    Busy,
    /// The locks are taken, but the name cannot go to the pid here, for this reason; or the
    /// locks could not be taken for it (a table at its limit, a holder not of the asking node).
    Refused(GlobalError),
    /// The locks are taken and the name is bound here, anew.
    Bound,
    /// The locks are taken and the name was bound to the pid here already.
    AlreadyBound,
}

/// The lock a registration of `name` takes.
pub(crate) fn name_lock(name: &str) -> String {
    format!("global:name:{name}")
}

/// A user's conflict resolution: given the name and the two pids, the one to keep.
pub type ResolveFn = dyn Fn(&str, &AnyPid, &AnyPid) -> Option<AnyPid> + Send + Sync;

/// What to do when two partitions that each registered a name to a different process heal.
#[derive(Clone)]
pub enum Resolver {
    /// Keep the process of the node with the smaller name; stop the other with
    /// [`ExitReason::NameConflict`](actors::ExitReason::NameConflict). The default, as OTP's `random_exit_name`.
    StopLoser,
    /// Keep the process of the node with the smaller name; send the other an exit signal with
    /// `NameConflict` (a process that traps exits sees it in `on_exit`), as `random_notify_name`.
    NotifyLoser,
    /// Drop the name; send both an exit signal with `NameConflict`, as `notify_all_name`.
    NotifyBoth,
    /// Decide: the pid to keep, or `None` to drop the name. Runs once for the cluster, on the
    /// node deciding the conflict; nothing is done to the process it does not keep.
    Custom(Arc<ResolveFn>),
}

impl Resolver {
    /// A resolver from a function.
    pub fn custom(
        f: impl Fn(&str, &AnyPid, &AnyPid) -> Option<AnyPid> + Send + Sync + 'static,
    ) -> Self {
        Resolver::Custom(Arc::new(f))
    }
}

#[derive(Default)]
pub(crate) struct Names {
    pub(crate) by_name: HashMap<String, AnyPid>,
    pub(crate) by_pid: HashMap<AnyPid, String>,
}

impl Names {
    /// A copy of every binding, to act on without holding the table's lock.
    pub(crate) fn entries(&self) -> Vec<(String, AnyPid)> {
        self.by_name
            .iter()
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect()
    }
}

/// Another cluster's registry, seen through this node: Erlang's `global` on BEAM nodes, for
/// a node that joins them as a visible node. Its names are found here as this cluster's are,
/// and this node's registrations are published there.
pub(crate) trait Bridge: Send + Sync {
    /// The process registered there as `name`.
    fn whereis(&self, name: &str) -> Option<AnyPid>;
    /// Every name registered there.
    fn names(&self) -> Vec<String>;
    /// Registers `name` there for `pid` (of this node), or moves it there when `moving`:
    /// `NameTaken` if another process holds it there.
    fn claim(
        &self,
        name: String,
        pid: AnyPid,
        moving: bool,
    ) -> futures::future::BoxFuture<'static, Result<(), GlobalError>>;
    /// Removes `name` there.
    fn release(&self, name: String) -> futures::future::BoxFuture<'static, ()>;
}

/// State the server and the node's handle share.
pub(crate) struct Shared {
    /// Another cluster's registry this node also takes part in, if any.
    pub(crate) bridge: RwLock<Option<Arc<dyn Bridge>>>,
    pub(crate) names: RwLock<Names>,
    pub(crate) resolver: RwLock<Resolver>,
    pub(crate) server: RwLock<Option<AnyPid>>,
    /// Peers' servers, found once by name (typed where they are called: the table is below
    /// the server in this module).
    pub(crate) peers: std::sync::Mutex<HashMap<String, AnyPid>>,
    pub(crate) clean_partitions: bool,
    /// A digest of the table: the XOR of a hash of each (name, pid), kept as entries come
    /// and go, so that two nodes can tell cheaply whether their tables differ.
    pub(crate) digest: std::sync::atomic::AtomicU64,
    pub(crate) limits: GlobalLimits,
    /// How many times this node ran its resolver: each conflict is decided once.
    pub(crate) decisions: std::sync::atomic::AtomicU64,
    /// On the overlay: the names this node claims (kept here, so a restarted server has them).
    pub(crate) claims: std::sync::Mutex<std::collections::BTreeMap<String, AnyPid>>,
}

impl Shared {
    pub(crate) fn new(clean_partitions: bool, limits: GlobalLimits) -> Arc<Self> {
        Arc::new(Shared {
            bridge: RwLock::new(None),
            names: RwLock::default(),
            resolver: RwLock::new(Resolver::StopLoser),
            server: RwLock::new(None),
            peers: std::sync::Mutex::new(HashMap::default()),
            clean_partitions,
            digest: std::sync::atomic::AtomicU64::new(0),
            limits,
            decisions: std::sync::atomic::AtomicU64::new(0),
            claims: std::sync::Mutex::default(),
        })
    }

    /// Turns the entry (name, pid) into or out of the digest.
    pub(crate) fn flip(&self, name: &str, pid: &AnyPid) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (name, pid.node(), pid.creation(), pid.id()).hash(&mut h);
        self.digest
            .fetch_xor(h.finish(), std::sync::atomic::Ordering::Relaxed);
    }

    /// The bridged registry, if any.
    pub(crate) fn bridge(&self) -> Option<Arc<dyn Bridge>> {
        self.bridge.read().unpoisoned().clone()
    }

    /// Forgets the table and the servers (at shutdown).
    pub(crate) fn clear(&self) {
        *self.write() = Names::default();
        lock(&self.claims).clear();
        *self.bridge.write().unpoisoned() = None;
        *self.server.write().unpoisoned() = None;
        lock(&self.peers).clear();
    }

    /// The global server running now.
    pub(crate) fn server(&self) -> Option<AnyPid> {
        self.server.read().unpoisoned().clone()
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Names> {
        self.names.read().unpoisoned()
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Names> {
        self.names.write().unpoisoned()
    }
}

/// Shutting the node down lets go of the registered pids and the servers, which lead back to
/// the node, so that a node shut down and dropped is freed.
impl actors::dist::Extension for Shared {
    fn shutdown(&self) {
        self.clear();
    }
}
