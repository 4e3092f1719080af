//! Looking into a running node, as OTP's `process_info`, `sys:get_state` and observer do:
//! its processes, what each holds and has done, and its supervision trees, all as data.
//!
//! A process answers between two of its messages; one busy in a handler for longer than
//! [`INFO_WAIT`] is reported from what its node knows without asking it.
//!
//! ```
//! use actors::prelude::*;
//! use actors::supervisor::{ChildSpec, Strategy, Supervisor};
//!
//! #[actor]
//! #[derive(Debug)]
//! struct Worker { jobs: u32 }
//!
//! #[actor(debug)]
//! impl Worker {
//!     #[handle]
//!     fn work(&mut self) -> u32 { self.jobs += 1; self.jobs }
//! }
//!
//! actors::rt::block_on(async {
//!     let node = Node::local();
//!     let sup = Supervisor::new(Strategy::OneForOne)
//!         .child(ChildSpec::new("worker", || Worker { jobs: 0 }).name("worker"))
//!         .start(&node)
//!         .await
//!         .unwrap();
//!     let worker: Pid<Worker> = node.whereis("worker").unwrap();
//!     worker.work().await.unwrap();
//!
//!     let info = node.inspect(&worker).await.unwrap();
//!     assert_eq!(info.name.as_deref(), Some("worker"));
//!     assert_eq!(info.messages_handled, 1);
//!     assert_eq!(info.parent, Some(sup.any()));
//!     assert_eq!(info.state.as_deref(), Some("Worker {\n    jobs: 1,\n}"));
//!
//!     let trees = node.supervision_trees().await;
//!     assert_eq!(trees[0].children[0].info.id, "worker");
//! });
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::kernel::cell::AnyCell;
use crate::kernel::node::Node;
use crate::kernel::pid::{AnyPid, Pid};
use crate::kernel::signal::ProcessInfo;
use crate::lock::Unpoisoned;
use crate::supervisor::{ChildInfo, Strategy, Supervisor};

#[cfg(feature = "metrics")]
pub use crate::call::{time_calls, timing_calls};

/// How long [`Node::processes`] waits for each process to answer.
pub const INFO_WAIT: Duration = Duration::from_millis(250);

/// What a node's processes have done, read without asking any of them: cheap enough to
/// scrape every second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NodeLoad {
    /// Processes alive now.
    pub processes: usize,
    /// Processes started since the node started.
    pub spawned: u64,
    /// Messages handled since the node started, by processes alive or ended.
    pub messages_handled: u64,
    /// Messages and signals waiting in all mailboxes.
    pub queued: usize,
    /// The longest mailbox.
    pub longest_queue: usize,
    /// Children restarted by this node's supervisors since the node started.
    pub restarts: u64,
}

/// A supervisor and what it supervises, down to the workers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SupervisionTree {
    /// The supervisor.
    pub pid: AnyPid,
    /// The name it is registered under, if any.
    pub name: Option<String>,
    /// Its restart strategy.
    pub strategy: Strategy,
    /// Its children, in start order.
    pub children: Vec<TreeChild>,
}

/// One child in a [`SupervisionTree`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TreeChild {
    /// The child as its supervisor reports it (id, pid, restart type, restarts).
    pub info: ChildInfo,
    /// When the child is itself a supervisor on this node: its tree.
    pub tree: Option<SupervisionTree>,
}

/// The tree under supervisor `sup`; `None` if it does not answer.
pub async fn supervision_tree(sup: &Pid<Supervisor>) -> Option<SupervisionTree> {
    let strategy = sup.strategy().await.ok()?;
    let mut children = Vec::new();
    for info in sup.which_children().await.ok()? {
        let below = info.pid.as_ref().and_then(AnyPid::downcast::<Supervisor>);
        // Boxed: the tree is as deep as the supervisors nest.
        let tree = match below {
            Some(below) => Box::pin(supervision_tree(&below)).await,
            None => None,
        };
        children.push(TreeChild { info, tree });
    }
    let any = sup.any();
    let name = any
        .view()
        .binding()
        .names
        .lock()
        .unpoisoned()
        .name_of(any.id());
    Some(SupervisionTree {
        pid: any,
        name,
        strategy,
        children,
    })
}

impl Node {
    /// What a process holds and has done ([`ProcessInfo`] without its state), as Erlang's
    /// `process_info/2`; `None` if it is not alive here. The process answers between two
    /// messages.
    pub async fn process_info(&self, pid: impl Into<AnyPid>) -> Option<ProcessInfo> {
        let mut info = crate::kernel::node::ask_info(&pid.into(), false).await?;
        fill_restarts(std::slice::from_mut(&mut info)).await;
        Some(info)
    }

    /// [`Node::process_info`] with the process's state printed with `Debug`, when its actor
    /// opts in with `#[actor(debug)]`, as OTP's `sys:get_state`.
    pub async fn inspect(&self, pid: impl Into<AnyPid>) -> Option<ProcessInfo> {
        let mut info = crate::kernel::node::ask_info(&pid.into(), true).await?;
        fill_restarts(std::slice::from_mut(&mut info)).await;
        Some(info)
    }

    /// Every process of this node, by id. Each answers within [`INFO_WAIT`] or is reported
    /// from what the node knows of it: pid, name, actor type, queue and messages handled.
    pub async fn processes(&self) -> Vec<ProcessInfo> {
        let mut cells = self.inner.procs.all();
        cells.sort_by_key(|c| c.id());
        let asked = cells.into_iter().map(|cell| async move {
            let pid = cell.clone().pid();
            let asked = crate::kernel::node::ask_info_once(&self.inner, &pid);
            match crate::runtime::timeout(INFO_WAIT, asked).await {
                Ok(Some(info)) => Some(info),
                // Read after the wait, so a process that ended meanwhile is left out.
                _ => known(self, &cell),
            }
        });
        let mut all: Vec<ProcessInfo> = futures::future::join_all(asked)
            .await
            .into_iter()
            .flatten()
            .collect();
        fill_restarts(&mut all).await;
        all
    }

    /// The trees of the supervisors here that no supervisor here supervises.
    pub async fn supervision_trees(&self) -> Vec<SupervisionTree> {
        let supervisors: Vec<Pid<Supervisor>> = {
            let mut cells = self.inner.procs.all();
            cells.sort_by_key(|c| c.id());
            cells
                .into_iter()
                .filter_map(|c| c.pid().downcast::<Supervisor>())
                .collect()
        };
        let mut trees = Vec::new();
        for sup in &supervisors {
            let parent = crate::kernel::node::ask_info(&sup.any(), false)
                .await
                .and_then(|i| i.parent);
            let supervised = parent.is_some_and(|p| p.downcast::<Supervisor>().is_some());
            if !supervised && let Some(tree) = supervision_tree(sup).await {
                trees.push(tree);
            }
        }
        trees
    }

    /// What this node's processes have done, read without asking them.
    pub fn load(&self) -> NodeLoad {
        let mut load = NodeLoad {
            spawned: self.inner.spawned(),
            messages_handled: self.inner.handled_by_ended.load(Ordering::Relaxed),
            restarts: self.inner.restarts.load(Ordering::Relaxed),
            ..NodeLoad::default()
        };
        for cell in self.inner.procs.all() {
            let (handled, queued) = cell.load();
            load.processes += 1;
            load.messages_handled += handled;
            load.queued += queued;
            load.longest_queue = load.longest_queue.max(queued);
        }
        load
    }
}

/// What the node knows of a process without asking it.
fn known(node: &Node, cell: &Arc<dyn AnyCell>) -> Option<ProcessInfo> {
    if cell.exit_reason().is_some() {
        return None;
    }
    let (messages_handled, message_queue_len) = cell.load();
    Some(ProcessInfo {
        pid: cell.clone().pid(),
        name: node.inner.names.lock().unpoisoned().name_of(cell.id()),
        actor: cell.identity().name.to_string(),
        links: Vec::new(),
        monitors: Vec::new(),
        monitored_by: 0,
        message_queue_len,
        messages_handled,
        trap_exit: false,
        parent: None,
        restarts: None,
        state: None,
    })
}

/// Fills in how often each supervised process has been restarted, asking each local
/// supervisor among their parents once.
async fn fill_restarts(infos: &mut [ProcessInfo]) {
    let mut counts: HashMap<AnyPid, HashMap<AnyPid, u32>> = HashMap::new();
    for info in infos.iter_mut() {
        let Some(parent) = info.parent.clone().filter(AnyPid::is_local) else {
            continue;
        };
        let Some(sup) = parent.downcast::<Supervisor>() else {
            continue;
        };
        if !counts.contains_key(&parent) {
            let children = sup.which_children().await.unwrap_or_default();
            let by_pid = children
                .into_iter()
                .filter_map(|c| Some((c.pid?, c.restarts)))
                .collect();
            counts.insert(parent.clone(), by_pid);
        }
        info.restarts = counts.get(&parent).and_then(|c| c.get(&info.pid)).copied();
    }
}
