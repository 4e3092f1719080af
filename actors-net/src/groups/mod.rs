//! Process groups, as Erlang's `pg`: named groups of processes that every connected node can
//! list, with no central server and no locks.
//!
//! A scope is an independent overlay: each node runs one `GroupServer` per scope, an ordinary
//! actor registered locally as `pg_scope:<scope>`. Its table is shared with the node's
//! [`Groups`] handle, so `members` is a local read. The default scope, [`DEFAULT_SCOPE`],
//! starts with the node; others start on a node at their first [`DistNode::scope`](crate::DistNode::scope).
//!
//! Protocol (as `pg.erl`):
//! - A server knows only its own node's members first-hand. On start, and whenever a node
//!   connects, it sends `discover` to that node's server of the same scope. A server that is
//!   discovered answers with `sync` (all its local members), and if the discoverer is new to
//!   it, monitors it and discovers it back.
//! - A `sync` replaces everything the receiver knew of that peer; `joined` and `left` update
//!   it, and are sent only to peers already known (a later `sync` brings the rest).
//! - A peer's server that ends, or whose node is lost, takes all its members with it. A local
//!   member that ends leaves all its groups, and the peers are told.
//!
//! Views are eventually consistent: for a moment two nodes may list different members, and
//! after a partition heals both list the union of the live members. Membership is not
//! transitive: a node sees the members of the nodes it is connected to.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use actors::{AnyPid, Pid};
use futures::Stream;
use futures::channel::mpsc;

mod server;

pub use server::GroupServer;

/// The scope [`DistNode::groups`] uses, as OTP's default `pg` scope.
///
/// [`DistNode::groups`]: crate::DistNode::groups
pub const DEFAULT_SCOPE: &str = "pg";

/// The local name a scope's server is registered under.
pub fn server_name(scope: &str) -> String {
    format!("pg_scope:{scope}")
}

/// Why a group operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum GroupError {
    /// Only processes of this node can join or leave through it, as in `pg`.
    #[error("{0} is not a process of this node")]
    NotLocal(String),
    /// The process is not a member of the group (or left it as many times as it joined).
    #[error("the process is not a member of {0:?}")]
    NotJoined(String),
    /// The scope's server is gone: the node is shutting down.
    #[error("the scope {0:?} is not running")]
    ScopeDown(String),
    /// This node is not distributed.
    #[error("this node is not distributed")]
    NotDistributed,
}

/// A change in a group's membership, as `pg`'s monitor messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// These processes joined the group (a process joining twice is listed twice).
    Joined {
        /// The group.
        group: String,
        /// Who joined.
        pids: Vec<AnyPid>,
    },
    /// These processes left the group, ended, or were lost with their node.
    Left {
        /// The group.
        group: String,
        /// Who left.
        pids: Vec<AnyPid>,
    },
}

/// A stream of [`GroupEvent`]s from [`Groups::monitor`] or [`Groups::monitor_scope`]; dropping
/// it ends the subscription.
pub struct GroupEvents(mpsc::UnboundedReceiver<GroupEvent>);

impl GroupEvents {
    /// The next event; `None` once the scope is gone.
    pub async fn next(&mut self) -> Option<GroupEvent> {
        futures::StreamExt::next(&mut self.0).await
    }
}

impl Stream for GroupEvents {
    type Item = GroupEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<GroupEvent>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}

/// A group's members at one moment: a shared snapshot, so taking it costs the same whatever
/// the group's size (a sender to all members of a large group reads it on every send). It
/// derefs to a slice; a process that joined twice is in it twice.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Members(Arc<Vec<AnyPid>>);

impl Members {
    /// The members as a vector of their own.
    pub fn to_vec(&self) -> Vec<AnyPid> {
        self.0.as_ref().clone()
    }

    fn add(&mut self, pids: &[AnyPid]) {
        // Copies only while a reader still holds the previous snapshot.
        Arc::make_mut(&mut self.0).extend_from_slice(pids);
    }

    fn remove(&mut self, pids: &[AnyPid]) -> Vec<AnyPid> {
        remove_from(Arc::make_mut(&mut self.0), pids)
    }
}

impl Deref for Members {
    type Target = [AnyPid];
    fn deref(&self) -> &[AnyPid] {
        &self.0
    }
}

/// Iterating a `Members` by value copies the list while the table still holds it; iterate
/// `&members` to read it in place.
impl IntoIterator for Members {
    type Item = AnyPid;
    type IntoIter = std::vec::IntoIter<AnyPid>;
    fn into_iter(self) -> Self::IntoIter {
        Arc::unwrap_or_clone(self.0).into_iter()
    }
}

impl<'a> IntoIterator for &'a Members {
    type Item = &'a AnyPid;
    type IntoIter = std::slice::Iter<'a, AnyPid>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl std::fmt::Debug for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

/// Someone following one group, or (with no group) the whole scope.
struct Watcher {
    group: Option<String>,
    tx: mpsc::UnboundedSender<GroupEvent>,
}

/// The members of one scope as this node sees them.
#[derive(Default)]
struct Table {
    /// Group -> every member this node knows of, local and remote.
    all: HashMap<String, Members>,
    /// Group -> the members on this node.
    local: HashMap<String, Members>,
    watchers: Vec<Watcher>,
}

impl Table {
    fn add(&mut self, group: &str, pids: &[AnyPid], local: bool) {
        if pids.is_empty() {
            return;
        }
        self.all.entry(group.to_string()).or_default().add(pids);
        if local {
            self.local.entry(group.to_string()).or_default().add(pids);
        }
        self.notify(GroupEvent::Joined {
            group: group.to_string(),
            pids: pids.to_vec(),
        });
    }

    /// Removes one occurrence of each of `pids`; a group left empty no longer exists.
    fn remove(&mut self, group: &str, pids: &[AnyPid], local: bool) {
        let removed = remove_each(&mut self.all, group, pids);
        if local {
            remove_each(&mut self.local, group, pids);
        }
        if !removed.is_empty() {
            self.notify(GroupEvent::Left {
                group: group.to_string(),
                pids: removed,
            });
        }
    }

    fn notify(&mut self, event: GroupEvent) {
        let group = match &event {
            GroupEvent::Joined { group, .. } | GroupEvent::Left { group, .. } => group,
        };
        self.watchers.retain(|w| {
            if w.group.as_ref().is_some_and(|g| g != group) {
                return !w.tx.is_closed();
            }
            w.tx.unbounded_send(event.clone()).is_ok()
        });
    }
}

/// Removes one occurrence of each of `pids` from `group`, and the group once it is empty;
/// returns the pids it found.
fn remove_each(groups: &mut HashMap<String, Members>, group: &str, pids: &[AnyPid]) -> Vec<AnyPid> {
    let Some(members) = groups.get_mut(group) else {
        return Vec::new();
    };
    let removed = members.remove(pids);
    if members.is_empty() {
        groups.remove(group);
    }
    removed
}

/// Removes one occurrence of each of `pids` from `members`; returns those it found.
fn remove_from(members: &mut Vec<AnyPid>, pids: &[AnyPid]) -> Vec<AnyPid> {
    let mut removed = Vec::new();
    for pid in pids {
        if let Some(i) = members.iter().position(|m| m == pid) {
            removed.push(members.swap_remove(i));
        }
    }
    removed
}

/// State a scope's server and the node's handles share.
pub(crate) struct Shared {
    pub(crate) scope: String,
    table: RwLock<Table>,
    /// The scope's server now: set by each server as it starts, so a restarted one takes over.
    server: RwLock<Option<Pid<GroupServer>>>,
}

/// How long a group operation waits for its scope's server to start (a scope's first use).
const SERVER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

impl Shared {
    pub(crate) fn new(scope: &str) -> Arc<Self> {
        Arc::new(Shared {
            scope: scope.to_string(),
            table: RwLock::default(),
            server: RwLock::new(None),
        })
    }

    pub(crate) fn server(&self) -> Option<Pid<GroupServer>> {
        self.server
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_server(&self, server: Option<Pid<GroupServer>>) {
        *self
            .server
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = server;
    }

    /// The server, once it has started (or restarted: one other than `dead`); `None` if it
    /// does not in time.
    async fn ready_server(&self, dead: Option<&Pid<GroupServer>>) -> Option<Pid<GroupServer>> {
        let deadline = std::time::Instant::now() + SERVER_PATIENCE;
        loop {
            if let Some(server) = self.server().filter(|s| Some(s) != dead) {
                return Some(server);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            actors::rt::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One process-group scope as seen from one node: [`DistNode::groups`] or
/// [`DistNode::scope`].
///
/// ```
/// # use actors_net::prelude::*;
/// # #[actor] struct Chat;
/// # #[actor] impl Chat { #[handle(cast)] fn say(&mut self, line: String) {} }
/// # actors::rt::block_on(async {
/// let node = Node::builder("a@127.0.0.1:0").cookie("secret").start().await?;
/// let me = node.spawn(Chat);
/// node.groups().join("room:lobby", &me).await?;
/// for member in node.groups().members("room:lobby") {
///     if let Some(chat) = member.downcast::<Chat>() {
///         chat.say("hello".into())?;
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
///
/// [`DistNode::groups`]: crate::DistNode::groups
/// [`DistNode::scope`]: crate::DistNode::scope
pub struct Groups {
    shared: Option<Arc<Shared>>,
}

impl Groups {
    pub(crate) fn new(shared: Option<Arc<Shared>>) -> Self {
        Groups { shared }
    }

    /// Asks the scope's server: once it has started, and once more if it was found dead
    /// before the request reached it (a supervisor restarts it).
    async fn ask<F, Fut>(&self, request: F) -> Result<(), GroupError>
    where
        F: Fn(Pid<GroupServer>) -> Fut,
        Fut: std::future::Future<Output = Result<Result<(), GroupError>, actors::CallError>>,
    {
        let shared = self.shared.as_ref().ok_or(GroupError::NotDistributed)?;
        let down = || GroupError::ScopeDown(shared.scope.clone());
        let server = shared.ready_server(None).await.ok_or_else(down)?;
        match request(server.clone()).await {
            Ok(answer) => answer,
            Err(actors::CallError::NoProc) => {
                let server = shared.ready_server(Some(&server)).await.ok_or_else(down)?;
                request(server).await.map_err(|_| down())?
            }
            Err(_) => Err(down()),
        }
    }

    /// Adds `pid`, a process of this node, to `group`; every connected node will list it. A
    /// process may join a group several times, and is listed as many times. When it ends, it
    /// leaves all its groups.
    pub async fn join(&self, group: &str, pid: impl Into<AnyPid>) -> Result<(), GroupError> {
        let pid = pid.into();
        self.ask(|server| server.join(group.to_string(), pid.clone()).into_future())
            .await
    }

    /// Removes one of `pid`'s memberships of `group`; [`GroupError::NotJoined`] if it has none.
    pub async fn leave(&self, group: &str, pid: impl Into<AnyPid>) -> Result<(), GroupError> {
        let pid = pid.into();
        self.ask(|server| server.leave(group.to_string(), pid.clone()).into_future())
            .await
    }

    /// Every member of `group` this node knows of, on any connected node: a local read. A
    /// group nobody joined is empty.
    pub fn members(&self, group: &str) -> Members {
        self.read(|t| t.all.get(group).cloned().unwrap_or_default())
    }

    /// The members of `group` on this node: a local read.
    pub fn local_members(&self, group: &str) -> Members {
        self.read(|t| t.local.get(group).cloned().unwrap_or_default())
    }

    /// Every group with at least one member, sorted.
    pub fn which_groups(&self) -> Vec<String> {
        let mut groups = self.read(|t| t.all.keys().cloned().collect::<Vec<_>>());
        groups.sort();
        groups
    }

    /// The members of `group` now, and from then on every change to it, with nothing missed
    /// or seen twice between the two.
    pub fn monitor(&self, group: &str) -> (Members, GroupEvents) {
        self.watch(Some(group.to_string()), |t| {
            t.all.get(group).cloned().unwrap_or_default()
        })
    }

    /// Every group and its members now, and from then on every change in the scope.
    pub fn monitor_scope(&self) -> (HashMap<String, Members>, GroupEvents) {
        self.watch(None, |t| t.all.clone())
    }

    fn read<T: Default>(&self, f: impl FnOnce(&Table) -> T) -> T {
        self.shared
            .as_ref()
            .map(|s| f(&s.read()))
            .unwrap_or_default()
    }

    fn watch<T: Default>(
        &self,
        group: Option<String>,
        view: impl FnOnce(&Table) -> T,
    ) -> (T, GroupEvents) {
        let (tx, rx) = mpsc::unbounded();
        let Some(shared) = &self.shared else {
            return (T::default(), GroupEvents(rx));
        };
        // One write lock for both: an update lands either in the view or as an event.
        let mut table = shared.write();
        let now = view(&table);
        table.watchers.push(Watcher { group, tx });
        (now, GroupEvents(rx))
    }
}
