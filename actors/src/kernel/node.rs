//! A node: a process table, local names and timers. Several nodes may live in one OS process;
//! they share nothing.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Waker;
use std::time::Duration;

use crate::exit::{ExitReason, MonitorRef};
use crate::id::{IdMap, NodeId, new_creation};
use crate::kernel::cell::{AnyCell, Target};
use crate::kernel::pid::AnyPid;
use crate::kernel::seam::Router;
use crate::kernel::signal::Signal;
use crate::lock::Unpoisoned;
use crate::sync::deadline::Deadlines;

/// Both directions, so that a process's name is found and freed by its id when it ends.
#[derive(Default)]
pub(crate) struct Names {
    pub(crate) by_name: crate::runtime::HashMap<String, AnyPid>,
    pub(crate) by_id: IdMap<String>,
}

impl Names {
    pub(crate) fn whereis(&self, name: &str) -> Option<AnyPid> {
        self.by_name.get(name).cloned()
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        names.sort();
        names
    }

    /// The name process `id` is registered under, if any.
    pub(crate) fn name_of(&self, id: u64) -> Option<String> {
        self.by_id.get(&id).cloned()
    }

    /// Frees the name of a process that ended.
    pub(crate) fn forget(&mut self, id: u64) {
        if let Some(name) = self.by_id.remove(&id) {
            self.by_name.remove(&name);
        }
    }
}

const SHARDS: usize = 16;

/// The live processes of a node, by id.
pub(crate) struct ProcTable {
    shards: [Mutex<IdMap<Arc<dyn AnyCell>>>; SHARDS],
    count: AtomicUsize,
    /// Woken when the table becomes empty (shutdown waits for it).
    on_empty: Mutex<Vec<Waker>>,
}

impl ProcTable {
    fn new() -> Self {
        ProcTable {
            shards: std::array::from_fn(|_| Mutex::new(IdMap::default())),
            count: AtomicUsize::new(0),
            on_empty: Mutex::new(Vec::new()),
        }
    }

    fn shard(&self, id: u64) -> &Mutex<IdMap<Arc<dyn AnyCell>>> {
        &self.shards[id as usize % SHARDS]
    }

    pub(crate) fn insert(&self, cell: Arc<dyn AnyCell>) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.shard(cell.id())
            .lock()
            .unpoisoned()
            .insert(cell.id(), cell);
    }

    pub(crate) fn remove(&self, id: u64) {
        if self.shard(id).lock().unpoisoned().remove(&id).is_some()
            && self.count.fetch_sub(1, Ordering::AcqRel) == 1
        {
            for w in self.on_empty.lock().unpoisoned().drain(..) {
                w.wake();
            }
        }
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<dyn AnyCell>> {
        self.shard(id).lock().unpoisoned().get(&id).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub(crate) fn all(&self) -> Vec<Arc<dyn AnyCell>> {
        self.shards
            .iter()
            .flat_map(|s| s.lock().unpoisoned().values().cloned().collect::<Vec<_>>())
            .collect()
    }

    async fn wait_empty(&self) {
        std::future::poll_fn(|cx| {
            let mut waiters = self.on_empty.lock().unpoisoned();
            if self.len() == 0 {
                std::task::Poll::Ready(())
            } else {
                waiters.push(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

pub(crate) struct NodeInner {
    pub(crate) id: NodeId,
    pub(crate) procs: ProcTable,
    next_id: AtomicU64,
    pub(crate) names: Mutex<Names>,
    pub(crate) router: OnceLock<Arc<dyn Router>>,
    pub(crate) deadlines: Arc<Deadlines>,
    /// State of distribution layers and services, one value per type (`dist::set_extension`).
    pub(crate) extensions: crate::extension::Extensions,
    stopping: AtomicBool,
    /// Processes asked for their info that have not answered yet: one busy in a handler is
    /// asked once, however often a monitoring tool lists the node.
    pub(crate) asking: Mutex<crate::runtime::HashSet<u64>>,
    /// Messages handled by processes that have ended (metrics add those still running).
    pub(crate) handled_by_ended: AtomicU64,
    /// Children restarted by this node's supervisors.
    pub(crate) restarts: AtomicU64,
    /// The histogram of call round trips made through this node, once call timing is on.
    #[cfg(feature = "metrics")]
    pub(crate) call_durations: std::sync::OnceLock<metrics::Histogram>,
    /// How pids of other nodes print when no router gives the numbers.
    node_indexes: Mutex<crate::runtime::HashMap<String, u32>>,
    /// The simulated machine the node runs on: its processes run there whoever spawns them.
    pub(crate) domain: crate::runtime::Domain,
}

impl NodeInner {
    pub(crate) fn router(&self) -> Option<&Arc<dyn Router>> {
        self.router.get()
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Processes started so far (ids start at 1).
    pub(crate) fn spawned(&self) -> u64 {
        self.next_id.load(Ordering::Relaxed) - 1
    }

    /// A reference unique in this OS process, not just on this node: several nodes of one
    /// process may signal each other's processes directly, and a monitor's reference must
    /// not collide in the watched process's list.
    pub(crate) fn next_ref(&self) -> MonitorRef {
        MonitorRef(crate::runtime::unique())
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub(crate) fn node_index(&self, name: &str) -> u32 {
        if let Some(router) = self.router() {
            return router.node_index(name);
        }
        let mut table = self.node_indexes.lock().unpoisoned();
        let next = table.len() as u32 + 1;
        *table.entry(name.to_owned()).or_insert(next)
    }
}

impl Drop for NodeInner {
    fn drop(&mut self) {
        self.deadlines.close();
    }
}

/// A handle to a node: cheap to clone, usable from any code, inside an actor or not.
///
/// ```
/// use actors::prelude::*;
///
/// #[actor]
/// struct Counter { n: u64 }
///
/// #[actor]
/// impl Counter {
///     #[handle]
///     fn add(&mut self, by: u64) -> u64 { self.n += by; self.n }
/// }
///
/// actors::rt::block_on(async {
///     let node = Node::local();
///     let counter = node.spawn(Counter { n: 0 });
///     assert_eq!(counter.add(2).await, Ok(2));
///     node.shutdown().await;
/// });
/// ```
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Node({:?})", self.inner.id)
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Node {
    /// A node without a network, named `nonode@nohost` as Erlang's is.
    pub fn local() -> Node {
        Node::with_id(NodeId::new("nonode@nohost", new_creation()))
    }

    /// A node with the given identity (`dist::node_with_id`).
    pub(crate) fn with_id(id: NodeId) -> Node {
        Node {
            inner: Arc::new(NodeInner {
                id,
                procs: ProcTable::new(),
                next_id: AtomicU64::new(1),
                names: Mutex::new(Names::default()),
                router: OnceLock::new(),
                deadlines: Deadlines::new(),
                extensions: crate::extension::Extensions::default(),
                stopping: AtomicBool::new(false),
                handled_by_ended: AtomicU64::new(0),
                restarts: AtomicU64::new(0),
                #[cfg(feature = "metrics")]
                call_durations: std::sync::OnceLock::new(),
                asking: Mutex::new(crate::runtime::HashSet::default()),
                node_indexes: Mutex::new(crate::runtime::HashMap::default()),
                domain: crate::runtime::current_domain(),
            }),
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        self.inner.id.name()
    }

    /// The node's name and creation.
    pub fn id(&self) -> &NodeId {
        &self.inner.id
    }

    /// Sends an exit signal to `pid`, as `Process.exit/2` does from outside a process.
    pub fn exit(&self, pid: impl Into<AnyPid>, reason: ExitReason) {
        let pid = pid.into();
        crate::kernel::cell::send_signal(
            &pid,
            Signal::Exit {
                from: pid.clone(),
                reason,
                linked: false,
            },
        );
    }

    /// Stops `pid` gracefully with `reason`, as `gen_server:stop/2`: it finishes the message at
    /// hand, runs its `stopped` hook and ends, whether it traps exits or not.
    pub fn stop(&self, pid: impl Into<AnyPid>, reason: ExitReason) {
        crate::kernel::cell::send_signal(&pid.into(), Signal::Stop(reason));
    }

    /// Kills `pid`: it ends with [`ExitReason::Killed`], trapping or not.
    pub fn kill(&self, pid: impl Into<AnyPid>) {
        crate::kernel::cell::send_signal(&pid.into(), Signal::Kill);
    }

    /// True while `pid` names a live process of this node.
    pub fn is_alive(&self, pid: impl Into<AnyPid>) -> bool {
        let pid = pid.into();
        match Target::of(&pid) {
            Target::Local(c) => c.exit_reason().is_none() && Arc::ptr_eq(c.node(), &self.inner),
            Target::Found(c) => c.exit_reason().is_none() && Arc::ptr_eq(c.node(), &self.inner),
            Target::Remote(_) | Target::Gone(_) => false,
        }
    }

    /// Runs `f` on the state of local process `pid` between two of its messages, and gives
    /// back what it returns, as OTP's `sys:get_state` and `sys:replace_state` do; `None` if
    /// the process is gone (or on another node).
    ///
    /// ```
    /// # use actors::prelude::*;
    /// # #[actor] struct Counter { n: u64 }
    /// # #[actor] impl Counter { #[handle] fn add(&mut self, by: u64) -> u64 { self.n += by; self.n } }
    /// # actors::rt::block_on(async {
    /// let node = Node::local();
    /// let counter = node.spawn(Counter { n: 1 });
    /// assert_eq!(node.with_state(&counter, |c| c.n).await, Some(1));
    /// # });
    /// ```
    pub async fn with_state<A: crate::kernel::actor::Actor, R: Send + 'static>(
        &self,
        pid: &crate::kernel::pid::Pid<A>,
        f: impl FnOnce(&mut A) -> R + Send + 'static,
    ) -> Option<R> {
        self.with_state_then(pid.any(), false, move |state| {
            state.downcast_mut::<A>().map(f)
        })
        .await
        .flatten()
    }

    /// As [`Node::with_state`], for a process of a type known only at run time (`state` is
    /// its actor, as `&mut dyn Any`); the process ends with `Shutdown` right after when
    /// `then_stop`, before it takes another message.
    pub async fn with_state_then<R: Send + 'static>(
        &self,
        pid: AnyPid,
        then_stop: bool,
        f: impl FnOnce(&mut dyn std::any::Any) -> R + Send + 'static,
    ) -> Option<R> {
        if pid.node() != self.name() {
            return None;
        }
        let slot = Arc::new(crate::sync::slot::Slot::new());
        let sender = crate::sync::slot::SlotSender::new(slot.clone());
        let request =
            crate::kernel::signal::StateRequest::new(move |state| sender.fill(f(state)), then_stop);
        crate::kernel::cell::send_signal(&pid, Signal::State(request));
        std::future::poll_fn(|cx| slot.poll_take(cx)).await
    }

    /// How many processes are alive on this node.
    pub fn process_count(&self) -> usize {
        self.inner.procs.len()
    }

    /// Stops every process with [`ExitReason::Shutdown`] (each runs its `stopped` hook) and
    /// waits for them, killing those that do not end within 5 seconds. Processes spawned
    /// afterwards end at once.
    pub async fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::Release);
        for cell in self.inner.procs.all() {
            let _ = cell.push_signal(Signal::Stop(ExitReason::Shutdown));
        }
        let grace = Duration::from_secs(5);
        if crate::runtime::timeout(grace, self.inner.procs.wait_empty())
            .await
            .is_err()
        {
            tracing::warn!(node = %self.name(), "processes ignored shutdown for {grace:?}; killing them");
            for cell in self.inner.procs.all() {
                cell.kill();
            }
            let _ = crate::runtime::timeout(grace, self.inner.procs.wait_empty()).await;
        }
        if let Some(router) = self.inner.router() {
            router.shutdown();
        }
        self.inner.extensions.shutdown();
    }

    pub(crate) fn from_inner(inner: Arc<NodeInner>) -> Node {
        Node { inner }
    }

    /// A handle that does not keep the node alive: what state attached to the node holds,
    /// so that the node and its attachments do not keep each other alive forever.
    pub fn downgrade(&self) -> WeakNode {
        WeakNode(Arc::downgrade(&self.inner))
    }

    /// A fresh reference, unique on this node (Erlang's `make_ref()`).
    pub fn make_ref(&self) -> MonitorRef {
        self.inner.next_ref()
    }
}

/// A node handle that does not keep the node alive; see [`Node::downgrade`].
#[derive(Clone)]
pub struct WeakNode(std::sync::Weak<NodeInner>);

impl WeakNode {
    /// The node, if it still exists.
    pub fn upgrade(&self) -> Option<Node> {
        self.0.upgrade().map(Node::from_inner)
    }
}

/// Asks a process what it holds (with its printed state if `state`); `None` once it has
/// ended. It answers between two messages, after its `started` hook.
pub(crate) async fn ask_info(
    pid: &AnyPid,
    state: bool,
) -> Option<crate::kernel::signal::ProcessInfo> {
    let slot = Arc::new(crate::sync::slot::Slot::new());
    let sender = crate::sync::slot::SlotSender::new(slot.clone());
    let reply = Box::new(move |info| sender.fill(info));
    crate::kernel::cell::send_signal(
        pid,
        Signal::Info(crate::kernel::signal::InfoRequest { reply, state }),
    );
    std::future::poll_fn(|cx| slot.poll_take(cx)).await
}

/// As [`ask_info`], unless the process has not yet answered an earlier request made this
/// way: then `None` at once, so a stuck process's mailbox does not fill with requests.
pub(crate) async fn ask_info_once(
    node: &Arc<NodeInner>,
    pid: &AnyPid,
) -> Option<crate::kernel::signal::ProcessInfo> {
    /// Forgets the request when it is answered or dropped with the process.
    struct Asking(std::sync::Weak<NodeInner>, u64);
    impl Drop for Asking {
        fn drop(&mut self) {
            if let Some(node) = self.0.upgrade() {
                node.asking.lock().unpoisoned().remove(&self.1);
            }
        }
    }
    if !node.asking.lock().unpoisoned().insert(pid.id()) {
        return None;
    }
    let asking = Asking(Arc::downgrade(node), pid.id());
    let slot = Arc::new(crate::sync::slot::Slot::new());
    let sender = crate::sync::slot::SlotSender::new(slot.clone());
    let reply = Box::new(move |info| {
        drop(asking);
        sender.fill(info)
    });
    crate::kernel::cell::send_signal(
        pid,
        Signal::Info(crate::kernel::signal::InfoRequest {
            reply,
            state: false,
        }),
    );
    std::future::poll_fn(|cx| slot.poll_take(cx)).await
}
