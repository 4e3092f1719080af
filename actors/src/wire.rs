//! The wire codec: values, messages and pids as CBOR (serde + ciborium), Erlang's
//! `term_to_binary`.
//!
//! Decoding is bound to a node: a pid decoded on node B is bound to B, so that sending to it
//! from B goes to the right place. The binding, and the origin of a message that came over
//! the wire, travel in a thread-local context set only for the duration of one synchronous
//! decode: serde gives a `Deserialize` impl no other way to receive context. The reply path
//! of a call does not: the encoder returns where the reply goes, and the decoder is given the
//! incoming call.

use std::cell::RefCell;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::actor::Actor;
use crate::call::{ReplyHalf as Reply, ReplySlot};
use crate::cell::AnyCell;
use crate::error::{CallError, SendError, WireError};
use crate::exit::ExitReason;
use crate::node::{Node, NodeId, NodeInner};
use crate::origin::Origin;
use crate::pid::{AnyPid, AnyRoute, RemoteAddr, Route, WirePid};
use crate::sync::slot::Slot;

// Decoding relies on ciborium's own recursion limit (256 levels): deeper input is rejected,
// not recursed into, whatever a peer sends.

/// Encodes `value` as CBOR, appending to `out`.
pub fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), WireError> {
    ciborium::into_writer(value, out).map_err(|e| WireError::Encode(e.to_string()))
}

/// Decodes a CBOR value; pids inside are bound to `node`.
///
/// ```
/// # use actors::prelude::*;
/// # #[actor] struct Echo;
/// # #[actor] impl Echo { #[handle] fn echo(&self, x: u32) -> u32 { x } }
/// let node = Node::local();
/// let pid = node.spawn(Echo);
/// let mut bytes = Vec::new();
/// actors::wire::encode(&(pid.clone(), "hello"), &mut bytes).unwrap();
/// let (back, text): (Pid<Echo>, String) = actors::wire::decode(&node, &bytes).unwrap();
/// assert_eq!((back, text.as_str()), (pid, "hello"));
/// ```
pub fn decode<T: DeserializeOwned>(node: &Node, bytes: &[u8]) -> Result<T, WireError> {
    with_context(Context::new(node.inner.clone()), || decode_raw(bytes))
}

thread_local! {
    /// ciborium's scratch space for text and byte strings; reused, since zeroing a fresh 4 KiB
    /// buffer for every message costs more than decoding a small one.
    static SCRATCH: RefCell<Box<[u8; 4096]>> = RefCell::new(Box::new([0; 4096]));
}

fn decode_raw<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    let decode = |scratch: &mut [u8]| {
        ciborium::de::from_reader_with_buffer(bytes, scratch)
            .map_err(|e| WireError::Decode(e.to_string()))
    };
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut scratch) => decode(&mut scratch[..]),
        // A decode inside a decode (a type decoding another value itself) gets its own.
        Err(_) => decode(&mut [0u8; 4096]),
    })
}

/// Decodes a value without binding pids to a node: for values that hold none.
pub fn decode_msg<M: DeserializeOwned>(bytes: &[u8]) -> Result<M, WireError> {
    decode_raw(bytes)
}

/// Decodes one CBOR item from the front of `input`, advancing it past the item.
pub(crate) fn decode_item<T: DeserializeOwned>(input: &mut &[u8]) -> Result<T, WireError> {
    let decode = |scratch: &mut [u8], input: &mut &[u8]| {
        ciborium::de::from_reader_with_buffer(input, scratch)
            .map_err(|e| WireError::Decode(e.to_string()))
    };
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut scratch) => decode(&mut scratch[..], input),
        Err(_) => decode(&mut [0u8; 4096], input),
    })
}

pub(crate) struct Context {
    pub(crate) node: Arc<NodeInner>,
    /// Set while decoding a message that came over the wire: who sent it, on which connection.
    pub(crate) origin: Origin,
}

impl Context {
    pub(crate) fn new(node: Arc<NodeInner>) -> Self {
        Context {
            node,
            origin: Origin::local(),
        }
    }
}

/// The origin of the message being decoded: filled into an [`Origin`] argument.
pub(crate) fn decoding_origin() -> Origin {
    DECODING.with(|d| {
        d.borrow()
            .as_ref()
            .map(|c| c.origin.clone())
            .unwrap_or_default()
    })
}

/// A call that came over the wire, given to the decoder of its message: who answers it, and
/// the process it is for (whose exit reason answers it if it ends first).
pub struct IncomingCall {
    pub(crate) responder: Box<dyn Responder>,
    pub(crate) target: Arc<dyn AnyCell>,
}

/// Where a call's reply goes, as its encoder returns it.
pub type Pending = Box<dyn PendingCall>;

thread_local! {
    static DECODING: RefCell<Option<Context>> = const { RefCell::new(None) };
}

pub(crate) fn with_node<T>(node: &Node, f: impl FnOnce() -> T) -> T {
    with_context(Context::new(node.inner.clone()), f)
}

fn with_context<T>(ctx: Context, f: impl FnOnce() -> T) -> T {
    with_lent_context(&mut Some(ctx), f)
}

/// Runs `f` with `ctx` as the decoding context, lent for the while and put back after, so a
/// caller decoding message after message in one context sets it up once.
pub(crate) fn with_lent_context<T>(ctx: &mut Option<Context>, f: impl FnOnce() -> T) -> T {
    struct Restore<'a> {
        lent: &'a mut Option<Context>,
        before: Option<Context>,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let before = self.before.take();
            *self.lent = DECODING.with(|d| std::mem::replace(&mut *d.borrow_mut(), before));
        }
    }
    let before = DECODING.with(|d| std::mem::replace(&mut *d.borrow_mut(), ctx.take()));
    let _restore = Restore { lent: ctx, before };
    f()
}

/// Turns a decoded wire pid into a pid bound to the decoding node.
pub(crate) fn bind_pid(wire: WirePid<'_>) -> Result<AnyPid, String> {
    DECODING.with(|d| {
        let d = d.borrow();
        let node = &d
            .as_ref()
            .ok_or("a pid can only be decoded by a node (actors::wire::decode)")?
            .node;
        let home = NodeId::new(&wire.node, wire.creation);
        if home == node.id
            && let Some(cell) = node.procs.get(wire.id)
        {
            if cell.identity().hash != wire.identity {
                return Err(format!(
                    "pid {} names a {} but claims another actor type",
                    wire.id,
                    cell.identity().name
                ));
            }
            return Ok(AnyPid(AnyRoute::Local(cell)));
        }
        Ok(AnyPid(AnyRoute::Remote(Arc::new(RemoteAddr::new(
            node.clone(),
            home,
            wire.id,
            wire.identity,
        )))))
    })
}

/// Appends an encoded message to a buffer; for a call, returns where its reply goes.
pub type Encode<'a> =
    dyn FnMut(&mut Vec<u8>) -> Result<Option<Box<dyn PendingCall>>, WireError> + 'a;

/// A message bound for a process of another node. The router encodes it straight into the
/// connection's buffer with `encode`, which returns, for a call, where the reply goes.
pub struct Outbound<'a> {
    /// The wire identity hash of the target's actor type.
    pub identity: u64,
    /// True for a call (a reply is expected), false for a cast.
    pub is_call: bool,
    /// Appends the CBOR-encoded message; for a call, returns its pending reply.
    pub encode: &'a mut Encode<'a>,
}

/// The caller's side of a call in flight to another node.
pub trait PendingCall: Send {
    /// Completes the call with the reply frame's payload (CBOR of `Result<R, CallError>`),
    /// or with an error such as `NoConnection`.
    fn complete(self: Box<Self>, node: &Node, reply: Result<&[u8], CallError>);
    /// True once the caller stopped waiting (timed out or dropped the call).
    fn abandoned(&self) -> bool;
}

/// The callee's side of a call from another node: sends the encoded reply back.
pub trait Responder: Send {
    /// Sends the reply payload: CBOR of `Result<R, CallError>`.
    fn respond(self: Box<Self>, payload: Vec<u8>);
}

struct PendingReply<R> {
    slot: Arc<ReplySlot<R>>,
}

impl<R: DeserializeOwned + Send + 'static> PendingCall for PendingReply<R> {
    fn complete(self: Box<Self>, node: &Node, reply: Result<&[u8], CallError>) {
        let result = reply.and_then(|bytes| {
            decode::<Result<R, CallError>>(node, bytes).unwrap_or_else(|e| Err(e.into()))
        });
        self.slot.fill(result);
    }

    fn abandoned(&self) -> bool {
        !self.slot.is_empty() || Arc::strong_count(&self.slot) == 1
    }
}

/// Takes a call's reply slot out of its message, for the reply coming back over the wire.
pub(crate) fn pending<R: DeserializeOwned + Send + 'static>(
    reply: &Reply<R>,
) -> Result<Pending, WireError> {
    let slot = reply
        .0
        .take()
        .ok_or_else(|| WireError::Encode("a call's reply half was already sent".into()))?;
    Ok(Box::new(PendingReply { slot }))
}

/// The reply half of a call that came over the wire, answering over the wire.
pub(crate) fn reply_to<R: Serialize + Send + 'static>(
    call: &mut Option<IncomingCall>,
) -> Result<Reply<R>, WireError> {
    let IncomingCall { responder, target } = call.take().ok_or_else(|| {
        WireError::Decode("a reply half can be decoded only from a call frame".into())
    })?;
    let slot = Slot::forward(move |result: Option<Result<R, CallError>>| match result {
        Some(result) => responder.respond(encode_reply(result.as_ref().map_err(Clone::clone))),
        None => answer_exit(responder, target),
    });
    Ok(Reply::new(Arc::new(slot)))
}

/// CBOR of `Result<R, CallError>`; an unencodable value becomes an error reply.
fn encode_reply<R: Serialize>(result: Result<&R, CallError>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(e) = encode(&result, &mut out) {
        out.clear();
        let err: Result<(), CallError> = Err(CallError::Wire(e));
        // Encoding a unit-or-error value cannot fail.
        let _ = encode(&err, &mut out);
    }
    out
}

/// The callee ended without replying: tell the caller why, once the reason is known.
fn answer_exit(responder: Box<dyn Responder>, target: Arc<dyn AnyCell>) {
    let respond = move |reason: ExitReason| {
        responder.respond(encode_reply::<()>(Err(CallError::exited(reason))))
    };
    match target.exit_reason() {
        Some(reason) => respond(reason),
        None => {
            // Still unwinding from a panic: the monitor resolves once it has ended.
            let handle =
                Node::from_inner(target.node().clone()).monitor(AnyPid(AnyRoute::Local(target)));
            crate::rt::spawn(async move { respond(handle.await.reason) });
        }
    }
}

pub(crate) fn send_call<A: Actor>(target: &Route<A>, msg: A::Msg) -> Result<(), CallError> {
    let router = target
        .view()
        .binding()
        .router()
        .ok_or(CallError::NoConnection)?;
    let any = target.any();
    let mut encode = |out: &mut Vec<u8>| match A::encode_msg(&msg, out)? {
        Some(pending) => Ok(Some(pending)),
        None => Err(WireError::Encode(
            "a call message carried no reply half".into(),
        )),
    };
    router
        .send(
            &any,
            Outbound {
                identity: A::identity().hash,
                is_call: true,
                encode: &mut encode,
            },
        )
        .map(drop)
}

pub(crate) fn send_cast<A: Actor>(target: &Route<A>, msg: A::Msg) -> Result<(), SendError> {
    let Some(router) = target.view().binding().router() else {
        return Ok(());
    };
    let any = target.any();
    let mut encode = |out: &mut Vec<u8>| A::encode_msg(&msg, out).map(|_| None);
    // A cast to an unreachable node is dropped, as an Erlang send is; one that cannot be
    // encoded is the sender's error.
    match router.send(
        &any,
        Outbound {
            identity: A::identity().hash,
            is_call: false,
            encode: &mut encode,
        },
    ) {
        Ok(crate::router::Backlog::Busy) => {
            crate::process::note_busy(any);
            Ok(())
        }
        Err(CallError::Wire(e)) => Err(SendError::Wire(e)),
        Err(CallError::Overloaded) => Err(SendError::Overloaded),
        _ => Ok(()),
    }
}

/// Answers a call's `responder`, if it is one, with `err`; and returns it.
pub(crate) fn fail(responder: Option<Box<dyn Responder>>, err: CallError) -> Result<(), CallError> {
    if let Some(r) = responder {
        r.respond(encode_reply::<()>(Err(err.clone())));
    }
    Err(err)
}
