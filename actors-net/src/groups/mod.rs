//! Process groups, as Erlang's `pg`: named groups of processes that every connected node can
//! list, with no central server and no locks.
//!
//! A scope is an independent overlay: each node runs one `GroupServer` per scope, an ordinary
//! actor registered locally as `pg_scope:<scope>`. Its table is shared with the node's
//! [`Groups`] handle, so `members` is a local read. The default scope, [`DEFAULT_SCOPE`],
//! starts with the node; others start on a node at their first [`ProcessGroups::scope`].
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
use std::sync::Arc;

use actors::{AnyPid, Node, Pid};
use futures::channel::mpsc;

use crate::connection::lock;

mod notes;
pub(crate) mod server;
mod table;

pub(crate) use server::GroupServer;
pub use table::{DEFAULT_SCOPE, GroupError, GroupEvent, GroupEvents, Members, server_name};
pub(crate) use table::{Scopes, Shared};
use table::{Table, Watcher};

/// Process groups of a node, as Erlang's `pg`; in `actors_net::prelude`.
pub trait ProcessGroups {
    /// The default process-group scope.
    fn groups(&self) -> Groups;

    /// The process-group scope `name`, started on this node at its first use. Scopes are
    /// independent: each sees only the members of its own scope, on the nodes that run it.
    fn scope(&self, name: &str) -> Groups;
}

impl ProcessGroups for Node {
    fn groups(&self) -> Groups {
        self.scope(DEFAULT_SCOPE)
    }

    fn scope(&self, name: &str) -> Groups {
        let shared = actors::dist::extension::<Scopes>(self).map(|scopes| {
            let mut map = lock(&scopes.scopes);
            map.entry(name.to_string())
                .or_insert_with(|| {
                    let shared = Shared::new(name);
                    if let Some(start) = lock(&scopes.start).as_ref() {
                        start(shared.clone());
                    }
                    shared
                })
                .clone()
        });
        Groups::new(shared)
    }
}

/// One process-group scope as seen from one node: [`ProcessGroups::groups`] or
/// [`ProcessGroups::scope`].
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
/// [`ProcessGroups::groups`]: crate::groups::ProcessGroups::groups
/// [`ProcessGroups::scope`]: crate::groups::ProcessGroups::scope
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
        let typed = |p: AnyPid| p.downcast::<GroupServer>().ok_or_else(down);
        let any = shared.ready_server(None).await.ok_or_else(down)?;
        match request(typed(any.clone())?).await {
            Ok(answer) => answer,
            Err(actors::CallError::NoProc) => {
                let again = shared.ready_server(Some(&any)).await.ok_or_else(down)?;
                request(typed(again)?).await.map_err(|_| down())?
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

    /// Waits until this node knows every member `node` has in this scope now, for at most
    /// `within`. `connect` returns once the link is up: the two scope servers then find
    /// each other and exchange their members, a moment later, and until then `members`
    /// lists none of `node`'s. This asks `node`'s server afresh and waits for the answer:
    /// after it returns, `members` lists every member that had joined there before.
    ///
    /// `Err(NotSynced)` if `within` passed first (the node is not connected, or does not
    /// run this scope).
    pub async fn synced(&self, node: &str, within: std::time::Duration) -> Result<(), GroupError> {
        let shared = self.shared.as_ref().ok_or(GroupError::NotDistributed)?;
        let down = || GroupError::ScopeDown(shared.scope.clone());
        let server = shared
            .ready_server(None)
            .await
            .ok_or_else(down)?
            .downcast::<GroupServer>()
            .ok_or_else(down)?;
        match server
            .await_peer(actors::dist::Origin::local(), node.to_string())
            .timeout(within)
            .await
        {
            Ok(()) => Ok(()),
            Err(actors::CallError::Timeout) => Err(GroupError::NotSynced(node.to_string())),
            Err(_) => Err(down()),
        }
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
        self.watch(None, |t| t.all.clone().into_iter().collect())
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
