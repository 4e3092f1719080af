//! A process's cell: what a local pid points at, shared by the process and its senders.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::exit::ExitReason;
use crate::id::Identity;
use crate::kernel::actor::Actor;
use crate::kernel::node::NodeInner;
use crate::kernel::pid::{AnyPid, AnyRoute, Place, RemoteAddr};
use crate::kernel::seam::Responder;
use crate::kernel::signal::{Down, Signal};
use crate::mailbox::Mailbox;
use crate::origin::Origin;

/// What a mailbox holds: a message of the actor's type, or a system signal.
pub(crate) enum Envelope<M> {
    Msg(M),
    /// Boxed so that signals do not widen every queue slot.
    Signal(Box<Signal>),
    /// A message that came over the wire, still encoded (see [`Wire`]).
    Wire(Wire),
}

/// A message from another node, queued as it arrived: its bytes are the next `len` of the
/// mailbox's wire bytes. The process decodes it itself, when it comes to it, so that what
/// decoding allocates is allocated on the thread that will also free it (the handler's),
/// and a connection's reader only frames, finds and queues. As small as a pointer and a
/// length, so that it does not widen every queue slot and every process's future.
pub(crate) struct Wire {
    pub(crate) len: u32,
    /// What few carry: boxed.
    pub(crate) extra: Option<Box<WireExtra>>,
}

pub(crate) struct WireExtra {
    /// Who sent it (what an `Origin` argument is filled with); `None` if the same as the
    /// wire message before it in this mailbox, as most are.
    pub(crate) origin: Option<Origin>,
    /// For a call, where its answer goes; answered with `NoProc` if dropped unanswered.
    pub(crate) call: Option<Box<dyn Responder>>,
}

impl Drop for WireExtra {
    fn drop(&mut self) {
        if let Some(responder) = self.call.take() {
            let _ = crate::kernel::seam::fail(Some(responder), crate::error::CallError::NoProc);
        }
    }
}

impl Wire {
    /// Takes the origin it carries, if it is not the same as the one before it.
    pub(crate) fn take_origin(&mut self) -> Option<Origin> {
        self.extra.as_mut().and_then(|x| x.origin.take())
    }

    /// Takes the responder of a call.
    pub(crate) fn take_call(&mut self) -> Option<Box<dyn Responder>> {
        self.extra.as_mut().and_then(|x| x.call.take())
    }
}

pub(crate) struct Cell<A: Actor> {
    pub(crate) node: Arc<NodeInner>,
    pub(crate) id: u64,
    pub(crate) mailbox: Mailbox<Envelope<A::Msg>>,
    /// Messages handled so far. Only the process writes it, so counting is a plain load and
    /// store; others read it for `process_info` and metrics.
    handled: AtomicU64,
}

impl<A: Actor> Cell<A> {
    pub(crate) fn new(node: Arc<NodeInner>, id: u64) -> Self {
        Cell {
            node,
            id,
            mailbox: Mailbox::new(),
            handled: AtomicU64::new(0),
        }
    }

    /// Counts one more message handled; called by the process itself, alone.
    #[inline]
    pub(crate) fn count_handled(&self) {
        let n = self.handled.load(Ordering::Relaxed);
        self.handled.store(n + 1, Ordering::Relaxed);
    }

    pub(crate) fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }
}

/// The untyped face of a cell, for code that does not know the actor type.
pub(crate) trait AnyCell: Send + Sync + 'static {
    fn id(&self) -> u64;
    fn node(&self) -> &Arc<NodeInner>;
    fn identity(&self) -> Identity;
    /// Queues a signal, or hands it back if the process has ended.
    fn push_signal(&self, sig: Signal) -> Result<(), Signal>;
    fn kill(&self);
    fn exit_reason(&self) -> Option<ExitReason>;
    /// Messages handled so far, and messages waiting: what metrics read without asking.
    fn load(&self) -> (u64, usize);
    /// A pid of this process.
    fn pid(self: Arc<Self>) -> AnyPid;
    fn set_named(&self, named: bool) -> Result<(), ()>;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// Queues messages of this cell's actor type that came over the wire from `origin`,
    /// still encoded, one after the other in `payloads` (each as long as `lens` says): the
    /// process decodes them. A call comes alone; its `responder` is handed back if the
    /// process has ended.
    fn deliver_wire(
        &self,
        payloads: &[u8],
        lens: &[usize],
        origin: &Origin,
        call: Option<Box<dyn Responder>>,
    ) -> Result<(), Option<Box<dyn Responder>>>;
    /// Reads a message of this cell's actor type from an Erlang term and queues it.
    fn deliver_term(
        &self,
        request: &crate::etf::Term,
        call: &mut Option<crate::kernel::seam::IncomingCall>,
    ) -> Result<(), crate::error::WireError>;
}

impl<A: Actor> AnyCell for Cell<A> {
    fn id(&self) -> u64 {
        self.id
    }
    fn node(&self) -> &Arc<NodeInner> {
        &self.node
    }
    fn identity(&self) -> Identity {
        A::identity()
    }
    fn load(&self) -> (u64, usize) {
        (self.handled(), self.mailbox.len())
    }
    fn pid(self: Arc<Self>) -> AnyPid {
        crate::kernel::pid::Pid::<A>::from_route(crate::kernel::pid::Route(
            crate::kernel::pid::RouteKind::Local(self),
        ))
        .any()
    }
    fn push_signal(&self, sig: Signal) -> Result<(), Signal> {
        self.mailbox
            .push(Envelope::Signal(Box::new(sig)))
            .map_err(|env| match env {
                Envelope::Signal(sig) => *sig,
                Envelope::Msg(_) | Envelope::Wire(_) => unreachable!("a signal was pushed"),
            })
    }
    fn kill(&self) {
        self.mailbox.kill()
    }
    fn exit_reason(&self) -> Option<ExitReason> {
        self.mailbox.exit_reason()
    }
    fn set_named(&self, named: bool) -> Result<(), ()> {
        self.mailbox.set_named(named)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn deliver_wire(
        &self,
        payloads: &[u8],
        lens: &[usize],
        origin: &Origin,
        call: Option<Box<dyn Responder>>,
    ) -> Result<(), Option<Box<dyn Responder>>> {
        self.mailbox
            .push_wire(payloads, lens, origin, call, |len, origin, call| {
                let extra = (origin.is_some() || call.is_some())
                    .then(|| Box::new(WireExtra { origin, call }));
                Envelope::Wire(Wire { len, extra })
            })
    }
    fn deliver_term(
        &self,
        request: &crate::etf::Term,
        call: &mut Option<crate::kernel::seam::IncomingCall>,
    ) -> Result<(), crate::error::WireError> {
        let msg = A::decode_term(request, call)?;
        let _ = self.mailbox.push(Envelope::Msg(msg));
        Ok(())
    }
}

/// Where a pid's traffic goes right now.
pub(crate) enum Target<'a> {
    Local(&'a dyn AnyCell),
    Found(Arc<dyn AnyCell>),
    Remote(&'a RemoteAddr),
    /// The process is known to be gone, or unreachable.
    Gone(ExitReason),
}

impl Target<'_> {
    pub(crate) fn of(pid: &AnyPid) -> Target<'_> {
        match &pid.0 {
            AnyRoute::Local(c) => Target::Local(&**c),
            AnyRoute::Remote(r) => resolve_remote(r),
        }
    }
}

/// The cell of a live-or-dead process of the pid's own binding node, if it is one.
pub(crate) fn local_cell(pid: &AnyPid) -> Option<Arc<dyn AnyCell>> {
    match Target::of(pid) {
        Target::Local(_) => match &pid.0 {
            AnyRoute::Local(c) => Some(c.clone()),
            AnyRoute::Remote(_) => None,
        },
        Target::Found(c) => Some(c),
        Target::Remote(_) | Target::Gone(_) => None,
    }
}

/// Resolves a remote address that may in fact name a process of its own binding node.
pub(crate) fn resolve_remote(addr: &RemoteAddr) -> Target<'_> {
    match addr.place {
        Place::Here => match addr.via.procs.get(addr.id) {
            Some(cell) => Target::Found(cell),
            None => Target::Gone(ExitReason::NoProc),
        },
        // An older incarnation of this node: that process is dead.
        Place::Earlier => Target::Gone(ExitReason::NoProc),
        Place::Elsewhere if addr.via.router().is_some() => Target::Remote(addr),
        Place::Elsewhere => Target::Gone(ExitReason::NoConnection),
    }
}

fn push_local(cell: &dyn AnyCell, sig: Signal) -> Result<(), (Signal, ExitReason)> {
    if let Signal::Kill = sig {
        cell.kill();
        return Ok(());
    }
    cell.push_signal(sig).map_err(|s| (s, ExitReason::NoProc))
}

/// Sends a signal to any pid; if the target is gone, the signal bounces as Erlang's would.
pub(crate) fn send_signal(to: &AnyPid, sig: Signal) {
    let result = match Target::of(to) {
        Target::Local(c) => push_local(c, sig),
        Target::Found(c) => push_local(&*c, sig),
        Target::Remote(addr) => match addr.via.router() {
            Some(router) => router.signal(to, sig),
            None => Err((sig, ExitReason::NoConnection)),
        },
        Target::Gone(reason) => Err((sig, reason)),
    };
    if let Err((sig, reason)) = result {
        bounce(sig, to, reason);
    }
}

/// What a signal to a process that is gone turns into: a monitor gets its `Down` at once, a
/// link attempt gets an exit signal; everything else is dropped.
pub fn bounce(sig: Signal, target: &AnyPid, reason: ExitReason) {
    match sig {
        Signal::Monitor(monitor_ref, watcher) => watcher.notify(Down {
            monitor_ref,
            pid: target.clone(),
            reason,
        }),
        // As if the link had been made and broken at once: the linker drops it on arrival.
        Signal::Link(from) => send_signal(
            &from,
            Signal::Exit {
                from: target.clone(),
                reason,
                linked: true,
            },
        ),
        _ => {}
    }
}
