//! The `Actor` trait that `#[actor]` implements, and the wire identity of actor types.

use std::future::Future;

use crate::error::WireError;
use crate::exit::ExitReason;
use crate::id::Identity;
use crate::kernel::ctx::Ctx;
use crate::kernel::pid::Api;
use crate::kernel::signal::{Down, Exit};
use crate::lock::Unpoisoned;

/// The identity of generic actor type `A`, made by `make` the first time it is asked for in
/// this process (a `static` in generic code is one for every instance of it, so generic
/// actors keep theirs here, by type).
pub fn identity_of<A: 'static>(make: impl FnOnce() -> Identity) -> Identity {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::{OnceLock, RwLock};
    static KNOWN: OnceLock<RwLock<HashMap<TypeId, Identity>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    let found = known.read().unpoisoned().get(&TypeId::of::<A>()).copied();
    found.unwrap_or_else(|| {
        // Made outside the lock: tracing a shape may ask for other identities.
        let made = make();
        *known
            .write()
            .unpoisoned()
            .entry(TypeId::of::<A>())
            .or_insert(made)
    })
}

/// An actor: private state, one mailbox, handlers run one message at a time.
///
/// Implemented by `#[actor]` on an impl block; write that rather than this trait by hand.
/// The lifecycle hooks are written as plain methods of that impl block, by name: `started`,
/// `stopped`, `on_down` and `on_exit`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an actor",
    label = "not an actor",
    note = "write `#[actor]` on the struct and on an impl block holding its `#[handle]` methods"
)]
pub trait Actor: Sized + Send + 'static {
    /// The typed mailbox: one variant per handler (generated).
    type Msg: Send + 'static;
    /// The handle type carrying the stub methods (generated, `{Type}Api`).
    type Api: Api<Self>;
    /// The wire identity of this actor type: its name, and a hash of its handlers'
    /// signatures and of the wire shapes of their argument and reply types (generated;
    /// computed once per process).
    fn identity() -> Identity;

    /// Runs the handler a message is for.
    fn handle(&mut self, msg: Self::Msg, ctx: &mut Ctx<Self>) -> impl Future<Output = ()> + Send;

    /// The name of the handler a message is for, for crash reports.
    fn handler_name(_msg: &Self::Msg) -> &'static str {
        "?"
    }

    /// Runs once, before the first message.
    fn started(&mut self, _ctx: &mut Ctx<Self>) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Runs once when the process ends, for any reason but `Killed`.
    fn stopped(
        &mut self,
        _reason: &ExitReason,
        _ctx: &mut Ctx<Self>,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// A process this one monitors has ended.
    fn on_down(&mut self, _down: Down, _ctx: &mut Ctx<Self>) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// An exit signal arrived while this process traps exits.
    fn on_exit(&mut self, _exit: Exit, _ctx: &mut Ctx<Self>) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Its state printed with `Debug`, for `process_info` with the state (as OTP's
    /// `sys:get_state`); `None` unless the actor opts in with `#[actor(debug)]` on its impl
    /// block (generated), since a state may hold what should not be shown.
    fn debug_state(&self) -> Option<String> {
        None
    }

    /// Its state as an Erlang term, when the actor opts in with `#[actor(debug)]` and its
    /// state is `Serialize` (generated), for `sys:get_state` from a BEAM node.
    fn state_term(&self) -> Option<crate::etf::Term> {
        None
    }

    /// Encodes a message for the wire; for a call, returns where its reply goes, which the
    /// encoding takes from the message (generated; fails for `#[actor(local)]`).
    fn encode_msg(
        msg: &Self::Msg,
        out: &mut Vec<u8>,
    ) -> Result<Option<crate::kernel::seam::Pending>, WireError>;

    /// Decodes a message from the wire; a call's reply half is made from `call`, the incoming
    /// call it arrived as (generated; fails for `#[actor(local)]`).
    fn decode_msg(
        bytes: &[u8],
        call: &mut Option<crate::kernel::seam::IncomingCall>,
    ) -> Result<Self::Msg, WireError>;

    /// Reads a message from an Erlang term, `{handler, Arg1, ..}` or `handler`, as a BEAM
    /// node sends it; a call's reply half answers `call` with a term (generated; fails for
    /// `#[actor(local)]`).
    fn decode_term(
        request: &crate::etf::Term,
        _call: &mut Option<crate::kernel::seam::IncomingCall>,
    ) -> Result<Self::Msg, WireError> {
        let _ = request;
        Err(WireError::NotRemote(Self::identity().name.into()))
    }
}

/// What `#[actor]` on a struct declares: the actor's wire name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not declared as an actor",
    label = "its struct has no `#[actor]` attribute",
    note = "write `#[actor]` on the struct as well as on its impl block"
)]
pub trait Declared {
    /// The wire name: `module::path::Type` unless `#[actor(name = "...")]` says otherwise.
    const NAME: &'static str;
}

/// A value that can cross the wire: what the arguments and replies of a remote actor's
/// handlers must be. Bound a generic remote actor's type parameters with it:
/// `impl<T: Wire + Clone> Store<T>`.
pub trait Wire: serde::Serialize + serde::de::DeserializeOwned + Send + 'static {}

impl<T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static> Wire for T {}

/// The bound on each argument of a remote actor's handler: `H` and `A` are marker types named
/// after the handler and the argument, so that the error names them.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross the wire, as argument `{A}` of handler `{H}`",
    label = "not Serialize + Deserialize",
    note = "derive serde's `Serialize` and `Deserialize` for it, or write `#[actor(local)]` on the impl block if this actor's messages never leave its node",
    note = "a type parameter of the actor needs the `Wire` bound: `impl<T: actors::Wire> ...` (on the struct too)"
)]
pub trait WireArg<H, A> {}

impl<T: serde::Serialize + serde::de::DeserializeOwned, H, A> WireArg<H, A> for T {}

/// The bound on the reply of a remote actor's call handler.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross the wire, as the reply of handler `{H}`",
    label = "not Serialize + Deserialize",
    note = "derive serde's `Serialize` and `Deserialize` for it, or write `#[actor(local)]` on the impl block if this actor's messages never leave its node",
    note = "a type parameter of the actor needs the `Wire` bound: `impl<T: actors::Wire> ...` (on the struct too)"
)]
pub trait WireReply<H> {}

impl<T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static, H> WireReply<H> for T {}
