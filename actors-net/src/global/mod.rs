//! Cluster-wide names, as Erlang's `global`: a name resolves to the same pid on every node.
//!
//! Each distributed node runs a `GlobalServer`, an ordinary actor registered locally as
//! `global_name_server`. Its table is shared with the node's [`Global`] handle, so `whereis`
//! is a local read.
//!
//! Protocol:
//! - `register` takes cluster locks on the name and on the pid and binds the name in one
//!   message per node: the lowest-named node's first, then every other node's at once.
//!   Contention is settled at the lowest node, so two processes racing for a name cannot
//!   both win, and nobody deadlocks; a node whose view differs (it refuses, or another holder
//!   has its lock) has the attempt undone everywhere under the same locks. The caller's task
//!   runs this, so servers only ever answer; they never wait on each other. `re_register`
//!   takes every lock first and commits after, since a move cannot be undone by unbinding.
//! - Every server monitors every registered pid: when the owner ends, or its node is lost,
//!   each node drops the name by itself, with no lock.
//! - When two nodes connect, each sends the other its table. A name bound to two different
//!   pids is a conflict, decided once for the whole cluster by the node of the pid whose node
//!   name is smaller, which runs the resolver, applies the decision, tells every node, and
//!   acts on the loser. A decision is remembered, so a conflict seen again is not decided
//!   again. The same pid on both sides is no conflict.
//! - Clean partitions (on by default): a node that loses a peer tells the others; each node
//!   connected to both drops the greater of the two, so every node makes the same choice and
//!   the cluster splits into fully connected parts.

use actors::dist::Unpoisoned;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use actors::dist::Origin;
use actors::{Actor, AnyPid, Node, Pid};
use futures::future::join_all;

use crate::connection::lock;
use crate::node::DistNode;

mod guard;
mod register;
pub(crate) mod server;
mod table;

use guard::{FreeOnDrop, release};
pub(crate) use server::GlobalServer;
pub(crate) use table::{Bridge, Shared};
pub use table::{GlobalError, ResolveFn, Resolver, SERVER_NAME};
use table::{Hold, name_lock};

/// A fresh identity for one lock request: two registrations on one node never share locks.
fn next_request() -> u64 {
    actors::dist::rt::unique()
}

/// The request under which `set_lock` takes locks: the same for every call of one holder, so
/// a holder may take a lock it holds again, as in OTP.
const USER_REQUEST: u64 = 0;

/// The cluster-wide registry of a node, as Erlang's `global`; in `actors_net::prelude`.
///
/// A name registered on one node is found on every connected node, by a local read; when
/// partitions heal with one name on each side, a resolver keeps one ([`Resolver`]).
///
/// ```
/// # use actors_net::prelude::*;
/// # #[actor] #[derive(serde::Serialize, serde::Deserialize)] struct Counter { n: u64 }
/// # #[actor] impl Counter { #[handle] fn add(&mut self, by: u64) -> u64 { self.n += by; self.n } }
/// # actors::rt::block_on(async {
/// let a = Node::builder("a@127.0.0.1:0").cookie("c").start().await.unwrap();
/// let b = Node::builder("b@127.0.0.1:0").cookie("c").start().await.unwrap();
/// a.connect(b.name()).await.unwrap();
/// let counter = a.spawn(Counter { n: 0 });
/// a.global().register("the-counter", &counter).await.unwrap();
/// let found: Pid<Counter> = b.global().whereis("the-counter").expect("seen on b too");
/// assert_eq!(found.add(2).await, Ok(2));
/// # });
/// ```
pub trait GlobalNames {
    /// The cluster-wide registry as seen from this node.
    fn global(&self) -> Global;
}

impl GlobalNames for Node {
    fn global(&self) -> Global {
        Global::new(self.clone(), actors::dist::extension::<Shared>(self))
    }
}

/// The cluster-wide registry as seen from one node: [`GlobalNames::global`].
pub struct Global {
    node: Node,
    shared: Option<Arc<Shared>>,
}

/// How long `register` and `set_lock` keep trying to take a contended lock.
const LOCK_PATIENCE: Duration = Duration::from_secs(10);

/// Backing off from contended locks: a pause that grows with the attempts, different for
/// each holder and request so that contenders do not retry in step, until `LOCK_PATIENCE`.
struct Patience {
    started: actors::rt::Instant,
    attempt: u32,
}

impl Patience {
    fn new() -> Self {
        Patience {
            started: actors::rt::now(),
            attempt: 0,
        }
    }

    async fn wait(
        &mut self,
        ids: &[String],
        holder: &AnyPid,
        request: u64,
    ) -> Result<(), GlobalError> {
        let waited = actors::rt::elapsed(self.started);
        if waited > LOCK_PATIENCE {
            return Err(GlobalError::Busy(ids.join(",")));
        }
        self.attempt += 1;
        let ceiling = 1u64 << self.attempt.min(6);
        let pause = (holder.id().wrapping_mul(0x9e37_79b9)
            ^ u64::from(self.attempt)
            ^ request
            ^ waited.as_nanos() as u64)
            % ceiling;
        actors::rt::sleep(Duration::from_millis(pause + 1)).await;
        Ok(())
    }
}

impl Global {
    pub(crate) fn new(node: Node, shared: Option<Arc<Shared>>) -> Self {
        Global { node, shared }
    }

    fn shared(&self) -> Result<&Arc<Shared>, GlobalError> {
        self.shared.as_ref().ok_or(GlobalError::NotDistributed)
    }

    /// The servers of this node and of every connected node, in node-name order.
    async fn servers(&self) -> Result<Vec<Pid<GlobalServer>>, GlobalError> {
        let shared = self.shared()?;
        let own = shared
            .server()
            .and_then(|s| s.downcast())
            .ok_or(GlobalError::NotDistributed)?;
        let mut all = vec![(self.node.name().to_string(), own)];
        for peer in self.node.nodes() {
            let known = lock(&shared.peers)
                .get(&peer)
                .and_then(|s| s.downcast::<GlobalServer>());
            let server = match known {
                Some(s) => s,
                None => match self
                    .node
                    .whereis_on::<GlobalServer>(SERVER_NAME, &peer)
                    .await
                {
                    Ok(s) => {
                        lock(&shared.peers).insert(peer.clone(), s.any());
                        s
                    }
                    // Not up yet, or gone: it will sync when it is.
                    Err(_) => continue,
                },
            };
            all.push((peer, server));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all.into_iter().map(|(_, s)| s).collect())
    }

    /// Takes `ids` for `holder` under `request` on every server: the lowest node's first,
    /// then the others at once, since whoever holds the lowest node's lock has no contender
    /// left for them. Backs off and retries while another holder has them. With `check`,
    /// returns the first reason a server gives why that name cannot go to that pid: every
    /// node's view counts, since a node may know of a registration this one has not synced
    /// yet.
    async fn acquire(
        &self,
        servers: &[Pid<GlobalServer>],
        ids: &[String],
        holder: &AnyPid,
        request: u64,
        check: Option<(String, AnyPid, bool)>,
    ) -> Result<Option<GlobalError>, GlobalError> {
        let Some((lowest, rest)) = servers.split_first() else {
            return Ok(None);
        };
        let lock = |s: &Pid<GlobalServer>| {
            s.lock(
                Origin::local(),
                ids.to_vec(),
                holder.clone(),
                request,
                check.clone(),
            )
            .into_future()
        };
        let mut patience = Patience::new();
        loop {
            // A node that went away meanwhile (`Err`) is passed over: its names go with it.
            let (mut all, mut refused) = lock(lowest).await.unwrap_or((true, None));
            let mut taken = Vec::new();
            if all {
                taken.push(lowest.clone());
                let replies = join_all(rest.iter().map(lock)).await;
                for (s, reply) in rest.iter().zip(replies) {
                    match reply {
                        Ok((true, r)) => {
                            taken.push(s.clone());
                            refused = refused.or(r);
                        }
                        Ok((false, r)) => {
                            all = false;
                            refused = refused.or(r);
                        }
                        Err(_) => {}
                    }
                }
            }
            if all {
                return Ok(refused);
            }
            release(&taken, ids, holder, request);
            // A refusal that is no contention (the table is full, the holder is not ours)
            // will not change by waiting.
            if let Some(e @ (GlobalError::NotLocal(_) | GlobalError::TableFull(_))) = refused {
                return Err(e);
            }
            patience.wait(ids, holder, request).await?;
        }
    }

    /// The locks a registration, move or removal of `name` for `pid` takes: the name, and
    /// the pid. The registering node's server holds them, under a request of this operation
    /// alone: if this node is lost midway, every other node frees them, and two operations
    /// on one node exclude each other.
    fn registration_hold(shared: &Shared, name: &str, pid: &AnyPid) -> Result<Hold, GlobalError> {
        Ok(Hold {
            ids: vec![
                name_lock(name),
                format!("global:pid:{}:{}:{}", pid.node(), pid.creation(), pid.id()),
            ],
            holder: servers_own(shared)?.any(),
            request: next_request(),
        })
    }

    /// Registers `pid` under `name` on every connected node, as `:global.register_name`.
    /// Two processes racing for a name: exactly one wins, everywhere.
    ///
    /// On the overlay ([`NodeBuilder::overlay`](crate::NodeBuilder::overlay)), this node
    /// claims the name in its note instead of taking locks on every node: it is refused if
    /// this node's table has the name already, and two registrations of one name made at
    /// once on two nodes both return `Ok`, then the cluster keeps one by the order a
    /// partition's heal would (see `docs/semantics.md`).
    pub async fn register(&self, name: &str, pid: impl Into<AnyPid>) -> Result<(), GlobalError> {
        match self.on_overlay()? {
            Some(server) => self.claim(&server, name, pid.into(), false).await,
            None => self.register_everywhere(name, pid.into()).await,
        }
    }

    /// This node's server, if the node runs an overlay: names travel in notes there.
    fn on_overlay(&self) -> Result<Option<Pid<GlobalServer>>, GlobalError> {
        if crate::node::overlay(&self.node).is_none() {
            return Ok(None);
        }
        servers_own(self.shared()?).map(Some)
    }

    async fn claim(
        &self,
        server: &Pid<GlobalServer>,
        name: &str,
        pid: AnyPid,
        moving: bool,
    ) -> Result<(), GlobalError> {
        server
            .claim_name(Origin::local(), name.to_string(), pid, moving)
            .await
            .map_err(|_| GlobalError::NotCommitted(name.to_string()))?
    }

    /// Moves `name` to `pid` on every connected node, atomically, as `:global.re_register_name`.
    ///
    /// On the overlay, a name can be moved by the node that claims it (or registered if
    /// free); one claimed by another node is `NameTaken`.
    pub async fn re_register(&self, name: &str, pid: impl Into<AnyPid>) -> Result<(), GlobalError> {
        match self.on_overlay()? {
            Some(server) => self.claim(&server, name, pid.into(), true).await,
            None => self.move_everywhere(name, pid.into()).await,
        }
    }

    /// Moves `name` to `pid`: the locks on every server first, then the commit on each, since
    /// a move cannot be undone by unbinding as a fresh registration can.
    async fn move_everywhere(&self, name: &str, pid: AnyPid) -> Result<(), GlobalError> {
        let moving = true;
        let shared = self.shared()?;
        let servers = self.servers().await?;
        let hold = Self::registration_hold(shared, name, &pid)?;
        // The locks go when this ends, however it ends.
        let _free = FreeOnDrop::new(&servers, &hold);
        let refused = self
            .acquire(
                &servers,
                &hold.ids,
                &hold.holder,
                hold.request,
                Some((name.to_string(), pid.clone(), moving)),
            )
            .await?;
        // A bridged registry (Erlang's `global`) takes the name too, or refuses it.
        let refused = match (refused, shared.bridge()) {
            (None, Some(bridge)) if pid.is_local() => bridge
                .claim(name.to_string(), pid.clone(), moving)
                .await
                .err(),
            (refused, _) => refused,
        };
        match refused {
            Some(e) => Err(e),
            None => {
                let commits = join_all(servers.iter().map(|s| {
                    s.commit(Origin::local(), name.to_string(), pid.clone())
                        .into_future()
                }))
                .await;
                // A server lost meanwhile takes its node's view with it; one that answered
                // and refused did not bind the name.
                match commits
                    .into_iter()
                    .find_map(|c| c.ok().and_then(Result::err))
                {
                    Some(GlobalError::TableFull(n)) => Err(GlobalError::TableFull(n)),
                    Some(_) => Err(GlobalError::NotCommitted(name.to_string())),
                    None => Ok(()),
                }
            }
        }
    }

    /// Removes `name` on every connected node.
    pub async fn unregister(&self, name: &str) -> Result<(), GlobalError> {
        if let Some(server) = self.on_overlay()? {
            return self.disclaim(&server, name).await;
        }
        let shared = self.shared()?;
        let Some(pid) = shared.read().by_name.get(name).cloned() else {
            return Ok(());
        };
        let servers = self.servers().await?;
        let hold = Self::registration_hold(shared, name, &pid)?;
        // The locks go when this ends, however it ends.
        let _free = FreeOnDrop::new(&servers, &hold);
        self.acquire(&servers, &hold.ids, &hold.holder, hold.request, None)
            .await?;
        join_all(servers.iter().map(|s| {
            s.remove(Origin::local(), name.to_string(), pid.clone())
                .into_future()
        }))
        .await;
        if let Some(bridge) = shared.bridge()
            && pid.is_local()
        {
            bridge.release(name.to_string()).await;
        }
        Ok(())
    }

    /// On the overlay: the node that claims `name` drops its claim.
    async fn disclaim(&self, own: &Pid<GlobalServer>, name: &str) -> Result<(), GlobalError> {
        let failed = |_| GlobalError::NotCommitted(name.to_string());
        let server = match own.claimant_of(name.to_string()).await.map_err(failed)? {
            None => own.clone(),
            Some(node) => self
                .node
                .whereis_on::<GlobalServer>(SERVER_NAME, &node)
                .await
                .map_err(|_| GlobalError::NotCommitted(name.to_string()))?,
        };
        server.disclaim_name(name.to_string()).await.map_err(failed)
    }

    /// The process registered under `name`, if it is an `A`: a local read.
    pub fn whereis<A: Actor>(&self, name: &str) -> Option<Pid<A>> {
        self.whereis_any(name)?.downcast()
    }

    /// The process registered under `name`, whatever its type: a local read. On a node that
    /// joins BEAM nodes as a visible node, names registered there with Erlang's
    /// `global:register_name` are found too.
    pub fn whereis_any(&self, name: &str) -> Option<AnyPid> {
        let shared = self.shared.as_ref()?;
        let here = shared.read().by_name.get(name).cloned();
        here.or_else(|| shared.bridge()?.whereis(name))
    }

    /// The process registered under `name`, as an `A`, or why not: to call or cast to it
    /// (`global().send::<Counter>("c")?.add(1).await`), as `:global.send`.
    pub fn send<A: Actor>(&self, name: &str) -> Result<Pid<A>, GlobalError> {
        let any = self
            .whereis_any(name)
            .ok_or_else(|| GlobalError::NotRegistered(name.to_string()))?;
        any.downcast()
            .ok_or_else(|| GlobalError::WrongType(name.to_string()))
    }

    /// Every registered name, sorted.
    pub fn registered_names(&self) -> Vec<String> {
        let Some(shared) = &self.shared else {
            return Vec::new();
        };
        let mut names: Vec<String> = shared.read().by_name.keys().cloned().collect();
        if let Some(bridge) = shared.bridge() {
            names.extend(bridge.names());
        }
        names.sort();
        names.dedup();
        names
    }

    /// How conflicts found when partitions heal are resolved, when this node decides them.
    pub fn set_resolver(&self, resolver: Resolver) {
        if let Some(shared) = &self.shared {
            *shared.resolver.write().unpoisoned() = resolver;
        }
    }

    /// How many conflicts this node has decided (its resolver ran this many times).
    pub fn decisions(&self) -> u64 {
        self.shared.as_ref().map_or(0, |s| {
            s.decisions.load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    /// Takes the cluster lock `id` for `holder` on every connected node, as
    /// `:global.set_lock`; freed by [`Global::del_lock`], or when the holder ends or its node
    /// is lost. A holder may take the same lock again.
    pub async fn set_lock(&self, id: &str, holder: impl Into<AnyPid>) -> Result<(), GlobalError> {
        let holder = holder.into();
        if holder.node() != self.node.name() {
            return Err(GlobalError::NotLocal(holder.to_string()));
        }
        let servers = self.servers().await?;
        self.acquire(&servers, &[lock_id(id)], &holder, USER_REQUEST, None)
            .await?
            .map_or(Ok(()), Err)
    }

    /// Releases the cluster lock `id` held by `holder`.
    pub async fn del_lock(&self, id: &str, holder: impl Into<AnyPid>) -> Result<(), GlobalError> {
        let holder = holder.into();
        let servers = self.servers().await?;
        release(&servers, &[lock_id(id)], &holder, USER_REQUEST);
        Ok(())
    }

    /// Runs `f` holding the cluster lock `id`, as `:global.trans`.
    pub async fn trans<T, F: std::future::Future<Output = T>>(
        &self,
        id: &str,
        holder: impl Into<AnyPid>,
        f: F,
    ) -> Result<T, GlobalError> {
        let holder = holder.into();
        self.set_lock(id, &holder).await?;
        let out = f.await;
        self.del_lock(id, &holder).await?;
        Ok(out)
    }
}

fn lock_id(id: &str) -> String {
    format!("user:{id}")
}

fn servers_own(shared: &Shared) -> Result<Pid<GlobalServer>, GlobalError> {
    shared
        .server()
        .and_then(|s| s.downcast())
        .ok_or(GlobalError::NotDistributed)
}
