//! System signals: what processes send each other besides messages.
//!
//! Signals travel in the same mailbox as messages, so between one sender and one receiver they
//! keep their order with its messages, as in Erlang. They are plain data, so a distribution
//! layer can carry them between nodes.

use serde::{Deserialize, Serialize};
use std::any::Any;

use crate::exit::{ExitReason, MonitorRef};
use crate::kernel::pid::AnyPid;

/// Delivered once per monitor when the watched process ends (`on_down`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Down {
    /// The monitor this answers.
    pub monitor_ref: MonitorRef,
    /// The process that ended.
    pub pid: AnyPid,
    /// Why it ended.
    pub reason: ExitReason,
}

/// An exit signal turned into a message, for a process that traps exits (`on_exit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    /// The process the signal came from.
    pub from: AnyPid,
    /// Its reason.
    pub reason: ExitReason,
}

/// A system signal to a process.
pub enum Signal {
    /// An exit signal: from a linked process that ended (`linked`), or sent with `exit`.
    Exit {
        /// The sender.
        from: AnyPid,
        /// Its reason.
        reason: ExitReason,
        /// True when caused by a link: ignored if the link is already gone.
        linked: bool,
    },
    /// End with this reason after the `stopped` hook; not trappable (shutdown).
    Stop(ExitReason),
    /// `kill`: end at once with `Killed`; not trappable.
    Kill,
    /// The sender links itself to the receiver.
    Link(AnyPid),
    /// The sender removes its link to the receiver.
    Unlink(AnyPid),
    /// Tell the watcher when the receiver ends.
    Monitor(MonitorRef, Watcher),
    /// Cancel a monitor.
    Demonitor(MonitorRef),
    /// A monitored process ended.
    Down(Down),
    /// Report what the process holds (`process_info`).
    Info(InfoRequest),
    /// Run a function on the process's state between two messages (`Node::with_state`).
    State(StateRequest),
}

/// What a [`StateRequest`] runs on the actor's state.
type ApplyToState = Box<dyn FnOnce(&mut dyn ActorState) + Send>;

/// An actor's state as a request sees it: the state itself, and what it shows of itself.
pub(crate) trait ActorState: Any {
    fn as_any(&mut self) -> &mut dyn Any;
    fn shown(&self) -> crate::shown::ShownState;
}

impl<A: crate::kernel::actor::Actor> ActorState for A {
    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
    fn shown(&self) -> crate::shown::ShownState {
        match (self.state_term(), self.debug_state()) {
            (Some(term), _) => crate::shown::ShownState::Term(term),
            (None, Some(text)) => crate::shown::ShownState::Text(text),
            (None, None) => crate::shown::ShownState::Hidden,
        }
    }
}

/// A [`Node::with_state`](crate::Node::with_state) request: called once with the actor's
/// state, between two of its messages; then, if asked, the process ends with `Shutdown`
/// before it takes another.
pub struct StateRequest {
    pub(crate) apply: ApplyToState,
    pub(crate) then_stop: bool,
}

impl StateRequest {
    /// A request that runs `apply` on the state (an `&mut A` as `&mut dyn Any`), then stops
    /// the process if `then_stop`. Dropped unrun if the process is gone.
    pub fn new(
        apply: impl FnOnce(&mut dyn std::any::Any) + Send + 'static,
        then_stop: bool,
    ) -> Self {
        StateRequest {
            apply: Box::new(move |state: &mut dyn ActorState| apply(state.as_any())),
            then_stop,
        }
    }

    /// A request that tells `tell` what the process shows of its state.
    pub(crate) fn shown(tell: impl FnOnce(crate::shown::ShownState) + Send + 'static) -> Self {
        StateRequest {
            apply: Box::new(move |state: &mut dyn ActorState| tell(state.shown())),
            then_stop: false,
        }
    }
}

/// A `process_info` request: called once with the answer; with `state`, after the actor has
/// printed its state into it (if it opts in).
pub struct InfoRequest {
    pub(crate) reply: Box<dyn FnOnce(ProcessInfo) + Send>,
    pub(crate) state: bool,
}

/// What a process holds and has done, as Erlang's `process_info/2` tells: what
/// [`Node::process_info`](crate::Node::process_info) and
/// [`Node::processes`](crate::Node::processes) answer. It crosses the wire, so one node can
/// tell another about its processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// The process.
    pub pid: AnyPid,
    /// The name it is registered under on its node, if any.
    pub name: Option<String>,
    /// Its actor type's wire name (`module::path::Type` unless `#[actor(name = ..)]`).
    pub actor: String,
    /// The processes linked to it.
    pub links: Vec<AnyPid>,
    /// The processes it monitors.
    pub monitors: Vec<AnyPid>,
    /// How many monitors others hold on it (remote ones included).
    pub monitored_by: usize,
    /// Messages and signals waiting in its mailbox.
    pub message_queue_len: usize,
    /// Messages its handlers have taken since it started (the one in hand included).
    pub messages_handled: u64,
    /// Whether it traps exits.
    pub trap_exit: bool,
    /// The process that started it linked (`spawn_link`): its supervisor, for a supervised
    /// child, as OTP's `$ancestors` tells.
    pub parent: Option<AnyPid>,
    /// For a child of a [`Supervisor`](crate::supervisor::Supervisor): how many times it
    /// has been restarted there.
    pub restarts: Option<u32>,
    /// Its state, printed with `Debug`, when asked for and when its actor opts in with
    /// `#[actor(debug)]`, as OTP's `sys:get_state`.
    pub state: Option<String>,
}

/// Who is told when a monitored process ends.
pub struct Watcher(WatcherKind);

enum WatcherKind {
    /// A process: its `on_down` runs.
    Process(AnyPid),
    /// Code outside any actor, or a distribution layer forwarding the `Down` to another node.
    Callback(Box<dyn FnOnce(Down) + Send>),
}

impl Watcher {
    /// A process watches: it gets the `Down` as a signal.
    pub fn process(pid: AnyPid) -> Self {
        Watcher(WatcherKind::Process(pid))
    }

    /// A callback watches: it is called once with the `Down`.
    pub fn callback(f: impl FnOnce(Down) + Send + 'static) -> Self {
        Watcher(WatcherKind::Callback(Box::new(f)))
    }

    /// The watching process, if it is one.
    pub fn pid(&self) -> Option<&AnyPid> {
        match &self.0 {
            WatcherKind::Process(pid) => Some(pid),
            WatcherKind::Callback(_) => None,
        }
    }

    /// Delivers the `Down`.
    pub fn notify(self, down: Down) {
        match self.0 {
            WatcherKind::Process(pid) => crate::kernel::cell::send_signal(&pid, Signal::Down(down)),
            WatcherKind::Callback(f) => f(down),
        }
    }
}
