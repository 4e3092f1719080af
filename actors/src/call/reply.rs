//! A `Reply` a handler takes to answer later, here or from another node.
//!
//! Lent across the wire: encoding a `Reply` spawns a small process on its node holding the
//! call's slot; the `Reply` crosses the wire as that process's pid. On the far side the
//! answer (or its absence, when that `Reply` is dropped) is encoded and cast back to the
//! process, which fills the slot and ends. It also ends when the caller has given up (its
//! timeout), so a `Reply` lent to a node that dies leaves nothing behind.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use actors_macros::actor;

use super::half::{ReplyHalf, ReplySlot};
use crate::error::CallError;
use crate::exit::ExitReason;
use crate::kernel::ctx::Ctx;
use crate::kernel::pid::{AnyPid, Pid};
use crate::lock::Unpoisoned;

/// How often a lent reply looks whether its caller gave up.
const WATCH: Duration = Duration::from_secs(1);

type Fill = Box<dyn FnOnce(Option<Vec<u8>>) + Send>;

/// Encodes an answer for the lending node.
type Encode<R> = fn(&Result<R, CallError>) -> Result<Vec<u8>, crate::error::WireError>;

/// The process that answers a lent `Reply`'s caller.
#[actor(name = "actors.LentReply")]
pub(crate) struct LentReply {
    fill: Option<Fill>,
    /// True once the caller has its answer or gave up.
    done: Box<dyn Fn() -> bool + Send>,
}

#[actor]
impl LentReply {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        ctx.send_after(WATCH, |me| me.watch());
    }

    /// The answer, encoded (`None`: the `Reply` was dropped unanswered).
    #[handle(cast)]
    fn answer(&mut self, payload: Option<Vec<u8>>, ctx: &mut Ctx<Self>) {
        if let Some(fill) = self.fill.take() {
            fill(payload);
        }
        ctx.stop(ExitReason::Normal);
    }

    #[handle(cast)]
    fn watch(&mut self, ctx: &mut Ctx<Self>) {
        if (self.done)() {
            ctx.stop(ExitReason::Normal);
        } else {
            ctx.send_after(WATCH, |me| me.watch());
        }
    }
}

/// A lent `Reply` on the far side: where its answer goes, and how it is encoded.
pub(crate) struct Lender<R> {
    to: Pid<LentReply>,
    encode: Encode<R>,
}

impl<R> Lender<R> {
    pub(crate) fn answer(self, result: Option<Result<R, CallError>>) {
        let payload = match result {
            None => None,
            Some(r) => Some(
                (self.encode)(&r)
                    .or_else(|e| (self.encode)(&Err(CallError::Wire(e))))
                    .unwrap_or_default(),
            ),
        };
        let _ = self.to.answer(payload);
    }
}

fn encode<R: Serialize>(r: &Result<R, CallError>) -> Result<Vec<u8>, crate::error::WireError> {
    let mut out = Vec::new();
    crate::cbor::encode(r, &mut out)?;
    Ok(out)
}

/// Lends the reply: its process's pid is what crosses the wire.
impl<R: Serialize + DeserializeOwned + Send + 'static> Serialize for Reply<R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let pid: AnyPid = match self.take() {
            Some(To::Here {
                slot,
                node: Some(node),
            }) => lend(&node, slot).any(),
            // Handed on again: the same lender answers.
            Some(To::There(lender)) => lender.to.any(),
            _ => return Err(S::Error::custom("this Reply was answered or sent already")),
        };
        pid.serialize(s)
    }
}

fn lend<R: DeserializeOwned + Send + 'static>(
    node: &crate::kernel::node::Node,
    slot: Arc<ReplySlot<R>>,
) -> Pid<LentReply> {
    let watched: Weak<ReplySlot<R>> = Arc::downgrade(&slot);
    let at = node.clone();
    let fill: Fill = Box::new(move |payload| {
        let result = match payload {
            None => Err(CallError::NoReply),
            Some(bytes) => crate::decoding::decode::<Result<R, CallError>>(&at, &bytes)
                .unwrap_or_else(|e| Err(CallError::Wire(e))),
        };
        slot.fill(result);
    });
    node.spawn(LentReply {
        fill: Some(fill),
        done: Box::new(move || watched.upgrade().is_none_or(|s| s.is_settled())),
    })
}

impl<'de, R: Serialize + DeserializeOwned + Send + 'static> Deserialize<'de> for Reply<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pid = AnyPid::deserialize(d)?;
        if crate::shape::tracing() {
            // A trace's reply answers no one (`crate::shape`).
            return Ok(Reply::new(To::Here {
                slot: std::sync::Arc::new(ReplySlot::new()),
                node: None,
            }));
        }
        let to = pid
            .downcast::<LentReply>()
            .ok_or_else(|| D::Error::custom("a pid where a lent Reply was expected"))?;
        Ok(Reply::new(To::There(Lender {
            to,
            encode: encode::<R>,
        })))
    }
}

/// The reply a caller awaits, taken by a handler that answers later: a handler with a
/// `Reply<T>` argument (and no return value) is a call returning `T` to its caller, answered
/// when [`Reply::send`] is called, from this process or from any task or process it hands
/// the `Reply` to (a cast handler may take one as an argument), on this node or another: a
/// `Reply` sent to another node is lent, and its answer comes back through this node. Its
/// mailbox goes on meanwhile, as OTP's `{noreply, State}` and `gen_server:reply/2`. A `Reply` dropped unanswered fails its caller with
/// [`CallError::NoReply`] at once; the caller's timeout holds as for any call.
///
/// ```
/// use actors::prelude::*;
///
/// #[actor]
/// struct Router { shard: Pid<Shard> }
///
/// #[actor]
/// impl Router {
///     /// Asks the shard without holding the router's mailbox.
///     #[handle]
///     fn get(&self, key: u32, reply: Reply<Option<u32>>) {
///         let shard = self.shard.clone();
///         actors::rt::spawn(async move { reply.send(shard.get(key).await.ok().flatten()) });
///     }
/// }
///
/// #[actor]
/// struct Shard;
///
/// #[actor]
/// impl Shard {
///     #[handle]
///     fn get(&self, key: u32) -> Option<u32> { Some(key * 2) }
/// }
///
/// actors::rt::block_on(async {
///     let node = Node::local();
///     let shard = node.spawn(Shard);
///     let router = node.spawn(Router { shard });
///     assert_eq!(router.get(21).await, Ok(Some(42)));
/// });
/// ```
#[must_use = "a Reply dropped unanswered fails its caller with NoReply"]
pub struct Reply<R> {
    /// Taken when answered, or when the `Reply` is encoded to cross the wire (through
    /// `&self`, as serde encodes), hence the lock.
    to: std::sync::Mutex<Option<To<R>>>,
}

/// Where an answer goes.
pub(crate) enum To<R> {
    /// The call's own slot, on the node that took the call.
    Here {
        slot: Arc<ReplySlot<R>>,
        /// That node: a `Reply` handed to another node is lent from it.
        node: Option<crate::kernel::node::Node>,
    },
    /// A `Reply` lent by another node: the answer goes back to it, encoded.
    There(Lender<R>),
}

impl<R> Reply<R> {
    pub(crate) fn new(to: To<R>) -> Self {
        Reply {
            to: std::sync::Mutex::new(Some(to)),
        }
    }

    pub(crate) fn take(&self) -> Option<To<R>> {
        self.to.lock().unpoisoned().take()
    }

    fn answer(&self, result: Result<R, CallError>) {
        match self.take() {
            Some(To::Here { slot, .. }) => {
                slot.fill(result);
            }
            Some(To::There(lender)) => lender.answer(Some(result)),
            None => {}
        }
    }

    /// Answers the caller (on this node or another). Once the caller has given up (its
    /// timeout passed), the value is dropped.
    pub fn send(self, value: R) {
        self.answer(Ok(value));
    }

    /// Fails the call with `error` instead of answering it.
    pub fn fail(self, error: CallError) {
        self.answer(Err(error));
    }

    /// True once the call is over: answered, failed, or given up by its caller (timeout).
    /// A `Reply` lent by another node cannot tell, and says `false` until answered here.
    pub fn is_done(&self) -> bool {
        match &*self.to.lock().unpoisoned() {
            Some(To::Here { slot, .. }) => slot.is_settled(),
            Some(To::There(_)) => false,
            None => true,
        }
    }
}

impl<R> std::fmt::Debug for Reply<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Reply({})",
            if self.is_done() { "done" } else { "awaited" }
        )
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        match self.take() {
            Some(To::Here { slot, .. }) => {
                slot.fill(Err(CallError::NoReply));
            }
            Some(To::There(lender)) => lender.answer(None),
            None => {}
        }
    }
}

/// The handler-facing `Reply` of a call's reply half (generated dispatch of a handler that
/// takes its `Reply`), on the node that took the call.
#[doc(hidden)]
pub fn defer<R>(half: ReplyHalf<R>, node: crate::kernel::node::Node) -> Reply<R> {
    match half.0.take() {
        Some(slot) => Reply::new(To::Here {
            slot,
            node: Some(node),
        }),
        None => Reply {
            to: std::sync::Mutex::new(None),
        },
    }
}
