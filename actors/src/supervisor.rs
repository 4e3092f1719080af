//! Supervisors: processes that start children, watch them, and restart them when they fail,
//! as OTP's `supervisor` and Elixir's `DynamicSupervisor` do.
//!
//! A supervisor is an ordinary actor: it traps exits, links to each child it starts, and acts
//! on the `Exit` of a child according to the child's restart type and its own strategy. Past its
//! restart intensity it stops its children and exits, so that its own supervisor can react.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::exit::ExitReason;
use crate::kernel::actor::Actor;
use crate::kernel::ctx::Ctx;
use crate::kernel::pid::AnyPid;
use crate::kernel::signal::Exit;
use crate::lock::Unpoisoned;
use actors_macros::actor;

/// Which children a supervisor restarts when one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Strategy {
    /// Only the failed child.
    OneForOne,
    /// Every child: the others are stopped (in reverse start order), then all start again.
    OneForAll,
    /// The failed child and those started after it.
    RestForOne,
}

/// When a child is restarted. Serialisable, so that a child described as data (a
/// distributed supervisor's) can carry it to another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only after an abnormal exit (not `Normal` or `Shutdown`).
    Transient,
    /// Never; the child is forgotten when it ends.
    Temporary,
}

/// How a child is started: the pid, or why it could not be (a remote child's node is down).
pub type StartResult = Result<AnyPid, String>;

type Start = Box<
    dyn for<'a> FnMut(&'a mut Ctx<Supervisor>) -> futures::future::BoxFuture<'a, StartResult>
        + Send,
>;

/// How to start one child, and how to treat it.
///
/// ```
/// use actors::prelude::*;
/// use actors::supervisor::{ChildSpec, Restart};
/// # #[actor] struct Worker;
/// # #[actor] impl Worker { #[handle] fn work(&self) {} }
///
/// let spec = ChildSpec::new("worker", || Worker)
///     .restart(Restart::Transient)
///     .name("the_worker");
/// ```
pub struct ChildSpec {
    id: String,
    start: Start,
    restart: Restart,
    shutdown: Duration,
    name: Option<String>,
}

impl ChildSpec {
    /// A permanent child started with the state `factory` returns, anew at each restart.
    pub fn new<A: Actor>(
        id: impl Into<String>,
        mut factory: impl FnMut() -> A + Send + 'static,
    ) -> Self {
        Self::with_start(id, move |ctx| {
            let pid = ctx.spawn_link(factory()).any();
            Box::pin(async move { Ok(pid) })
        })
    }

    /// A permanent child started by `start`, which must link the child to the supervisor
    /// (`ctx.spawn_link`, or a remote spawn_link); how remote children are supervised.
    pub fn with_start(
        id: impl Into<String>,
        start: impl for<'a> FnMut(
            &'a mut Ctx<Supervisor>,
        ) -> futures::future::BoxFuture<'a, StartResult>
        + Send
        + 'static,
    ) -> Self {
        ChildSpec {
            id: id.into(),
            start: Box::new(start),
            restart: Restart::Permanent,
            shutdown: Duration::from_secs(5),
            name: None,
        }
    }

    /// Runs `then` after each start of the child, with its pid, before the supervisor goes
    /// on (to register it somewhere: a cluster-wide name, say). An `Err` counts as a start
    /// that failed: the child is stopped and started again, within the intensity.
    pub fn on_start(
        mut self,
        then: impl for<'a> FnMut(
            &'a mut Ctx<Supervisor>,
            AnyPid,
        ) -> futures::future::BoxFuture<'a, StartResult>
        + Send
        + 'static,
    ) -> Self {
        // Both run inside the start's future, each with the context in turn.
        let start = std::sync::Arc::new(std::sync::Mutex::new(self.start));
        let then = std::sync::Arc::new(std::sync::Mutex::new(then));
        self.start = Box::new(move |ctx| {
            let (start, then) = (start.clone(), then.clone());
            Box::pin(async move {
                let started = {
                    let mut start = start.lock().unpoisoned();
                    (*start)(&mut *ctx)
                };
                let pid = started.await?;
                let checked = {
                    let mut then = then.lock().unpoisoned();
                    (*then)(&mut *ctx, pid.clone())
                };
                match checked.await {
                    Ok(pid) => Ok(pid),
                    Err(why) => {
                        ctx.exit(&pid, ExitReason::Shutdown);
                        Err(why)
                    }
                }
            })
        });
        self
    }

    /// When to restart the child (default `Permanent`).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How long the child may take to stop before it is killed (default 5 s). Give a nested
    /// supervisor enough for its own children.
    pub fn shutdown(mut self, timeout: Duration) -> Self {
        self.shutdown = timeout;
        self
    }

    /// Registers the child under this local name, again after every restart, so that clients
    /// find the current process by name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("name", &self.name)
            .finish()
    }
}

/// A child as `which_children` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ChildInfo {
    /// The child's id in its spec.
    pub id: String,
    /// The running process; `None` for a transient child that ended cleanly.
    pub pid: Option<AnyPid>,
    /// Its restart type.
    pub restart: Restart,
    /// How many times this supervisor has restarted it.
    pub restarts: u32,
}

/// What `count_children` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildCounts {
    /// Child specs held.
    pub specs: usize,
    /// Children running.
    pub active: usize,
}

/// Why a supervisor refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// A child with this id exists already.
    #[error("a child with id {0:?} exists already")]
    DuplicateId(String),
    /// No child has this id.
    #[error("no child with id {0:?}")]
    NotFound(String),
    /// The child could not be started, even after retries within the intensity.
    #[error("child {0:?} could not be started")]
    StartFailed(String),
}

struct Child {
    spec: ChildSpec,
    pid: Option<AnyPid>,
    /// Times this supervisor has restarted it.
    restarts: u32,
}

impl Child {
    fn new(spec: ChildSpec) -> Self {
        Child {
            spec,
            pid: None,
            restarts: 0,
        }
    }
}

/// Why [`Supervisor::start`] returned no supervisor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// It gave up while starting its children, with this reason.
    #[error("the supervisor gave up starting its children: {0}")]
    GaveUp(ExitReason),
}

/// A supervisor process. Build it, add children, and spawn it like any actor.
///
/// ```
/// use std::time::Duration;
/// use actors::prelude::*;
/// use actors::supervisor::{ChildSpec, Strategy, Supervisor};
/// # #[actor] struct Worker;
/// # #[actor] impl Worker { #[handle] fn work(&self) -> u32 { 7 } }
///
/// actors::rt::block_on(async {
///     let node = Node::local();
///     let sup = Supervisor::new(Strategy::OneForOne)
///         .intensity(3, Duration::from_secs(5))
///         .child(ChildSpec::new("worker", || Worker).name("worker"))
///         .start(&node)
///         .await
///         .expect("the children start");
///     let worker: Pid<Worker> = node.whereis("worker").unwrap();
///     assert_eq!(worker.work().await, Ok(7));
///     assert_eq!(sup.count_children().await.unwrap().active, 1);
/// });
/// ```
#[actor]
pub struct Supervisor {
    strategy: Strategy,
    max_restarts: usize,
    period: Duration,
    children: Vec<Child>,
    restarts: VecDeque<Instant>,
}

impl Supervisor {
    /// A supervisor with no children yet, allowing 3 restarts in 5 seconds.
    pub fn new(strategy: Strategy) -> Self {
        Supervisor {
            strategy,
            max_restarts: 3,
            period: Duration::from_secs(5),
            children: Vec::new(),
            restarts: VecDeque::new(),
        }
    }

    /// Allows at most `max_restarts` restarts within `period`; one more and the supervisor
    /// stops its children and exits.
    pub fn intensity(mut self, max_restarts: usize, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Adds a child, started (in the order added) when the supervisor starts.
    pub fn child(mut self, spec: impl Into<ChildSpec>) -> Self {
        self.children.push(Child::new(spec.into()));
        self
    }

    /// Spawns this supervisor on `node` and returns once its children have started, as OTP's
    /// `supervisor:start_link` does; `Err` with the supervisor's exit reason if it gave up
    /// instead (a child that could not start, more times than its intensity allows).
    pub async fn start(
        self,
        node: &crate::kernel::node::Node,
    ) -> Result<crate::kernel::pid::Pid<Supervisor>, StartError> {
        let pid = node.spawn(self);
        let watch = node.monitor(&pid);
        // Calls are handled after `started`, which starts the children.
        match pid.count_children().await {
            Ok(_) => {
                watch.demonitor();
                Ok(pid)
            }
            Err(_) => {
                let reason = match watch.await.reason {
                    // It ended before the monitor was set (its children could not start at
                    // once): the process keeps its reason.
                    ExitReason::NoProc => {
                        crate::call::local_exit(&pid.any()).unwrap_or(ExitReason::NoProc)
                    }
                    reason => reason,
                };
                Err(StartError::GaveUp(reason))
            }
        }
    }

    /// Starts child `i` and waits until its `started` hook has run, so that children start
    /// one after the other, in order. A child that cannot start counts as a restart; past the
    /// intensity the supervisor gives up. False if it did.
    async fn start_at(&mut self, i: usize, ctx: &mut Ctx<Self>) -> bool {
        let pid = loop {
            let child = &mut self.children[i];
            match (child.spec.start)(ctx).await {
                Ok(pid) => break pid,
                Err(why) => {
                    tracing::warn!(child = %child.spec.id, "could not start: {why}");
                    if !self.may_restart() {
                        ctx.stop(self.intensity_exceeded());
                        return false;
                    }
                }
            }
        };
        let child = &mut self.children[i];
        if let Some(name) = &child.spec.name
            && let Err(e) = ctx.node().register(name, &pid)
        {
            tracing::warn!(child = %child.spec.id, "could not register {name:?}: {e}");
        }
        tracing::debug!(child = %child.spec.id, pid = %pid.logged(), "started");
        child.pid = Some(pid.clone());
        // A process answers `process_info` only once its `started` hook has returned.
        let _ = crate::kernel::node::ask_info(&pid, false).await;
        true
    }

    fn intensity_exceeded(&self) -> ExitReason {
        ExitReason::Error(format!(
            "restart intensity exceeded: more than {} restarts in {:?}",
            self.max_restarts, self.period
        ))
    }

    /// Stops a child: graceful stop, then `kill` once its shutdown time is up.
    async fn stop_child(&mut self, i: usize, ctx: &mut Ctx<Self>) {
        let child = &mut self.children[i];
        let Some(pid) = child.pid.take() else { return };
        ctx.unlink(&pid);
        let node = ctx.node();
        let down = node.monitor(&pid);
        node.stop(&pid, ExitReason::Shutdown);
        let timeout = child.spec.shutdown;
        if crate::runtime::timeout(timeout, down).await.is_err() {
            tracing::warn!(child = %child.spec.id, pid = %pid.logged(), "did not stop within {timeout:?}; killing it");
            let down = node.monitor(&pid);
            node.kill(&pid);
            down.await;
        }
    }

    /// Stops the children in `range`, in reverse start order.
    async fn stop_range(&mut self, range: std::ops::Range<usize>, ctx: &mut Ctx<Self>) {
        for i in range.rev() {
            self.stop_child(i, ctx).await;
        }
    }

    /// Records a restart; false once the intensity is exceeded.
    fn may_restart(&mut self) -> bool {
        let now = crate::runtime::now();
        self.restarts.push_back(now);
        while let Some(first) = self.restarts.front() {
            if now.duration_since(*first) > self.period {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        self.restarts.len() <= self.max_restarts
    }

    async fn child_exited(&mut self, i: usize, reason: ExitReason, ctx: &mut Ctx<Self>) {
        let child = &mut self.children[i];
        child.pid = None;
        let restart = match child.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !reason.is_clean(),
            Restart::Temporary => false,
        };
        if restart && !reason.is_clean() {
            tracing::warn!(supervisor = %ctx.pid().logged(), child = %child.spec.id, %reason, "child exited; restarting");
        } else {
            tracing::debug!(child = %child.spec.id, %reason, restart, "child exited");
        }
        if !restart {
            if child.spec.restart == Restart::Temporary {
                self.children.remove(i);
            }
            return;
        }
        if !self.may_restart() {
            let reason = self.intensity_exceeded();
            tracing::error!(supervisor = %ctx.pid().logged(), %reason, "giving up");
            ctx.stop(reason);
            return;
        }
        let restart = match self.strategy {
            Strategy::OneForOne => i..i + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => i..self.children.len(),
        };
        self.stop_range(restart.clone(), ctx).await;
        for j in restart {
            self.children[j].restarts += 1;
            ctx.node()
                .inner
                .restarts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if !self.start_at(j, ctx).await {
                return;
            }
        }
    }

    fn position(&self, pid: &AnyPid) -> Option<usize> {
        self.children
            .iter()
            .position(|c| c.pid.as_ref() == Some(pid))
    }
}

#[actor(local)]
impl Supervisor {
    async fn started(&mut self, ctx: &mut Ctx<Self>) {
        ctx.trap_exit(true);
        for i in 0..self.children.len() {
            if !self.start_at(i, ctx).await {
                return;
            }
        }
    }

    async fn stopped(&mut self, _reason: &ExitReason, ctx: &mut Ctx<Self>) {
        self.stop_range(0..self.children.len(), ctx).await;
    }

    async fn on_exit(&mut self, exit: Exit, ctx: &mut Ctx<Self>) {
        match self.position(&exit.from) {
            Some(i) => self.child_exited(i, exit.reason, ctx).await,
            // Not a child: the process that started this supervisor is gone, or asked it to
            // stop. A supervisor ends with it, as OTP's does.
            None if !exit.reason.is_normal() => ctx.stop(exit.reason),
            None => {}
        }
    }

    /// Starts a child and keeps it under supervision, like `DynamicSupervisor.start_child`.
    #[handle]
    async fn start_child(
        &mut self,
        spec: ChildSpec,
        ctx: &mut Ctx<Self>,
    ) -> Result<AnyPid, SupervisorError> {
        if self.children.iter().any(|c| c.spec.id == spec.id) {
            return Err(SupervisorError::DuplicateId(spec.id));
        }
        self.children.push(Child::new(spec));
        let i = self.children.len() - 1;
        if !self.start_at(i, ctx).await {
            let spec = self.children.remove(i).spec;
            return Err(SupervisorError::StartFailed(spec.id));
        }
        Ok(self.children[i].pid.clone().expect("just started"))
    }

    /// Stops a child and forgets it.
    #[handle]
    async fn terminate_child(
        &mut self,
        id: String,
        ctx: &mut Ctx<Self>,
    ) -> Result<(), SupervisorError> {
        let i = self
            .children
            .iter()
            .position(|c| c.spec.id == id)
            .ok_or(SupervisorError::NotFound(id))?;
        self.stop_child(i, ctx).await;
        self.children.remove(i);
        Ok(())
    }

    /// Its restart strategy.
    #[handle]
    fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The children, in start order.
    #[handle]
    fn which_children(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .map(|c| ChildInfo {
                id: c.spec.id.clone(),
                pid: c.pid.clone(),
                restart: c.spec.restart,
                restarts: c.restarts,
            })
            .collect()
    }

    /// How many child specs, and how many are running.
    #[handle]
    fn count_children(&self) -> ChildCounts {
        ChildCounts {
            specs: self.children.len(),
            active: self.children.iter().filter(|c| c.pid.is_some()).count(),
        }
    }
}
