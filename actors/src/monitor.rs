//! Monitors awaited from outside any actor.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::exit::{ExitReason, MonitorRef};
use crate::kernel::cell::send_signal;
use crate::kernel::node::{Node, NodeInner};
use crate::kernel::pid::AnyPid;
use crate::kernel::signal::Down;
use crate::kernel::signal::{Signal, Watcher};
use crate::sync::slot::{Slot, SlotSender};

/// A monitor held by code outside any actor: await it for the [`Down`], or cancel it with
/// [`MonitorHandle::demonitor`].
///
/// ```
/// # use actors::prelude::*;
/// # #[actor] struct Worker;
/// # #[actor] impl Worker { #[handle] fn work(&self) {} }
/// # actors::rt::block_on(async {
/// let node = Node::local();
/// let worker = node.spawn(Worker);
/// let down = node.monitor(&worker);
/// node.kill(&worker);
/// assert_eq!(down.await.reason, ExitReason::Killed);
/// # });
/// ```
#[must_use = "a monitor's Down is seen only by awaiting it"]
pub struct MonitorHandle {
    monitor_ref: MonitorRef,
    target: AnyPid,
    slot: Arc<Slot<Down>>,
}

impl MonitorHandle {
    pub(crate) fn new(node: &NodeInner, target: AnyPid) -> Self {
        let monitor_ref = node.next_ref();
        let slot = Arc::new(Slot::new());
        let sender = SlotSender::new(slot.clone());
        let watcher = Watcher::callback(move |down| sender.fill(down));
        send_signal(&target, Signal::Monitor(monitor_ref, watcher));
        MonitorHandle {
            monitor_ref,
            target,
            slot,
        }
    }

    /// The monitor's reference, as it will appear in the `Down`.
    pub fn monitor_ref(&self) -> MonitorRef {
        self.monitor_ref
    }

    /// The watched process.
    pub fn pid(&self) -> &AnyPid {
        &self.target
    }

    /// Cancels the monitor: no `Down` will be seen.
    pub fn demonitor(self) {
        send_signal(&self.target, Signal::Demonitor(self.monitor_ref));
    }
}

impl Future for MonitorHandle {
    type Output = Down;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Down> {
        self.slot.poll_take(cx).map(|down| {
            down.unwrap_or_else(|| Down {
                monitor_ref: self.monitor_ref,
                pid: self.target.clone(),
                reason: ExitReason::NoProc,
            })
        })
    }
}

impl Node {
    /// Watches a process from outside any actor: the handle resolves to its `Down`.
    ///
    /// A process that is already dead gives `Down` with [`ExitReason::NoProc`] at once. Inside
    /// an actor, [`Ctx::monitor`](crate::Ctx::monitor) delivers the `Down` to `on_down`.
    ///
    /// ```
    /// # use actors::prelude::*;
    /// # #[actor] struct Counter { n: u64 }
    /// # #[actor] impl Counter {
    /// #     #[handle] fn add(&mut self, by: u64) -> u64 { self.n += by; self.n }
    /// #     #[handle(cast)] fn reset(&mut self) { self.n = 0 }
    /// # }
    /// # actors::rt::block_on(async {
    /// let node = Node::local();
    /// let counter = node.spawn(Counter { n: 0 });
    /// let watch = node.monitor(&counter);
    /// node.exit(&counter, ExitReason::Error("done".into()));
    /// assert_eq!(watch.await.reason, ExitReason::Error("done".into()));
    /// # });
    /// ```
    pub fn monitor(&self, pid: impl Into<AnyPid>) -> MonitorHandle {
        MonitorHandle::new(&self.inner, pid.into())
    }
}
