//! What the attributes describe, once parsed: the input of validation and expansion.

use proc_macro2::Span;
use syn::{Attribute, Generics, Ident, LitStr, Type, Visibility};

/// `#[actor]` on a struct or enum: declares an actor type and its handle type.
pub struct ActorDecl {
    pub vis: Visibility,
    pub ident: Ident,
    pub generics: Generics,
    /// `name = "..."`: the wire name, instead of `module::path::Type`.
    pub name: Option<LitStr>,
}

/// `#[actor]` on an impl block: the handlers and hooks of an actor.
pub struct ActorImpl {
    pub self_ty: Type,
    /// The last segment of the self type's path: `Counter` in `impl super::Counter`.
    pub self_ident: Ident,
    pub generics: Generics,
    /// `local`: messages never cross the wire, so they need no serde.
    pub local: bool,
    /// `debug`: `debug_state` prints the state with `Debug`.
    pub debug: bool,
    pub handlers: Vec<Handler>,
    pub hooks: Vec<Hook>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HandlerKind {
    /// The caller awaits the reply.
    Call,
    /// Fire and forget.
    Cast,
}

pub struct Handler {
    pub ident: Ident,
    pub kind: HandlerKind,
    /// `#[handle(info)]`: a cast that also takes, whole, every term from a BEAM node that
    /// fits no other handler (Erlang's `handle_info`).
    pub info: bool,
    pub is_async: bool,
    /// The message arguments, in order (the context argument excluded).
    pub args: Vec<Arg>,
    /// Where the `&mut Ctx<Self>` argument sits among all arguments, if the handler takes it.
    pub ctx_pos: Option<usize>,
    /// The reply type; `None` for `-> ()` or no return type. For a handler that takes its
    /// `Reply<T>`, `T`.
    pub output: Option<Type>,
    /// Where a `Reply<T>` argument sits among all arguments, if the handler answers later
    /// through it rather than by returning; and the handler's own return type, which must
    /// be none.
    pub deferred: Option<(usize, Option<Type>)>,
    /// Doc comments, copied onto the stub method.
    pub docs: Vec<Attribute>,
    /// `#[cfg(..)]` attributes, copied onto everything generated for the handler: an
    /// attribute macro sees the items of both sides of a `cfg`, the compiler keeps one.
    pub cfgs: Vec<Attribute>,
    pub span: Span,
}

pub struct Arg {
    pub ident: Ident,
    pub ty: Type,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Started,
    Stopped,
    OnDown,
    OnExit,
}

impl HookKind {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "started" => HookKind::Started,
            "stopped" => HookKind::Stopped,
            "on_down" => HookKind::OnDown,
            "on_exit" => HookKind::OnExit,
            _ => return None,
        })
    }

    /// The hook a method of this name was likely meant to be: the names OTP, other actor
    /// libraries and typos give it. Such a method would never run, so it is refused.
    pub fn meant_by(name: &str) -> Option<Self> {
        Some(match name {
            "start" | "on_start" | "on_started" | "init" | "startup" | "pre_start" => {
                HookKind::Started
            }
            "stop" | "on_stop" | "on_stopped" | "terminate" | "post_stop" => HookKind::Stopped,
            "down" | "ondown" | "handle_down" | "on_monitor_down" => HookKind::OnDown,
            "onexit" | "handle_exit" | "on_exit_signal" | "on_link_exit" => HookKind::OnExit,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            HookKind::Started => "started",
            HookKind::Stopped => "stopped",
            HookKind::OnDown => "on_down",
            HookKind::OnExit => "on_exit",
        }
    }

    /// How many arguments the hook takes besides `self` and the optional context.
    pub fn arity(self) -> usize {
        match self {
            HookKind::Started => 0,
            HookKind::Stopped | HookKind::OnDown | HookKind::OnExit => 1,
        }
    }
}

pub struct Hook {
    pub kind: HookKind,
    pub is_async: bool,
    pub ctx_pos: Option<usize>,
}
