//! Reads the attribute arguments and the annotated item into the model.
//!
//! Only what cannot be represented in the model is rejected here; the rules about what a
//! well-formed actor is live in `validate`.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, ReturnType, Type, TypePath,
};

use crate::model::{ActorDecl, ActorImpl, Arg, Handler, HandlerKind, Hook, HookKind};

/// How a method takes `self`.
#[derive(Clone, Copy)]
pub enum Receiver {
    Ref,
    Mut,
    Value(Span),
    None,
}

/// A method as read, before validation turns it into a handler or hook.
pub struct Method {
    pub receiver: Receiver,
    pub generics: Option<Span>,
    pub handler: Handler,
}

pub struct ParsedImpl {
    pub actor: ActorImpl,
    pub methods: Vec<Method>,
    /// Hook methods that also carry `#[handle]`.
    pub handled_hooks: Vec<Span>,
    /// Hook methods, with their receivers, for validation.
    pub hook_methods: Vec<(HookKind, Receiver, usize, Span)>,
    /// Methods named as a hook is often misnamed (`start`, `terminate`): never run.
    pub misnamed_hooks: Vec<(String, HookKind, Span)>,
    pub trait_impl: Option<Span>,
    /// The impl block with the `#[handle]` attributes removed, to be emitted as written.
    pub item: ItemImpl,
}

impl ParsedImpl {
    /// The model of a checked impl block, and the block to emit as written: the one place the
    /// model is put together.
    pub fn into_model(self) -> (ActorImpl, ItemImpl) {
        let mut actor = self.actor;
        actor
            .handlers
            .extend(self.methods.into_iter().map(|m| m.handler));
        (actor, self.item)
    }
}

pub fn decl_args(attr: TokenStream) -> syn::Result<Option<LitStr>> {
    let mut name = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            name = Some(meta.value()?.parse::<LitStr>()?);
            Ok(())
        } else if meta.path.is_ident("local") {
            Err(meta.error(
                "`local` describes the messages, so it goes on the impl block: `#[actor(local)] impl ...`",
            ))
        } else if meta.path.is_ident("debug") {
            Err(meta.error(
                "`debug` is read by the actor's impl block, so it goes there: `#[actor(debug)] impl ...`",
            ))
        } else {
            Err(meta.error("unknown option: `#[actor]` on a struct takes `name = \"...\"`"))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(name)
}

/// The options of `#[actor(..)]` on an impl block.
#[derive(Default, Clone, Copy)]
pub struct ImplArgs {
    /// `local`: messages never cross the wire.
    pub local: bool,
    /// `debug`: the state may be printed with `Debug` for introspection.
    pub debug: bool,
}

pub fn impl_args(attr: TokenStream) -> syn::Result<ImplArgs> {
    let mut args = ImplArgs::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("local") {
            args.local = true;
            Ok(())
        } else if meta.path.is_ident("debug") {
            args.debug = true;
            Ok(())
        } else if meta.path.is_ident("name") {
            Err(meta.error(
                "`name` names the actor, so it goes on the struct: `#[actor(name = \"...\")] struct ...`",
            ))
        } else {
            Err(meta.error("unknown option: `#[actor]` on an impl block takes `local` and `debug`"))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(args)
}

pub fn decl(item: &syn::Item, name: Option<LitStr>) -> syn::Result<ActorDecl> {
    let (vis, ident, generics) = match item {
        syn::Item::Struct(s) => (&s.vis, &s.ident, &s.generics),
        syn::Item::Enum(e) => (&e.vis, &e.ident, &e.generics),
        other => {
            return Err(syn::Error::new(
                other.span(),
                "`#[actor]` goes on a struct or enum (the state) and on its impl block (the handlers)",
            ));
        }
    };
    Ok(ActorDecl {
        vis: vis.clone(),
        ident: ident.clone(),
        generics: generics.clone(),
        name,
    })
}

fn is_handle_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "handle")
}

/// `#[handle]`, `#[handle(cast)]` or `#[handle(info)]` (a cast that also takes what fits no
/// other handler): the kind, and whether it is the info handler.
fn handle_kind(attr: &Attribute) -> syn::Result<(HandlerKind, bool)> {
    let mut kind = HandlerKind::Call;
    let mut info = false;
    if let syn::Meta::List(_) = attr.meta {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("cast") {
                kind = HandlerKind::Cast;
                Ok(())
            } else if meta.path.is_ident("info") {
                kind = HandlerKind::Cast;
                info = true;
                Ok(())
            } else if meta.path.is_ident("call") {
                Ok(())
            } else {
                Err(meta.error(
                    "unknown option: `#[handle]` takes `cast`, `info` (or nothing, for a call)",
                ))
            }
        })?;
    }
    Ok((kind, info))
}

/// True for `&mut Ctx<..>` (any path ending in `Ctx`).
fn is_ctx(ty: &Type) -> bool {
    let Type::Reference(r) = ty else { return false };
    let Type::Path(TypePath { path, .. }) = &*r.elem else {
        return false;
    };
    r.mutability.is_some() && path.segments.last().is_some_and(|s| s.ident == "Ctx")
}

fn receiver(f: &ImplItemFn) -> Receiver {
    match f.sig.inputs.first() {
        Some(FnArg::Receiver(r)) if r.reference.is_none() => Receiver::Value(r.span()),
        Some(FnArg::Receiver(r)) if r.mutability.is_some() => Receiver::Mut,
        Some(FnArg::Receiver(_)) => Receiver::Ref,
        _ => Receiver::None,
    }
}

/// `T` of an argument of type `Reply<T>`: the handler answers later, through it.
fn reply_type(ty: &Type) -> Option<Type> {
    let Type::Path(TypePath { qself: None, path }) = ty else {
        return None;
    };
    let last = path.segments.last()?;
    if last.ident != "Reply" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
        return None;
    };
    match a.args.first() {
        Some(syn::GenericArgument::Type(t)) if a.args.len() == 1 => Some(t.clone()),
        _ => None,
    }
}

/// A handler's typed arguments after `self`: the message arguments, the context's position,
/// and the position and type of a `Reply<T>` it answers through.
type Arguments = (Vec<Arg>, Option<usize>, Option<(usize, Type)>);

/// `takes_reply`: a call handler's first `Reply<T>` argument is its own reply; a cast's is
/// an ordinary argument (a reply handed over by another process).
fn arguments(f: &ImplItemFn, takes_reply: bool) -> syn::Result<Arguments> {
    let mut args = Vec::new();
    let mut ctx_pos = None;
    let mut reply = None;
    for (i, input) in f.sig.inputs.iter().filter_map(typed).enumerate() {
        if is_ctx(&input.ty) {
            ctx_pos = Some(i);
            continue;
        }
        if let Some(t) = reply_type(&input.ty).filter(|_| takes_reply)
            && reply.is_none()
        {
            reply = Some((i, t));
            continue;
        }
        let Pat::Ident(p) = &*input.pat else {
            return Err(syn::Error::new(
                input.pat.span(),
                "handler arguments must be plain names (no patterns), as they become the stub's parameters",
            ));
        };
        args.push(Arg {
            ident: p.ident.clone(),
            ty: (*input.ty).clone(),
        });
    }
    Ok((args, ctx_pos, reply))
}

fn typed(arg: &FnArg) -> Option<&syn::PatType> {
    match arg {
        FnArg::Typed(t) => Some(t),
        FnArg::Receiver(_) => None,
    }
}

fn output(f: &ImplItemFn) -> Option<Type> {
    match &f.sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => match &**ty {
            Type::Tuple(t) if t.elems.is_empty() => None,
            ty => Some(ty.clone()),
        },
    }
}

fn self_ident(ty: &Type) -> syn::Result<syn::Ident> {
    if let Type::Path(TypePath { qself: None, path }) = ty
        && let Some(last) = path.segments.last()
    {
        return Ok(last.ident.clone());
    }
    Err(syn::Error::new(
        ty.span(),
        "`#[actor]` impl blocks must be for a named struct or enum",
    ))
}

pub fn actor_impl(mut item: ItemImpl, args: ImplArgs) -> syn::Result<ParsedImpl> {
    let self_ident = self_ident(&item.self_ty)?;
    let mut methods = Vec::new();
    let mut hooks = Vec::new();
    let mut hook_methods = Vec::new();
    let mut handled_hooks = Vec::new();
    let mut misnamed_hooks = Vec::new();
    let mut errors: Option<syn::Error> = None;
    let mut push_err = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };

    for impl_item in &mut item.items {
        let ImplItem::Fn(f) = impl_item else { continue };
        let handle_attrs: Vec<Attribute> = f
            .attrs
            .iter()
            .filter(|a| is_handle_attr(a))
            .cloned()
            .collect();
        f.attrs.retain(|a| !is_handle_attr(a));
        let name = f.sig.ident.to_string();
        let hook = HookKind::from_name(&name);

        let Some(attr) = handle_attrs.first() else {
            if let Some(kind) = hook {
                match arguments(f, false) {
                    Ok((args, ctx_pos, _)) => {
                        hook_methods.push((kind, receiver(f), args.len(), f.sig.span()));
                        hooks.push(Hook {
                            kind,
                            is_async: f.sig.asyncness.is_some(),
                            ctx_pos,
                        });
                    }
                    Err(e) => push_err(e),
                }
            } else if let Some(kind) = HookKind::meant_by(&name) {
                misnamed_hooks.push((name, kind, f.sig.ident.span()));
            }
            continue;
        };
        if hook.is_some() {
            handled_hooks.push(f.sig.ident.span());
            continue;
        }
        let (kind, info) = match handle_kind(attr) {
            Ok(k) => k,
            Err(e) => {
                push_err(e);
                continue;
            }
        };
        let (args, ctx_pos, reply) = match arguments(f, kind == HandlerKind::Call) {
            Ok(a) => a,
            Err(e) => {
                push_err(e);
                continue;
            }
        };
        let generics = (!f.sig.generics.params.is_empty()).then(|| f.sig.generics.span());
        methods.push(Method {
            receiver: receiver(f),
            generics,
            handler: Handler {
                ident: f.sig.ident.clone(),
                kind,
                info,
                is_async: f.sig.asyncness.is_some(),
                args,
                ctx_pos,
                output: match &reply {
                    Some((_, t)) => Some(t.clone()),
                    None => output(f),
                },
                deferred: reply.map(|(pos, _)| (pos, output(f))),
                docs: f
                    .attrs
                    .iter()
                    .filter(|a| a.path().is_ident("doc"))
                    .cloned()
                    .collect(),
                cfgs: f
                    .attrs
                    .iter()
                    .filter(|a| a.path().is_ident("cfg"))
                    .cloned()
                    .collect(),
                span: f.sig.ident.span(),
            },
        });
    }
    if let Some(e) = errors {
        return Err(e);
    }
    let trait_impl = item.trait_.as_ref().map(|(_, path, _)| path.span());
    Ok(ParsedImpl {
        actor: ActorImpl {
            self_ty: (*item.self_ty).clone(),
            self_ident,
            generics: item.generics.clone(),
            local: args.local,
            debug: args.debug,
            handlers: Vec::new(),
            hooks,
        },
        methods,
        handled_hooks,
        hook_methods,
        misnamed_hooks,
        trait_impl,
        item,
    })
}
