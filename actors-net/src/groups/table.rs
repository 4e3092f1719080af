//! One process-group scope's table on one node, shared by the scope's server and the node's
//! `Groups` handles, and the vocabulary both speak.

use actors::dist::Unpoisoned;
use actors::dist::rt::HashMap;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};

use actors::AnyPid;
use futures::Stream;
use futures::channel::mpsc;

use crate::connection::lock;

/// The scope [`ProcessGroups::groups`] uses, as OTP's default `pg` scope.
///
/// [`ProcessGroups::groups`]: crate::groups::ProcessGroups::groups
pub const DEFAULT_SCOPE: &str = "pg";

/// The local name a scope's server is registered under.
pub fn server_name(scope: &str) -> String {
    format!("pg_scope:{scope}")
}

/// Why a group operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
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
    /// The members of this node were not known within the time given (`Groups::synced`).
    #[error("the members of {0} did not arrive in time")]
    NotSynced(String),
    /// On the overlay, this node's members of the scope travel in its note, which would pass
    /// its bound (about this many bytes) with one more.
    #[error(
        "this node's members of the scope would take {0} bytes to publish, past the overlay's bound"
    )]
    NoteFull(usize),
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

/// A stream of [`GroupEvent`]s from [`Groups::monitor`](super::Groups::monitor) or [`Groups::monitor_scope`](super::Groups::monitor_scope); dropping
/// it ends the subscription.
pub struct GroupEvents(pub(crate) mpsc::UnboundedReceiver<GroupEvent>);

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

    pub(crate) fn add(&mut self, pids: &[AnyPid]) {
        // Copies only while a reader still holds the previous snapshot.
        Arc::make_mut(&mut self.0).extend_from_slice(pids);
    }

    pub(crate) fn remove(&mut self, pids: &[AnyPid]) -> Vec<AnyPid> {
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
pub(crate) struct Watcher {
    pub(crate) group: Option<String>,
    pub(crate) tx: mpsc::UnboundedSender<GroupEvent>,
}

/// The members of one scope as this node sees them.
#[derive(Default)]
pub(crate) struct Table {
    /// Group -> every member this node knows of, local and remote.
    pub(crate) all: HashMap<String, Members>,
    /// Group -> the members on this node.
    pub(crate) local: HashMap<String, Members>,
    pub(crate) watchers: Vec<Watcher>,
}

impl Table {
    pub(crate) fn add(&mut self, group: &str, pids: &[AnyPid], local: bool) {
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
    pub(crate) fn remove(&mut self, group: &str, pids: &[AnyPid], local: bool) {
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
pub(crate) fn remove_from(members: &mut Vec<AnyPid>, pids: &[AnyPid]) -> Vec<AnyPid> {
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
    server: RwLock<Option<AnyPid>>,
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

    pub(crate) fn server(&self) -> Option<AnyPid> {
        self.server.read().unpoisoned().clone()
    }

    pub(crate) fn set_server(&self, server: Option<AnyPid>) {
        *self.server.write().unpoisoned() = server;
    }

    /// The server, once it has started (or restarted: one other than `dead`); `None` if it
    /// does not in time.
    pub(crate) async fn ready_server(&self, dead: Option<&AnyPid>) -> Option<AnyPid> {
        let deadline = actors::rt::now() + SERVER_PATIENCE;
        loop {
            if let Some(server) = self.server().filter(|s| Some(s) != dead) {
                return Some(server);
            }
            if actors::rt::now() > deadline {
                return None;
            }
            actors::rt::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table.read().unpoisoned()
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unpoisoned()
    }
}

/// Starts a scope's server, under the node's system supervisor.
pub(crate) type StartScope = Box<dyn Fn(Arc<Shared>) + Send + Sync>;

/// The process-group scopes running on a node, by name; an extension of the node.
#[derive(Default)]
pub(crate) struct Scopes {
    pub(crate) scopes: Mutex<HashMap<String, Arc<Shared>>>,
    /// How a scope first used after the node started gets its server.
    pub(crate) start: Mutex<Option<StartScope>>,
}

/// Shutting the node down lets go of the tables, whose members lead back to the node.
impl actors::dist::Extension for Scopes {
    fn shutdown(&self) {
        lock(&self.scopes).clear();
        lock(&self.start).take();
    }
}
