//! `Ctx<A>`: what a handler knows of its own process: its pid, node, links, monitors and timers.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use crate::error::{CallError, SendError};
use crate::exit::{ExitReason, MonitorRef};
use crate::kernel::actor::Actor;
use crate::kernel::cell::Envelope;
use crate::kernel::cell::{Cell, send_signal};
use crate::kernel::node::Node;
use crate::kernel::pid::{AnyPid, Pid, Route, RouteKind};
use crate::kernel::signal::{Down, Exit};
use crate::kernel::signal::{ProcessInfo, Signal, Watcher};
use crate::lock::Unpoisoned;

/// The context of a running actor, passed to handlers that ask for it
/// (`ctx: &mut Ctx<Self>`) and to the lifecycle hooks.
///
/// ```
/// use actors::prelude::*;
///
/// #[actor]
/// struct Parent;
///
/// #[actor]
/// impl Parent {
///     #[handle]
///     fn start_child(&mut self, ctx: &mut Ctx<Self>) -> Pid<Parent> {
///         ctx.trap_exit(true);
///         ctx.spawn_link(Parent)
///     }
/// }
/// ```
pub struct Ctx<A: Actor> {
    pub(crate) cell: Arc<Cell<A>>,
    /// Allocated on first use: most processes never link, monitor or stop themselves, and an
    /// idle process should cost little memory.
    state: Option<Box<State>>,
    trap_exit: bool,
}

#[derive(Default)]
struct State {
    stop: Option<ExitReason>,
    links: Vec<AnyPid>,
    /// Monitors on this process, to be told when it ends.
    watchers: Vec<(MonitorRef, Watcher)>,
    /// Monitors this process holds on others.
    monitors: Vec<(MonitorRef, AnyPid)>,
    /// The process that spawned it linked.
    parent: Option<AnyPid>,
}

/// A hook to run for a signal just handled.
pub(crate) enum HookCall {
    Exit(Exit),
    Down(Down),
    State(crate::kernel::signal::StateRequest),
    /// A `process_info` that asks for the state too, which only the loop can print.
    Info(ProcessInfo, crate::kernel::signal::InfoRequest),
}

impl<A: Actor> Ctx<A> {
    pub(crate) fn new(cell: Arc<Cell<A>>) -> Self {
        Ctx {
            cell,
            state: None,
            trap_exit: false,
        }
    }

    fn state(&mut self) -> &mut State {
        self.state.get_or_insert_with(Box::default)
    }

    pub(crate) fn links_mut(&mut self) -> &mut Vec<AnyPid> {
        &mut self.state().links
    }

    /// Takes the pending stop request, if any.
    #[inline]
    pub(crate) fn take_stop(&mut self) -> Option<ExitReason> {
        self.state.as_mut()?.stop.take()
    }

    /// This process's pid.
    pub fn pid(&self) -> Pid<A> {
        Pid::from_route(Route(RouteKind::Local(self.cell.clone())))
    }

    pub(crate) fn me(&self) -> AnyPid {
        self.pid().any()
    }

    /// The node this process runs on.
    pub fn node(&self) -> Node {
        Node::from_inner(self.cell.node.clone())
    }

    /// Watches `pid`: `on_down` runs once when it ends (at once with `NoProc` if it is dead).
    ///
    /// ```
    /// # use actors::prelude::*;
    /// #[actor]
    /// struct Watcher { seen: Vec<ExitReason> }
    ///
    /// #[actor]
    /// impl Watcher {
    ///     #[handle]
    ///     fn watch(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) { ctx.monitor(pid); }
    ///     #[handle]
    ///     fn seen(&self) -> Vec<ExitReason> { self.seen.clone() }
    ///     fn on_down(&mut self, down: Down) { self.seen.push(down.reason) }
    /// }
    /// # #[actor] struct Idle;
    /// # #[actor] impl Idle { #[handle] fn ping(&self) {} }
    ///
    /// # actors::rt::block_on(async {
    /// let node = Node::local();
    /// let watcher = node.spawn(Watcher { seen: vec![] });
    /// let idle = node.spawn(Idle);
    /// watcher.watch(idle.any()).await.unwrap();
    /// node.exit(&idle, ExitReason::Error("bye".into()));
    /// # let _ = node.monitor(&idle).await;
    /// assert_eq!(watcher.seen().await, Ok(vec![ExitReason::Error("bye".into())]));
    /// # });
    /// ```
    pub fn monitor(&mut self, pid: impl Into<AnyPid>) -> MonitorRef {
        let target = pid.into();
        let monitor_ref = self.cell.node.next_ref();
        self.state().monitors.push((monitor_ref, target.clone()));
        send_signal(
            &target,
            Signal::Monitor(monitor_ref, Watcher::process(self.me())),
        );
        monitor_ref
    }

    /// Cancels a monitor: its `Down` will not be seen, even one already on its way.
    pub fn demonitor(&mut self, monitor_ref: MonitorRef) -> bool {
        let monitors = &mut self.state().monitors;
        match monitors.iter().position(|(r, _)| *r == monitor_ref) {
            Some(i) => {
                let (_, target) = monitors.swap_remove(i);
                send_signal(&target, Signal::Demonitor(monitor_ref));
                true
            }
            None => false,
        }
    }

    /// Links this process to `pid`: when either ends abnormally, the other gets an exit signal.
    /// Linking to a dead process gives an exit signal with `NoProc`, and no link. A process
    /// that traps exits ([`Ctx::trap_exit`]) gets the signal in `on_exit` instead of ending.
    ///
    /// ```
    /// # use actors::prelude::*;
    /// #[actor]
    /// struct Partner;
    ///
    /// #[actor]
    /// impl Partner {
    ///     #[handle]
    ///     fn link_to(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) { ctx.link(pid) }
    /// }
    ///
    /// # actors::rt::block_on(async {
    /// let node = Node::local();
    /// let (a, b) = (node.spawn(Partner), node.spawn(Partner));
    /// a.link_to(b.any()).await.unwrap();
    /// let a_ends = node.monitor(&a);
    /// node.exit(&b, ExitReason::Error("crash".into()));     // b fails, and takes a with it
    /// assert_eq!(a_ends.await.reason, ExitReason::Error("crash".into()));
    /// # });
    /// ```
    pub fn link(&mut self, pid: impl Into<AnyPid>) {
        let target = pid.into();
        if target == self.me() || self.links().contains(&target) {
            return;
        }
        self.links_mut().push(target.clone());
        send_signal(&target, Signal::Link(self.me()));
    }

    /// Removes the link to `pid`, on both sides.
    pub fn unlink(&mut self, pid: impl Into<AnyPid>) {
        let target = pid.into();
        if self.remove_link(&target) {
            send_signal(&target, Signal::Unlink(self.me()));
        }
    }

    fn remove_link(&mut self, pid: &AnyPid) -> bool {
        let Some(state) = &mut self.state else {
            return false;
        };
        match state.links.iter().position(|l| l == pid) {
            Some(i) => {
                state.links.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Traps exits: exit signals become `on_exit` calls instead of ending this process
    /// (except `kill`).
    pub fn trap_exit(&mut self, on: bool) {
        self.trap_exit = on;
    }

    /// True while exits are trapped.
    pub fn is_trapping_exits(&self) -> bool {
        self.trap_exit
    }

    /// Ends this process with `reason` once the current handler returns.
    pub fn stop(&mut self, reason: ExitReason) {
        self.state().stop = Some(reason);
    }

    /// Sends an exit signal to `pid`, as Erlang's `exit/2`.
    pub fn exit(&self, pid: impl Into<AnyPid>, reason: ExitReason) {
        send_signal(
            &pid.into(),
            Signal::Exit {
                from: self.me(),
                reason,
                linked: false,
            },
        );
    }

    /// Kills `pid`: it ends with `Killed`, trapping exits or not.
    pub fn kill(&self, pid: impl Into<AnyPid>) {
        send_signal(&pid.into(), Signal::Kill);
    }

    /// The processes linked to this one.
    pub fn links(&self) -> &[AnyPid] {
        self.state.as_ref().map_or(&[], |s| &s.links)
    }

    /// How many monitors this process holds on others, and how many others hold on it.
    pub fn monitor_counts(&self) -> (usize, usize) {
        self.state
            .as_ref()
            .map_or((0, 0), |s| (s.monitors.len(), s.watchers.len()))
    }

    /// After `delay`, runs `send` with this process's pid: typically a cast to itself.
    ///
    /// ```
    /// # use actors::prelude::*;
    /// # use std::time::Duration;
    /// #[actor]
    /// struct Ticker { ticks: u32 }
    ///
    /// #[actor]
    /// impl Ticker {
    ///     fn started(&mut self, ctx: &mut Ctx<Self>) {
    ///         ctx.send_after(Duration::from_millis(10), |me| me.tick());
    ///     }
    ///     #[handle(cast)]
    ///     fn tick(&mut self) { self.ticks += 1 }
    /// }
    /// ```
    pub fn send_after<F>(&self, delay: Duration, send: F) -> TimerRef
    where
        F: FnOnce(&Pid<A>) -> Result<(), SendError> + Send + 'static,
    {
        let timer = TimerRef(Arc::new(AtomicU8::new(PENDING)));
        let state = timer.0.clone();
        let me = self.pid();
        crate::runtime::spawn(async move {
            crate::runtime::sleep(delay).await;
            if state
                .compare_exchange(PENDING, FIRED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
                && let Err(e) = send(&me)
            {
                tracing::warn!(pid = %me.logged(), "timer could not send: {e}");
            }
        });
        timer
    }

    /// Delivers each item of `stream` to this process, as OTP's `handle_info` does for what
    /// is not a call: `deliver` turns an item into a message to this process (usually a cast
    /// to one of its own handlers), one after another in the stream's order. When the
    /// stream ends, `ended` is called, to tell the process; when the process ends first,
    /// the stream is dropped. Node events, group monitors, timers and sockets can be followed
    /// this way without a task that outlives the process.
    ///
    /// ```
    /// use actors::prelude::*;
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Sum { total: u64, done: bool }
    ///
    /// #[actor]
    /// impl Sum {
    ///     fn started(&mut self, ctx: &mut Ctx<Self>) {
    ///         let numbers = futures::stream::iter(1..=10u64);
    ///         ctx.attach_stream(numbers, |me, n| me.add(n), |me| me.end());
    ///     }
    ///     #[handle(cast)]
    ///     fn add(&mut self, n: u64) { self.total += n }
    ///     #[handle(cast)]
    ///     fn end(&mut self) { self.done = true }
    ///     #[handle]
    ///     fn total(&self) -> Option<u64> { self.done.then_some(self.total) }
    /// }
    ///
    /// actors::rt::block_on(async {
    ///     let sum = Node::local().spawn(Sum::default());
    ///     let total = loop {
    ///         if let Some(t) = sum.total().await.unwrap() { break t; }
    ///         actors::rt::yield_now().await;
    ///     };
    ///     assert_eq!(total, 55);
    /// });
    /// ```
    pub fn attach_stream<S, F, E>(&mut self, stream: S, mut deliver: F, ended: E)
    where
        S: futures::Stream + Send + 'static,
        S::Item: Send,
        F: FnMut(&Pid<A>, S::Item) -> Result<(), SendError> + Send + 'static,
        E: FnOnce(&Pid<A>) -> Result<(), SendError> + Send + 'static,
    {
        use futures::StreamExt;
        let me = self.pid();
        let gone = self.node().monitor(&me);
        crate::runtime::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            let mut gone = std::pin::pin!(gone);
            loop {
                match futures::future::select(stream.next(), gone.as_mut()).await {
                    futures::future::Either::Left((Some(item), _)) => {
                        if let Err(e) = deliver(&me, item) {
                            tracing::warn!(pid = %me.logged(), "a stream's item could not be delivered: {e}");
                        }
                    }
                    futures::future::Either::Left((None, _)) => {
                        if let Err(e) = ended(&me) {
                            tracing::warn!(pid = %me.logged(), "a stream's end could not be delivered: {e}");
                        }
                        return;
                    }
                    // The process ended: the stream goes with it.
                    futures::future::Either::Right(_) => return,
                }
            }
        });
    }

    /// Links to the process that spawned this one, which is its parent.
    pub(crate) fn add_parent(&mut self, pid: AnyPid) {
        let state = self.state();
        state.links.push(pid.clone());
        state.parent = Some(pid);
    }

    /// What `process_info` tells of this process, but for its state and restarts.
    fn info(&self) -> ProcessInfo {
        let state = self.state.as_deref();
        let node = &self.cell.node;
        ProcessInfo {
            pid: self.me(),
            name: node.names.lock().unpoisoned().name_of(self.cell.id),
            actor: A::identity().name.to_string(),
            links: self.links().to_vec(),
            monitors: state.map_or_else(Vec::new, |s| {
                s.monitors.iter().map(|(_, pid)| pid.clone()).collect()
            }),
            monitored_by: state.map_or(0, |s| s.watchers.len()),
            message_queue_len: self.cell.mailbox.len(),
            messages_handled: self.cell.handled(),
            trap_exit: self.trap_exit,
            parent: state.and_then(|s| s.parent.clone()),
            restarts: None,
            state: None,
        }
    }

    /// Acts on a signal; may request a stop, or return a hook to run.
    pub(crate) fn handle_signal(&mut self, sig: Signal) -> Option<HookCall> {
        match sig {
            Signal::Exit {
                from,
                reason,
                linked,
            } => {
                // An exit from a link removed meanwhile (the unlink raced it) is void.
                if linked && !self.remove_link(&from) {
                    return None;
                }
                if self.trap_exit {
                    return Some(HookCall::Exit(Exit { from, reason }));
                }
                if !reason.is_normal() {
                    self.stop(reason);
                }
            }
            Signal::Stop(reason) => self.stop(reason),
            Signal::Kill => self.stop(ExitReason::Killed),
            Signal::Link(pid) => {
                if !self.links().contains(&pid) {
                    self.links_mut().push(pid);
                }
            }
            Signal::Unlink(pid) => {
                self.remove_link(&pid);
            }
            Signal::Monitor(monitor_ref, watcher) => {
                self.state().watchers.push((monitor_ref, watcher))
            }
            Signal::Demonitor(monitor_ref) => {
                if let Some(state) = &mut self.state {
                    state.watchers.retain(|(r, _)| *r != monitor_ref);
                }
            }
            Signal::Info(request) => {
                let info = self.info();
                if request.state {
                    return Some(HookCall::Info(info, request));
                }
                (request.reply)(info);
            }
            Signal::State(request) => return Some(HookCall::State(request)),
            Signal::Down(down) => {
                // A Down for a monitor cancelled meanwhile is void.
                let monitors = &mut self.state.as_mut()?.monitors;
                let held = monitors.iter().position(|(r, _)| *r == down.monitor_ref)?;
                monitors.swap_remove(held);
                return Some(HookCall::Down(down));
            }
        }
        None
    }

    /// The process has ended: close the mailbox, free its name, and tell links and monitors.
    pub(crate) fn terminate(mut self, reason: ExitReason, leftover: VecDeque<Envelope<A::Msg>>) {
        let state = self.state.take().map(|s| *s).unwrap_or_default();
        let (queued, named) = self.cell.mailbox.close(reason.clone());
        let node = &self.cell.node;
        node.procs.remove(self.cell.id);
        node.handled_by_ended
            .fetch_add(self.cell.handled(), std::sync::atomic::Ordering::Relaxed);
        if named {
            node.names.lock().unpoisoned().forget(self.cell.id);
        }
        let me = self.me();
        let exit = |to: &AnyPid| {
            send_signal(
                to,
                Signal::Exit {
                    from: me.clone(),
                    reason: reason.clone(),
                    linked: true,
                },
            )
        };
        let down = |monitor_ref| Down {
            monitor_ref,
            pid: me.clone(),
            reason: reason.clone(),
        };
        for pid in &state.links {
            exit(pid);
        }
        for (monitor_ref, watcher) in state.watchers {
            watcher.notify(down(monitor_ref));
        }
        for (monitor_ref, target) in &state.monitors {
            send_signal(target, Signal::Demonitor(*monitor_ref));
        }
        // Signals that arrived before the end are answered as if the process had seen them
        // just before ending. Queued messages are dropped; their callers read the exit reason.
        for env in leftover.into_iter().chain(queued) {
            match env {
                Envelope::Signal(sig) => match *sig {
                    Signal::Monitor(monitor_ref, watcher) => watcher.notify(down(monitor_ref)),
                    Signal::Link(pid) => exit(&pid),
                    _ => {}
                },
                Envelope::Wire(mut w) => {
                    if let Some(responder) = w.take_call() {
                        let _ = crate::kernel::seam::fail(
                            Some(responder),
                            CallError::exited(reason.clone()),
                        );
                    }
                }
                Envelope::Msg(_) => {}
            }
        }
    }
}

const PENDING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;

/// A timer started with [`Ctx::send_after`].
pub struct TimerRef(Arc<AtomicU8>);

impl TimerRef {
    /// Cancels the timer; true if it had not fired yet.
    pub fn cancel(&self) -> bool {
        self.0
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}
