//! The rules of a well-formed actor, each broken rule a spanned error on the user's code,
//! reported before any code is emitted.

use syn::spanned::Spanned;
use syn::{Error, GenericParam, Type};

use crate::model::HandlerKind;
use crate::parse::{ParsedImpl, Receiver};

/// Names a handler cannot take: `Pid`'s own methods would shadow the stub.
const RESERVED: &[&str] = &[
    "any",
    "id",
    "node",
    "is_local",
    "downcast",
    "clone",
    "eq",
    "ne",
    "hash",
    "fmt",
    "to_string",
    "serialize",
    "deref",
    "into",
    "route",
    "from_route",
];

struct Errors(Option<Error>);

impl Errors {
    fn push(&mut self, span: proc_macro2::Span, msg: impl std::fmt::Display) {
        let e = Error::new(span, msg);
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
}

/// Checks a parsed impl block; every broken rule is one error, all reported together.
pub fn actor_impl(parsed: &ParsedImpl) -> syn::Result<()> {
    let ParsedImpl {
        actor,
        methods,
        handled_hooks,
        hook_methods,
        misnamed_hooks,
        trait_impl,
        item: _,
    } = parsed;
    let mut errors = Errors(None);

    if let Some(span) = *trait_impl {
        errors.push(
            span,
            "`#[actor]` goes on the actor's own impl block, not on a trait impl",
        );
    }
    for param in &actor.generics.params {
        if let GenericParam::Lifetime(l) = param {
            errors.push(
                l.span(),
                "actors live as long as their process: lifetime parameters are not supported",
            );
        }
    }
    for (name, kind, span) in misnamed_hooks {
        errors.push(
            *span,
            format_args!(
                "`{name}` is not a lifecycle hook and would never run: the hook is `{}`; a helper of this name belongs in a plain `impl` block",
                kind.name()
            ),
        );
    }
    for &span in handled_hooks {
        errors.push(
            span,
            "this is a lifecycle hook, run by the runtime: remove `#[handle]` from it",
        );
    }
    for &(kind, ref receiver, arity, span) in hook_methods {
        if !matches!(receiver, Receiver::Mut | Receiver::Ref) {
            errors.push(
                span,
                format_args!("the `{}` hook takes `&mut self`", kind.name()),
            );
        }
        if arity != kind.arity() {
            let expected = match kind.name() {
                "started" => "`fn started(&mut self, ctx: &mut Ctx<Self>)` (ctx optional)",
                "stopped" => {
                    "`fn stopped(&mut self, reason: &ExitReason, ctx: &mut Ctx<Self>)` (ctx optional)"
                }
                "on_down" => {
                    "`fn on_down(&mut self, down: Down, ctx: &mut Ctx<Self>)` (ctx optional)"
                }
                _ => "`fn on_exit(&mut self, exit: Exit, ctx: &mut Ctx<Self>)` (ctx optional)",
            };
            errors.push(span, format_args!("hook signature: {expected}"));
        }
    }

    let mut infos = methods.iter().filter(|m| m.handler.info);
    if let (Some(_), Some(second)) = (infos.next(), infos.next()) {
        errors.push(
            second.handler.span,
            "an actor has one `#[handle(info)]` handler: it takes whatever fits no other",
        );
    }
    for method in methods {
        let h = &method.handler;
        if h.info && h.args.len() != 1 {
            errors.push(
                h.span,
                "a `#[handle(info)]` handler takes one argument, the whole message (an `actors::etf::Term`, or a type it reads as)",
            );
        }
        match method.receiver {
            Receiver::Ref | Receiver::Mut => {}
            Receiver::Value(span) => errors.push(
                span,
                "a handler takes `&self` or `&mut self`, not `self`: the actor lives on after the message",
            ),
            Receiver::None => errors.push(
                h.span,
                "a handler is a method: it takes `&self` or `&mut self`",
            ),
        }
        if let Some(span) = method.generics {
            errors.push(
                span,
                "handlers cannot be generic: each handler is one variant of the actor's message type",
            );
        }
        if let Some((_, own)) = &h.deferred {
            if let Some(own) = own {
                errors.push(
                    own.span(),
                    "a handler that takes its `Reply<T>` answers through it (`reply.send(value)`), so it returns nothing",
                );
            }
        } else if let (HandlerKind::Cast, Some(out)) = (h.kind, &h.output) {
            errors.push(
                out.span(),
                "a cast handler cannot return a value, since no one waits for it: use `#[handle]` for a call",
            );
        }
        let name = h.ident.to_string();
        if RESERVED.contains(&name.as_str()) {
            errors.push(
                h.span,
                format_args!("`{name}` is a method of `Pid` itself, which would hide this handler's stub: rename the handler"),
            );
        }
        for arg in &h.args {
            match &arg.ty {
                Type::Reference(_) => errors.push(
                    arg.ty.span(),
                    "handler arguments must be owned (`String`, not `&str`): the message outlives the sender's borrow",
                ),
                Type::ImplTrait(_) => errors.push(
                    arg.ty.span(),
                    "handler arguments need a concrete type: each becomes a field of the actor's message",
                ),
                _ => {}
            }
        }
    }

    match errors.0 {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
