//! The global server's state and the steps its handlers share.

use actors::dist::rt::{HashMap, HashSet};
use std::sync::Arc;

use actors::{AnyPid, Ctx, MonitorRef, Pid, actor};

use crate::connection::lock;
use crate::global::table::{GlobalError, Shared};
use crate::net::Net;

/// The server's state on the overlay.
#[derive(Default)]
pub(crate) struct OnOverlay {
    /// Each other node's claims, as its note last said.
    pub(super) nodes: HashMap<String, Vec<(String, AnyPid)>>,
    /// The same by name: who claims it, for which pid.
    pub(super) claimed: HashMap<String, Vec<(String, AnyPid)>>,
    /// A publish is queued in the server's mailbox.
    pub(super) queued: bool,
}

/// The wire name is the one the server had as `global::server::GlobalServer`, so that nodes
/// of either layout know each other's servers.
#[actor(name = "actors_net::global::server::GlobalServer")]
pub struct GlobalServer {
    pub(super) shared: Arc<Shared>,
    /// Monitors on registered pids, to drop their names when they end; both ways, so that
    /// neither a `Down` nor an unregistration scans the table.
    pub(super) watched: HashMap<MonitorRef, AnyPid>,
    pub(super) watch_of: HashMap<AnyPid, MonitorRef>,
    /// Lock id -> its holder and the request that took it: a holder may take a lock again
    /// under the same request (`set_lock`), never under another (two registrations).
    pub(super) locks: HashMap<String, (AnyPid, u64)>,
    pub(super) holders: HashMap<AnyPid, Holder>,
    /// Locks held by the processes of each node: what one node may hold here is bounded.
    pub(super) locks_by_node: HashMap<String, usize>,
    /// Conflicts this node decided with a resolver that runs once: (name, smaller pid,
    /// greater pid).
    pub(super) decided: HashSet<(String, AnyPid, AnyPid)>,
    /// Processes of this node that lost a name, and were stopped or told so, once.
    pub(super) acted: HashSet<(String, AnyPid)>,
    /// Pids that lost a name in a conflict: never bound to it again (until it is registered
    /// anew), whatever a table synced from a node that has not heard of it says.
    pub(super) excluded: HashMap<String, Vec<AnyPid>>,
    /// What each peer last said of its failed links, with the connection it said it on: only
    /// the word of a peer on the connection up now counts.
    pub(super) reports: HashMap<String, (u64, Vec<(String, u32)>)>,
    /// This node's failed links, as last told to the peers.
    pub(super) told: Vec<(String, u32)>,
    /// Peers whose table digest differed from ours last time they sent it: if it differs
    /// again, the tables are exchanged (an update missed in a race is repaired).
    pub(super) differing: HashSet<String>,
    /// Where the next round of digests starts among the peers, in name order.
    pub(super) digest_turn: usize,
    /// On the overlay: names travel in notes (and none of the above speaks to peers).
    pub(super) overlay: Option<OnOverlay>,
}

impl GlobalServer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        GlobalServer {
            shared,
            watched: HashMap::default(),
            watch_of: HashMap::default(),
            locks: HashMap::default(),
            holders: HashMap::default(),
            locks_by_node: HashMap::default(),
            decided: HashSet::default(),
            acted: HashSet::default(),
            excluded: HashMap::default(),
            reports: HashMap::default(),
            told: Vec::new(),
            differing: HashSet::default(),
            digest_turn: 0,
            overlay: None,
        }
    }

    pub(super) fn net(ctx: &Ctx<Self>) -> Option<Arc<Net>> {
        actors::dist::extension::<Net>(&ctx.node())
    }

    pub(super) fn bind(&mut self, name: &str, pid: AnyPid, ctx: &mut Ctx<Self>) {
        let old = {
            let mut names = self.shared.write();
            if let Some(previous) = names.by_pid.get(&pid)
                && previous != name
            {
                let previous = previous.clone();
                names.by_name.remove(&previous);
                self.shared.flip(&previous, &pid);
            }
            let old = names.by_name.insert(name.to_string(), pid.clone());
            if let Some(old) = &old {
                names.by_pid.remove(old);
                self.shared.flip(name, old);
            }
            names.by_pid.insert(pid.clone(), name.to_string());
            self.shared.flip(name, &pid);
            old
        };
        if old.as_ref() != Some(&pid) {
            if let Some(old) = old {
                self.unwatch(&old, ctx);
            }
            self.watch(pid, ctx);
        }
    }

    pub(super) fn watch(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) {
        if !self.watch_of.contains_key(&pid) {
            let monitor = ctx.monitor(&pid);
            self.watched.insert(monitor, pid.clone());
            self.watch_of.insert(pid, monitor);
        }
    }

    pub(super) fn unbind(&mut self, name: &str, pid: &AnyPid, ctx: &mut Ctx<Self>) {
        let removed = {
            let mut names = self.shared.write();
            if names.by_name.get(name) == Some(pid) {
                names.by_name.remove(name);
                names.by_pid.remove(pid);
                self.shared.flip(name, pid);
                true
            } else {
                false
            }
        };
        if removed {
            self.unwatch(pid, ctx);
        }
    }

    pub(super) fn unwatch(&mut self, pid: &AnyPid, ctx: &mut Ctx<Self>) {
        if let Some(r) = self.watch_of.remove(pid) {
            self.watched.remove(&r);
            ctx.demonitor(r);
        }
    }

    pub(super) fn peer_servers(&self) -> Vec<Pid<GlobalServer>> {
        lock(&self.shared.peers)
            .values()
            .filter_map(|p| p.downcast())
            .collect()
    }

    /// Applies a decision between `a` and `b`: whichever it did not keep is excluded. A
    /// third pid bound here meanwhile meets the winner as a conflict of its own.
    pub(super) fn apply(
        &mut self,
        name: &str,
        a: &AnyPid,
        b: &AnyPid,
        winner: Option<AnyPid>,
        ctx: &mut Ctx<Self>,
    ) {
        let losers: Vec<AnyPid> = [a, b]
            .into_iter()
            .filter(|p| winner.as_ref() != Some(*p))
            .cloned()
            .collect();
        self.exclude(name, &losers, ctx);
        let Some(winner) = winner else { return };
        if self.is_excluded(name, &winner) {
            return;
        }
        let current = self.shared.read().by_name.get(name).cloned();
        match current {
            None => {
                if !self.shared.read().by_pid.contains_key(&winner) {
                    self.bind(name, winner, ctx);
                }
            }
            Some(cur) if cur == winner => {}
            Some(cur) => self.conflict(name, cur, winner, ctx),
        }
    }

    /// A registration made now supersedes old conflicts over `name`, and what they left
    /// behind here.
    pub(super) fn supersede(&mut self, name: &str) {
        self.excluded.remove(name);
        self.acted.retain(|(n, _)| n != name);
        self.decided.retain(|(n, _, _)| n != name);
    }

    /// Why `name` could not go to `pid` here, if it could not.
    pub(super) fn refusal(&self, name: &str, pid: &AnyPid, moving: bool) -> Option<GlobalError> {
        let names = self.shared.read();
        match (names.by_name.get(name), names.by_pid.get(pid)) {
            (Some(p), _) if p == pid => None,
            (Some(_), _) if !moving => Some(GlobalError::NameTaken(name.to_string())),
            (_, Some(other)) if other != name => Some(GlobalError::AlreadyNamed(other.clone())),
            (None, _) if names.by_name.len() >= self.shared.limits.max_names => {
                Some(GlobalError::TableFull(self.shared.limits.max_names))
            }
            _ => None,
        }
    }
}

/// A process holding cluster locks: the monitor that frees them when it ends, and each lock
/// it holds with the request that took it and how many times.
#[derive(Default)]
pub(super) struct Holder {
    pub(super) monitor: Option<MonitorRef>,
    pub(super) locks: HashMap<String, u32>,
}

pub(super) fn forget_one(counts: &mut HashMap<String, usize>, node: &str) {
    if let Some(n) = counts.get_mut(node) {
        *n -= 1;
        if *n == 0 {
            counts.remove(node);
        }
    }
}
