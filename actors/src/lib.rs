//! Typed Erlang-style processes for Rust.
//!
//! A process is an actor: private state, one mailbox, handlers run one message at a time.
//! `#[actor]` on a struct and its impl block turns `#[handle]` methods into a typed mailbox and
//! stub methods on [`Pid`]; a call awaits the reply (with a timeout), a cast does not wait.
//! Processes monitor and link to each other, trap exits, and are restarted by supervisors, as
//! in OTP. With `actors-net`, the same pids and calls work across nodes.
//!
//! ```
//! use actors::prelude::*;
//!
//! #[actor]
//! struct Counter { n: u64 }
//!
//! #[actor]
//! impl Counter {
//!     #[handle]
//!     fn add(&mut self, by: u64) -> u64 { self.n += by; self.n }
//!     #[handle]
//!     async fn get(&self) -> u64 { self.n }
//!     #[handle(cast)]
//!     fn reset(&mut self) { self.n = 0 }
//! }
//!
//! actors::rt::block_on(async {
//!     let node = Node::local();
//!     let c = node.spawn(Counter { n: 0 });
//!     assert_eq!(c.add(5).await, Ok(5));
//!     c.reset().unwrap();
//!     assert_eq!(c.get().await, Ok(0));
//! });
//! ```
//!
//! # A path through the library
//!
//! 1. [`actor`] and [`handle`]: declaring an actor, its calls and casts.
//! 2. [`Node`]: [`spawn`](Node::spawn), [`register`](Node::register) and
//!    [`whereis`](Node::whereis), [`monitor`](Node::monitor) from outside a process.
//! 3. [`Pid`]: calling ([`Call`], with its timeout), casting, comparing, sending pids in
//!    messages.
//! 4. [`Ctx`]: what a handler can do to its own process: [`monitor`](Ctx::monitor),
//!    [`link`](Ctx::link), [`trap_exit`](Ctx::trap_exit), timers, spawning children.
//! 5. [`supervisor`]: child specs, restart strategies and intensity, as OTP's.
//! 6. [`rt`]: the runtime seam (`block_on`, `spawn`, `sleep`, `timeout`); `sim` (feature
//!    `sim`): the same code in virtual time over a seeded network.
//! 7. Across nodes: the `beamish-actors-net` crate (`actors_net`), whose pids are these.
//!
//! # Features
//!
//! - `sim`: a simulated runtime, one thread and virtual time, for deterministic tests.
//! - `tokio`: every process is polled inside a tokio runtime's context, so handlers can use
//!   tokio libraries.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate self as actors;

/// The README's examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

mod call;
mod cbor;
mod decoding;
mod domain;
mod error;
mod exit;
mod extension;
mod id;
mod kernel;
mod kill;
mod lock;
mod mailbox;
mod message_codec;
mod monitor;
mod origin;
mod process;
mod registry;
mod runtime;
mod shown;
mod sync;

pub mod etf;
pub mod introspect;
/// The async runtime: spawn tasks, sleep, time out, block on a future. Every task, timer and
/// socket of the workspace goes through it, so moving to another runtime (or to the simulated
/// one of feature `sim`) is a change to one file.
pub mod rt {
    #[cfg(feature = "tokio")]
    pub use crate::runtime::tokio_handle;
    pub use crate::runtime::{
        Elapsed, Instant, JoinHandle, block_on, elapsed, now, sleep, spawn, spawn_blocking,
        timeout, yield_now,
    };
}
pub mod shape;
#[cfg(feature = "sim")]
pub mod sim;
pub mod supervisor;

/// On a struct, `#[actor]` declares an actor type; on its impl block, it turns the
/// `#[handle]` methods into the actor's typed mailbox and the stub methods on its [`Pid`].
/// The lifecycle hooks are plain methods named `started`, `stopped`, `on_down` and
/// `on_exit`. `docs/macros.md` lists every shape a handler may take.
///
/// ```
/// use actors::prelude::*;
///
/// #[actor]
/// struct Greeter { greeted: u32 }
///
/// #[actor]
/// impl Greeter {
///     /// A call: the caller awaits the reply.
///     #[handle]
///     fn greet(&mut self, name: String) -> String {
///         self.greeted += 1;
///         format!("hello, {name}")
///     }
///     /// A cast: the sender does not wait.
///     #[handle(cast)]
///     fn forget(&mut self) { self.greeted = 0 }
///     /// Runs before the first message.
///     fn started(&mut self, ctx: &mut Ctx<Self>) { let _ = ctx.pid(); }
/// }
///
/// # actors::rt::block_on(async {
/// let node = Node::local();
/// let greeter = node.spawn(Greeter { greeted: 0 });
/// assert_eq!(greeter.greet("joe".into()).await, Ok("hello, joe".to_string()));
/// greeter.forget().unwrap();
/// # });
/// ```
///
/// `#[actor(name = "...")]` on the struct fixes its wire name (else `module::path::Type`);
/// `#[actor(local)]` on the impl block makes an actor whose messages never cross the wire, so
/// its arguments need no serde.
pub use actors_macros::actor;
/// Marks a method of an `#[actor]` impl block as a handler: `#[handle]` for a call,
/// `#[handle(cast)]` for a cast. See [`actor`] for an example.
///
/// A handler takes `&self` or `&mut self`, owned arguments, and optionally
/// `ctx: &mut Ctx<Self>` anywhere among them; a call may take a [`Reply`] instead of
/// returning, to answer later:
///
/// ```
/// use actors::prelude::*;
///
/// #[actor]
/// struct Desk;
///
/// #[actor]
/// impl Desk {
///     #[handle]
///     fn later(&self, x: u32, reply: Reply<u32>) {
///         actors::rt::spawn(async move { reply.send(x * 2) });
///     }
/// }
///
/// # actors::rt::block_on(async {
/// let desk = Node::local().spawn(Desk);
/// assert_eq!(desk.later(21).await, Ok(42));
/// # });
/// ```
pub use actors_macros::handle;
pub use call::{Call, CallFuture, DEFAULT_TIMEOUT, Reply};
pub use error::{CallError, RegisterError, SendError, WireError};
pub use exit::{ExitReason, MonitorRef};
pub use id::{Identity, NodeId};
pub use kernel::actor::{Actor, Declared, Wire};
pub use kernel::ctx::{Ctx, TimerRef};
pub use kernel::node::{Node, WeakNode};
pub use kernel::pid::{AnyPid, Logged, Pid};
pub use kernel::signal::{Down, Exit, ProcessInfo};
pub use monitor::MonitorHandle;

/// Everything an actor module needs: `use actors::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Actor, AnyPid, CallError, Ctx, Down, Exit, ExitReason, MonitorRef, Node, Pid,
        RegisterError, Reply, SendError, Wire, actor, handle,
    };
}

/// The seam for distribution layers (`actors-net`): routing, signals and delivery of traffic
/// that crossed the wire. Applications do not need it.
pub mod dist;

#[doc(hidden)]
pub mod __private {
    pub use crate::call::{Call, ReplyHalf, cast, defer};
    pub use crate::dist::terms::generated as term;
    pub use crate::id::mix_identity;
    pub use crate::kernel::actor::{WireArg, WireReply, identity_of};
    pub use crate::kernel::pid::{Api, Route};
    pub use crate::kernel::seam::{IncomingCall, Pending};
    pub use crate::kill::{KillSwitch, Killable};
    pub use crate::message_codec::{
        Codec, Unencodable, ViaSerde, assert_wire_arg, assert_wire_reply, expect_end, put_tag,
        take_tag, unknown_handler,
    };
    pub use crate::shown::{Probe, ViaNothing, ViaSerialize};
    pub use serde;
}
