//! A `Reply` handed to a process on another node: the node that took the call lends it.
//!
//! Encoding a `Reply` spawns a small process on its node holding the call's slot; the
//! `Reply` crosses the wire as that process's pid. On the far side the answer (or its
//! absence, when that `Reply` is dropped) is encoded and cast back to the process, which
//! fills the slot and ends. It also ends when the caller has given up (its timeout), so a
//! `Reply` lent to a node that dies leaves nothing behind.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::call::{Reply, ReplySlot, To};
use crate::error::CallError;
use crate::pid::{AnyPid, Pid};
use crate::prelude::*;

/// How often a lent reply looks whether its caller gave up.
const WATCH: Duration = Duration::from_secs(1);

type Fill = Box<dyn FnOnce(Option<Vec<u8>>) + Send>;

/// Encodes an answer for the lending node.
type Encode<R> = fn(&Result<R, CallError>) -> Result<Vec<u8>, crate::WireError>;

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

fn encode<R: Serialize>(r: &Result<R, CallError>) -> Result<Vec<u8>, crate::WireError> {
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
    node: &crate::Node,
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
                slot: std::sync::Arc::new(crate::call::ReplySlot::new()),
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
