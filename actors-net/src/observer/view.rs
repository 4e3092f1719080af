//! What the page is sent, as JSON: the introspection types in a form a browser reads, pids
//! as the text logs print them (which also names them in requests).

use std::time::Duration;

use actors::introspect::{NodeLoad, SupervisionTree};
use actors::{AnyPid, ProcessInfo};
use serde::Serialize;

use crate::introspect::{NodeOverview, Traffic};

/// A pid: its text (`#PID<node.id.serial>`, the same in every node's logs) and its node.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct PidView {
    pub(crate) id: String,
    pub(crate) node: String,
}

impl From<&AnyPid> for PidView {
    fn from(pid: &AnyPid) -> Self {
        PidView {
            id: pid.logged().to_string(),
            node: pid.node().to_string(),
        }
    }
}

/// The whole cluster as the serving node sees it.
#[derive(Serialize)]
pub(crate) struct Snapshot {
    /// The node serving the page.
    pub(crate) serving: String,
    /// Whether the page may kill processes and disconnect nodes.
    pub(crate) actions: bool,
    pub(crate) nodes: Vec<NodeView>,
}

#[derive(Serialize)]
pub(crate) struct NodeView {
    pub(crate) name: String,
    /// Why the node could not be asked, if it could not; the rest is then empty.
    pub(crate) error: Option<String>,
    pub(crate) load: NodeLoad,
    pub(crate) traffic: Traffic,
    pub(crate) connections: Vec<ConnView>,
    pub(crate) global_names: Vec<NameView>,
    pub(crate) groups: Vec<GroupView>,
    pub(crate) trees: Vec<TreeView>,
    /// The processes with the longest mailboxes first, at most `MAX_LISTED`.
    pub(crate) processes: Vec<ProcView>,
    /// How many processes the node has, listed or not.
    pub(crate) processes_total: usize,
}

impl NodeView {
    pub(crate) fn unreachable(name: &str, error: String) -> Self {
        NodeView {
            name: name.to_string(),
            error: Some(error),
            load: NodeLoad::default(),
            traffic: Traffic::default(),
            connections: Vec::new(),
            global_names: Vec::new(),
            groups: Vec::new(),
            trees: Vec::new(),
            processes: Vec::new(),
            processes_total: 0,
        }
    }

    /// A node's view, with the processes listed of `processes_total`.
    pub(crate) fn new(
        o: NodeOverview,
        trees: &[SupervisionTree],
        processes: &[ProcessInfo],
        processes_total: usize,
    ) -> Self {
        NodeView {
            name: o.name,
            error: None,
            load: o.load,
            traffic: o.traffic,
            connections: o
                .connections
                .into_iter()
                .map(|c| ConnView {
                    peer: c.node,
                    frames_in: c.info.frames_in,
                    frames_out: c.info.frames_out,
                    bytes_in: c.info.bytes_in,
                    bytes_out: c.info.bytes_out,
                    queued_bytes: c.info.queued_bytes,
                    heard_ago_ms: millis(c.info.heard_ago),
                    round_trip_us: c.info.round_trip.map(|d| d.as_micros() as u64),
                    links: c.info.links,
                    monitors_held: c.info.monitors_held,
                    monitors_served: c.info.monitors_served,
                    pending_calls: c.info.pending_calls,
                })
                .collect(),
            global_names: o
                .global_names
                .iter()
                .map(|g| NameView {
                    name: g.name.clone(),
                    pid: (&g.pid).into(),
                })
                .collect(),
            groups: o
                .groups
                .iter()
                .map(|g| GroupView {
                    scope: g.scope.clone(),
                    group: g.group.clone(),
                    members: g.members.iter().map(PidView::from).collect(),
                })
                .collect(),
            trees: trees.iter().map(TreeView::from).collect(),
            processes: processes.iter().map(ProcView::from).collect(),
            processes_total,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[derive(Serialize)]
pub(crate) struct ConnView {
    pub(crate) peer: String,
    pub(crate) frames_in: u64,
    pub(crate) frames_out: u64,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) queued_bytes: usize,
    pub(crate) heard_ago_ms: u64,
    pub(crate) round_trip_us: Option<u64>,
    pub(crate) links: usize,
    pub(crate) monitors_held: usize,
    pub(crate) monitors_served: usize,
    pub(crate) pending_calls: usize,
}

#[derive(Serialize)]
pub(crate) struct NameView {
    pub(crate) name: String,
    pub(crate) pid: PidView,
}

#[derive(Serialize)]
pub(crate) struct GroupView {
    pub(crate) scope: String,
    pub(crate) group: String,
    pub(crate) members: Vec<PidView>,
}

#[derive(Serialize)]
pub(crate) struct TreeView {
    pub(crate) pid: PidView,
    pub(crate) name: Option<String>,
    pub(crate) strategy: String,
    pub(crate) children: Vec<ChildView>,
}

#[derive(Serialize)]
pub(crate) struct ChildView {
    pub(crate) id: String,
    pub(crate) pid: Option<PidView>,
    pub(crate) restart: String,
    pub(crate) restarts: u32,
    pub(crate) tree: Option<TreeView>,
}

impl From<&SupervisionTree> for TreeView {
    fn from(t: &SupervisionTree) -> Self {
        TreeView {
            pid: (&t.pid).into(),
            name: t.name.clone(),
            strategy: format!("{:?}", t.strategy),
            children: t
                .children
                .iter()
                .map(|c| ChildView {
                    id: c.info.id.clone(),
                    pid: c.info.pid.as_ref().map(PidView::from),
                    restart: format!("{:?}", c.info.restart),
                    restarts: c.info.restarts,
                    tree: c.tree.as_ref().map(TreeView::from),
                })
                .collect(),
        }
    }
}

/// A process in a node's list.
#[derive(Serialize)]
pub(crate) struct ProcView {
    pub(crate) pid: PidView,
    pub(crate) name: Option<String>,
    pub(crate) actor: String,
    pub(crate) queue: usize,
    pub(crate) handled: u64,
    pub(crate) restarts: Option<u32>,
    pub(crate) links: usize,
    pub(crate) monitors: usize,
}

impl From<&ProcessInfo> for ProcView {
    fn from(p: &ProcessInfo) -> Self {
        ProcView {
            pid: (&p.pid).into(),
            name: p.name.clone(),
            actor: p.actor.clone(),
            queue: p.message_queue_len,
            handled: p.messages_handled,
            restarts: p.restarts,
            links: p.links.len(),
            monitors: p.monitors.len(),
        }
    }
}

/// One process in full, with its state when its actor shows it.
#[derive(Serialize)]
pub(crate) struct ProcDetail {
    pub(crate) pid: PidView,
    pub(crate) name: Option<String>,
    pub(crate) actor: String,
    pub(crate) queue: usize,
    pub(crate) handled: u64,
    pub(crate) restarts: Option<u32>,
    pub(crate) trap_exit: bool,
    pub(crate) parent: Option<PidView>,
    pub(crate) links: Vec<PidView>,
    pub(crate) monitors: Vec<PidView>,
    pub(crate) monitored_by: usize,
    pub(crate) state: Option<String>,
}

impl From<&ProcessInfo> for ProcDetail {
    fn from(p: &ProcessInfo) -> Self {
        ProcDetail {
            pid: (&p.pid).into(),
            name: p.name.clone(),
            actor: p.actor.clone(),
            queue: p.message_queue_len,
            handled: p.messages_handled,
            restarts: p.restarts,
            trap_exit: p.trap_exit,
            parent: p.parent.as_ref().map(PidView::from),
            links: p.links.iter().map(PidView::from).collect(),
            monitors: p.monitors.iter().map(PidView::from).collect(),
            monitored_by: p.monitored_by,
            state: p.state.clone(),
        }
    }
}
