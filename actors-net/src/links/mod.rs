//! The overlay run by a node: links to a few neighbours (the partial view's active peers),
//! and sessions to every other node relayed along them, each a
//! [`Stream`](crate::transport::Stream) that the node's handshake and connections run over
//! unchanged. The protocols themselves (views, routes, the links' frames) are in
//! [`crate::overlay`], with no I/O; this is where they meet sockets and timers.

mod host;
mod link;
mod notes;
mod overlay;
mod sessions;

pub(crate) use host::Host;
pub(crate) use notes::Noted;
pub(crate) use overlay::Overlay;
