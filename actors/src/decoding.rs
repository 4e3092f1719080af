//! Decoding bound to a node: a pid decoded on node B is bound to B, so that sending to it
//! from B goes to the right place. The binding, and the origin of a message that came over
//! the wire, travel in a thread-local context set only for the duration of one synchronous
//! decode: serde gives a `Deserialize` impl no other way to receive context. The reply path
//! of a call does not: the encoder returns where the reply goes, and the decoder is given the
//! incoming call.

use std::cell::RefCell;
use std::sync::Arc;

use serde::de::{DeserializeOwned, Error as _, IgnoredAny};
use serde::{Deserialize, Deserializer};

use crate::cbor::decode_plain;
use crate::error::WireError;
use crate::id::NodeId;
use crate::kernel::actor::Actor;
use crate::kernel::node::{Node, NodeInner};
use crate::kernel::pid::{AnyPid, AnyRoute, Pid, RemoteAddr, Route, RouteKind, WirePid};
use crate::origin::Origin;

/// Decodes a CBOR value; pids inside are bound to `node`.
///
/// ```
/// # use actors::prelude::*;
/// # #[actor] struct Echo;
/// # #[actor] impl Echo { #[handle] fn echo(&self, x: u32) -> u32 { x } }
/// let node = Node::local();
/// let pid = node.spawn(Echo);
/// let mut bytes = Vec::new();
/// actors::dist::encode(&(pid.clone(), "hello"), &mut bytes).unwrap();
/// let (back, text): (Pid<Echo>, String) = actors::dist::decode(&node, &bytes).unwrap();
/// assert_eq!((back, text.as_str()), (pid, "hello"));
/// ```
pub fn decode<T: DeserializeOwned>(node: &Node, bytes: &[u8]) -> Result<T, WireError> {
    with_context(DecodeContext::new(node.inner.clone()), || {
        decode_plain(bytes)
    })
}

/// What decoding binds to: the node pids are bound to, and the origin of the message.
pub(crate) struct DecodeContext {
    pub(crate) node: Arc<NodeInner>,
    /// Set while decoding a message that came over the wire: who sent it, on which connection.
    pub(crate) origin: Origin,
}

impl DecodeContext {
    pub(crate) fn new(node: Arc<NodeInner>) -> Self {
        DecodeContext {
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

thread_local! {
    static DECODING: RefCell<Option<DecodeContext>> = const { RefCell::new(None) };
}

pub(crate) fn with_node<T>(node: &Node, f: impl FnOnce() -> T) -> T {
    with_context(DecodeContext::new(node.inner.clone()), f)
}

fn with_context<T>(ctx: DecodeContext, f: impl FnOnce() -> T) -> T {
    with_lent_context(&mut Some(ctx), f)
}

/// Runs `f` with `ctx` as the decoding context, lent for the while and put back after, so a
/// caller decoding message after message in one context sets it up once.
pub(crate) fn with_lent_context<T>(ctx: &mut Option<DecodeContext>, f: impl FnOnce() -> T) -> T {
    struct Restore<'a> {
        lent: &'a mut Option<DecodeContext>,
        before: Option<DecodeContext>,
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
            .ok_or("a pid can only be decoded by a node (actors::dist::decode)")?
            .node;
        let home = NodeId::new(&wire.node, wire.creation);
        if home == node.id
            && let Some(cell) = node.procs.get(wire.id)
        {
            // A pid read from an Erlang term does not say its actor type.
            if wire.identity != crate::etf::pids::ANY_IDENTITY
                && cell.identity().hash != wire.identity
            {
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

/// The pid a shape's trace decodes (`crate::shape`): of a node no process is on, so that a
/// trace needs no node and the pid it makes goes nowhere.
fn placeholder() -> Arc<RemoteAddr> {
    static NOWHERE: std::sync::OnceLock<crate::Node> = std::sync::OnceLock::new();
    let via = NOWHERE
        .get_or_init(|| crate::runtime::outside_simulation(crate::Node::local))
        .inner
        .clone();
    let home = via.id.clone();
    Arc::new(RemoteAddr::new(via, home, 0, 0))
}

/// Reads a pid's wire form from inside the newtype it travels in.
struct WireVisitor;

impl<'de> serde::de::Visitor<'de> for WireVisitor {
    type Value = WirePid<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a pid")
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<WirePid<'de>, D::Error> {
        WirePid::deserialize(d)
    }
}

fn wire_pid<'de, D: Deserializer<'de>>(d: D) -> Result<WirePid<'de>, D::Error> {
    d.deserialize_newtype_struct(crate::etf::pids::PID_TOKEN, WireVisitor)
}

impl<'de> Deserialize<'de> for AnyPid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = wire_pid(d)?;
        if crate::shape::tracing() {
            return Ok(AnyPid(AnyRoute::Remote(placeholder())));
        }
        bind_pid(wire).map_err(D::Error::custom)
    }
}

impl<'de, A: Actor> Deserialize<'de> for Pid<A> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if crate::shape::tracing() {
            // Not checked: the identity being traced may be `A`'s own.
            wire_pid(d)?;
            return Ok(Pid::from_route(Route(RouteKind::Remote(placeholder()))));
        }
        let any = AnyPid::deserialize(d)?;
        let found = any.view().identity_hash();
        any.downcast::<A>().ok_or_else(|| {
            D::Error::custom(format_args!(
                "pid of another actor type (identity {found:#x}) where a pid of {} was expected",
                A::identity().name
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Origin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d)?;
        Ok(decoding_origin())
    }
}
