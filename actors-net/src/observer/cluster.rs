//! What the observer knows of the cluster: snapshots gathered from every node, shared by
//! the pages open on it, and the pids they showed, which are all that actions may name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actors::{AnyPid, Node, WeakNode};

use super::view::{NodeView, PidView, ProcDetail, Snapshot};
use crate::connection::lock;
use crate::introspect::NodeIntrospect;
use crate::node::DistNode;

/// How long each node has to answer each question for a snapshot.
const ASK_WITHIN: Duration = Duration::from_secs(2);

/// Pids remembered for requests; past this, a snapshot's are kept and details add none.
const MAX_KNOWN: usize = 100_000;

pub(crate) struct Cluster {
    node: WeakNode,
    actions: bool,
    /// Processes listed per node, the longest mailboxes first.
    max_listed: usize,
    /// A snapshot younger than this is served again rather than gathered anew.
    fresh_for: Duration,
    last: futures::lock::Mutex<Option<(Instant, Arc<str>)>>,
    /// Pids shown, by their text.
    known: Mutex<HashMap<String, AnyPid>>,
}

impl Cluster {
    pub(crate) fn new(node: &Node, actions: bool, max_listed: usize, fresh_for: Duration) -> Self {
        Cluster {
            node: node.downgrade(),
            actions,
            max_listed,
            fresh_for,
            last: futures::lock::Mutex::new(None),
            known: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn node(&self) -> Option<Node> {
        self.node.upgrade()
    }

    pub(crate) fn actions(&self) -> bool {
        self.actions
    }

    /// The cluster now, as JSON; `None` once the node is gone. Pages asking at once share
    /// one gathering.
    pub(crate) async fn snapshot(&self) -> Option<Arc<str>> {
        let node = self.node()?;
        let mut last = self.last.lock().await;
        if let Some((at, json)) = last.as_ref()
            && actors::rt::elapsed(*at) < self.fresh_for
        {
            return Some(json.clone());
        }
        let snapshot = self.gather(&node).await;
        let json: Arc<str> = serde_json::to_string(&snapshot).ok()?.into();
        *last = Some((actors::rt::now(), json.clone()));
        Some(json)
    }

    async fn gather(&self, node: &Node) -> Snapshot {
        let mut names = node.nodes();
        names.push(node.name().to_string());
        names.sort();
        let introspect = node.introspect();
        let asked = names.iter().map(|name| {
            let introspect = introspect.clone();
            async move {
                let (overview, processes, trees) = futures::join!(
                    actors::rt::timeout(ASK_WITHIN, introspect.overview(name)),
                    actors::rt::timeout(ASK_WITHIN, introspect.processes(name)),
                    actors::rt::timeout(ASK_WITHIN, introspect.supervision_trees(name)),
                );
                let late = || format!("no answer within {ASK_WITHIN:?}");
                match (overview, processes, trees) {
                    (Ok(Ok(o)), Ok(Ok(p)), Ok(Ok(t))) => Ok((o, p, t)),
                    (Ok(Err(e)), _, _) | (_, Ok(Err(e)), _) | (_, _, Ok(Err(e))) => {
                        Err((name.clone(), e.to_string()))
                    }
                    _ => Err((name.clone(), late())),
                }
            }
        });
        let answers = futures::future::join_all(asked).await;
        let mut known = HashMap::new();
        let mut nodes = Vec::new();
        for answer in answers {
            match answer {
                Ok((overview, mut processes, trees)) => {
                    let total = processes.len();
                    processes.sort_by(|a, b| {
                        b.message_queue_len
                            .cmp(&a.message_queue_len)
                            .then(b.messages_handled.cmp(&a.messages_handled))
                    });
                    processes.truncate(self.max_listed);
                    let shown = processes.iter().map(|p| &p.pid);
                    let named = overview.global_names.iter().map(|g| &g.pid);
                    let grouped = overview.groups.iter().flat_map(|g| &g.members);
                    for pid in shown.chain(named).chain(grouped) {
                        if known.len() < MAX_KNOWN {
                            remember(&mut known, pid);
                        }
                    }
                    nodes.push(NodeView::new(overview, &trees, &processes, total));
                }
                Err((name, error)) => nodes.push(NodeView::unreachable(&name, error)),
            }
        }
        *lock(&self.known) = known;
        Snapshot {
            serving: node.name().to_string(),
            actions: self.actions,
            nodes,
        }
    }

    /// A pid the page was shown, by its text.
    pub(crate) fn pid(&self, id: &str) -> Option<AnyPid> {
        lock(&self.known).get(id).cloned()
    }

    /// Process `pid` in full, wherever it runs; `None` if it has ended or cannot be asked.
    pub(crate) async fn detail(&self, pid: &AnyPid) -> Option<ProcDetail> {
        let node = self.node()?;
        let info = actors::rt::timeout(ASK_WITHIN, node.introspect().inspect(pid))
            .await
            .ok()?
            .ok()??;
        // The processes it names can be opened in turn.
        let mut known = lock(&self.known);
        for p in info.links.iter().chain(&info.monitors).chain(&info.parent) {
            if known.len() < MAX_KNOWN {
                remember(&mut known, p);
            }
        }
        Some(ProcDetail::from(&info))
    }
}

fn remember(known: &mut HashMap<String, AnyPid>, pid: &AnyPid) {
    known.insert(PidView::from(pid).id, pid.clone());
}
