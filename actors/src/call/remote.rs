//! The remote half of calls and casts: a message to a process of another node handed to the
//! router, a reply coming back into the caller's slot, a call from another node answered
//! over the wire.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::half::{ReplyHalf, ReplySlot};
use crate::cbor::encode_reply;
use crate::decoding::decode;
use crate::error::{CallError, SendError, WireError};
use crate::exit::ExitReason;
use crate::kernel::actor::Actor;
use crate::kernel::cell::AnyCell;
use crate::kernel::node::Node;
use crate::kernel::pid::{AnyPid, AnyRoute, Route};
use crate::kernel::seam::{IncomingCall, Outbound, Pending, PendingCall, Responder};
use crate::sync::slot::Slot;

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
    reply: &ReplyHalf<R>,
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
) -> Result<ReplyHalf<R>, WireError> {
    let IncomingCall { responder, target } = call.take().ok_or_else(|| {
        WireError::Decode("a reply half can be decoded only from a call frame".into())
    })?;
    let slot = Slot::forward(move |result: Option<Result<R, CallError>>| match result {
        Some(result) => responder.respond(encode_reply(result.as_ref().map_err(Clone::clone))),
        None => answer_exit(responder, target),
    });
    Ok(ReplyHalf::new(Arc::new(slot)))
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
            crate::runtime::spawn(async move { respond(handle.await.reason) });
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
        Ok(crate::kernel::seam::Backlog::Busy) => {
            crate::process::note_busy(any);
            Ok(())
        }
        Err(CallError::Wire(e)) => Err(SendError::Wire(e)),
        Err(CallError::Overloaded) => Err(SendError::Overloaded),
        _ => Ok(()),
    }
}
