//! Emits the code for a validated model: the handle type, the message enum, its wire codec,
//! the dispatch, the hooks and the stub methods.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::visit_mut::VisitMut;
use syn::{GenericParam, Type, parse_quote};

use crate::model::{ActorDecl, ActorImpl, Handler, HandlerKind, Hook, HookKind};
use crate::variant::Variant;

/// `#[actor]` on the struct: the handle type `{Type}Api` and the wire name.
pub fn decl(d: &ActorDecl) -> TokenStream {
    let actors = crate::crate_path::actors();
    let ident = &d.ident;
    let vis = &d.vis;
    let api = format_ident!("{}Api", ident);
    let generics = &d.generics;
    let (impl_g, ty_g, where_c) = d.generics.split_for_impl();
    let mut api_generics = d.generics.clone();
    api_generics
        .make_where_clause()
        .predicates
        .push(parse_quote!(#ident #ty_g: #actors::Actor));
    let api_where = &api_generics.where_clause;
    let name = match &d.name {
        Some(lit) => quote!(#lit),
        None => quote!(::core::concat!(
            ::core::module_path!(),
            "::",
            ::core::stringify!(#ident)
        )),
    };
    let doc = format!(
        "The stub methods of [`{ident}`]: call them on a `Pid<{ident}>`, which reaches them through `Deref`."
    );
    quote! {
        #[doc = #doc]
        #vis struct #api #generics #api_where {
            route: #actors::__private::Route<#ident #ty_g>,
        }

        impl #impl_g #actors::__private::Api<#ident #ty_g> for #api #ty_g #api_where {
            fn from_route(route: #actors::__private::Route<#ident #ty_g>) -> Self {
                #api { route }
            }
            fn route(&self) -> &#actors::__private::Route<#ident #ty_g> {
                &self.route
            }
        }

        #[diagnostic::do_not_recommend]
        impl #impl_g #actors::Declared for #ident #ty_g #where_c {
            const NAME: &'static str = #name;
        }
    }
}

/// Replaces `Self` in handler types with the actor's type: the message enum and the stubs
/// live outside the actor's impl, where `Self` means something else.
struct ReplaceSelf<'a>(&'a Type);

impl VisitMut for ReplaceSelf<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::Path(p) = ty
            && p.qself.is_none()
            && p.path.is_ident("Self")
        {
            *ty = self.0.clone();
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// FNV-1a: stable across builds and platforms, unlike `std`'s hasher.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The hash of one handler's name, kind, argument and reply types.
fn handler_hash(h: &Handler) -> u64 {
    let kind = match h.kind {
        HandlerKind::Call => "call",
        HandlerKind::Cast => "cast",
    };
    let mut text = format!("{}:{kind}(", h.ident);
    for arg in &h.args {
        let ty = &arg.ty;
        text.push_str(&quote!(#ty).to_string());
        text.push(',');
    }
    let out = h.output.as_ref().map(|t| quote!(#t).to_string());
    text.push_str(&format!(")->{};", out.as_deref().unwrap_or("()")));
    fnv1a(&text)
}

/// The hash of every handler compiled in, in order, as a constant expression: each handler
/// is folded in under its own `cfg`, so that two builds with different handlers differ.
fn signature_hash(handlers: &[Handler]) -> TokenStream {
    let actors = crate::crate_path::actors();
    let steps = handlers.iter().map(|h| {
        let cfgs = &h.cfgs;
        let part = handler_hash(h);
        quote! {
            #(#cfgs)*
            let __h = #actors::__private::mix_identity(__h, #part);
        }
    });
    quote!({
        let __h: u64 = 0;
        #(#steps)*
        __h
    })
}

/// `Actor::identity`: the name and the handlers' signatures, and for an actor whose
/// messages cross the wire, their types' shapes too, traced once per process (per
/// instance of a generic actor).
fn identity_fn(a: &ActorImpl, signature: &TokenStream) -> TokenStream {
    let actors = crate::crate_path::actors();
    let name = quote!(<Self as #actors::Declared>::NAME);
    if a.local {
        return quote! {
            fn identity() -> #actors::Identity {
                #actors::Identity::new(#name, #signature)
            }
        };
    }
    let make = quote! {
        || #actors::Identity::new(
            #name,
            #actors::__private::mix_identity(#signature, <<Self as #actors::Actor>::Msg>::__shapes()),
        )
    };
    let cached = if a.generics.params.is_empty() {
        quote! {
            static __IDENTITY: ::std::sync::OnceLock<#actors::Identity> = ::std::sync::OnceLock::new();
            *__IDENTITY.get_or_init(#make)
        }
    } else {
        quote!(#actors::__private::identity_of::<Self>(#make))
    };
    quote! {
        fn identity() -> #actors::Identity {
            #cached
        }
    }
}

pub fn actor_impl(a: &ActorImpl) -> TokenStream {
    let self_ty = &a.self_ty;
    let mut replace = ReplaceSelf(self_ty);
    let variants: Vec<Variant> = a
        .handlers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let tys = h
                .args
                .iter()
                .map(|arg| {
                    let mut ty = arg.ty.clone();
                    replace.visit_type_mut(&mut ty);
                    ty
                })
                .collect();
            let mut reply = h.output.clone().unwrap_or_else(|| parse_quote!(()));
            replace.visit_type_mut(&mut reply);
            Variant {
                h,
                tag: i as u32,
                tys,
                reply,
                binds: (0..h.args.len())
                    .map(|i| format_ident!("__a{}", i))
                    .collect(),
            }
        })
        .collect();

    let msg = format_ident!("__{}Msg", a.self_ident);
    let type_params: Vec<Ident> = a
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(t.ident.clone()),
            _ => None,
        })
        .collect();

    let mut out = message_enum(a, &variants, &msg, &type_params);
    if !a.local {
        out.extend(crate::codec::wire_codec(a, &variants, &msg, &type_params));
    }
    out.extend(actor_trait(a, &variants, &msg, &type_params));
    out.extend(stubs(a, &variants, &msg));
    out
}

fn message_enum(
    a: &ActorImpl,
    variants: &[Variant],
    msg: &Ident,
    type_params: &[Ident],
) -> TokenStream {
    let actors = crate::crate_path::actors();
    let generics = &a.generics;
    let where_c = &a.generics.where_clause;
    let defs = variants.iter().map(|v| {
        let ident = &v.h.ident;
        let cfgs = &v.h.cfgs;
        let tys = &v.tys;
        let reply = &v.reply;
        let reply = v
            .is_call()
            .then(|| quote!(#actors::__private::ReplyHalf<#reply>));
        if tys.is_empty() && reply.is_none() {
            quote!(#(#cfgs)* #ident)
        } else {
            quote!(#(#cfgs)* #ident(#(#tys,)* #reply))
        }
    });
    let phantom = (!type_params.is_empty()).then(|| {
        quote! {
            #[doc(hidden)]
            __Phantom(::core::convert::Infallible, ::core::marker::PhantomData<fn() -> (#(#type_params,)*)>),
        }
    });
    let doc = format!(
        "The typed mailbox of `{}`: one variant per handler.",
        a.self_ident
    );
    quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #[allow(non_camel_case_types, private_interfaces)]
        pub enum #msg #generics #where_c {
            #(#defs,)*
            #phantom
        }
    }
}

fn hook_fn(a: &ActorImpl, hook: &Hook) -> TokenStream {
    let actors = crate::crate_path::actors();
    let self_ty = &a.self_ty;
    let name = format_ident!("{}", hook.kind.name());
    let (param, arg) = match hook.kind {
        HookKind::Started => (None, None),
        HookKind::Stopped => (
            Some(quote!(__arg: &#actors::ExitReason,)),
            Some(quote!(__arg)),
        ),
        HookKind::OnDown => (Some(quote!(__arg: #actors::Down,)), Some(quote!(__arg))),
        HookKind::OnExit => (Some(quote!(__arg: #actors::Exit,)), Some(quote!(__arg))),
    };
    let total = usize::from(arg.is_some()) + usize::from(hook.ctx_pos.is_some());
    let mut plain = arg.into_iter();
    let args: Vec<TokenStream> = (0..total)
        .map(|i| match hook.ctx_pos {
            Some(pos) if pos == i => quote!(&mut *__ctx),
            _ => plain.next().expect("the hook's argument"),
        })
        .collect();
    let body = if hook.is_async {
        // An async hook gives up at its next await if the process is killed.
        quote! {
            let __kill = #actors::__private::KillSwitch::of(__ctx);
            __kill.run(<#self_ty>::#name(self, #(#args),*)).await;
        }
    } else {
        quote!(<#self_ty>::#name(self, #(#args),*);)
    };
    quote! {
        #[allow(unused_variables)]
        fn #name(&mut self, #param __ctx: &mut #actors::Ctx<Self>) -> impl ::core::future::Future<Output = ()> + ::core::marker::Send {
            async move { #body }
        }
    }
}

fn actor_trait(
    a: &ActorImpl,
    variants: &[Variant],
    msg: &Ident,
    type_params: &[Ident],
) -> TokenStream {
    let actors = crate::crate_path::actors();
    let self_ty = &a.self_ty;
    let (impl_g, ty_g, _) = a.generics.split_for_impl();
    let where_c = &a.generics.where_clause;
    let api = api_type(a);
    let hash = signature_hash(&a.handlers);
    let identity = identity_fn(a, &hash);

    let arms = variants.iter().map(|v| {
        let cfgs = &v.h.cfgs;
        let arm = dispatch_arm(a, v, msg);
        quote!(#(#cfgs)* #arm)
    });
    let phantom_arm =
        (!type_params.is_empty()).then(|| quote!(#msg::__Phantom(__n, _) => match __n {},));
    let names = variants.iter().map(|v| {
        let ident = &v.h.ident;
        let name = ident.to_string();
        let cfgs = &v.h.cfgs;
        quote!(#(#cfgs)* #msg::#ident { .. } => #name,)
    });
    let hooks = a.hooks.iter().map(|h| hook_fn(a, h));
    let codec = if a.local {
        quote! {
            fn encode_msg(_: &Self::Msg, _: &mut ::std::vec::Vec<u8>) -> ::core::result::Result<::core::option::Option<#actors::__private::Pending>, #actors::WireError> {
                ::core::result::Result::Err(#actors::WireError::NotRemote(
                    <Self as #actors::Actor>::identity().name.into(),
                ))
            }
            fn decode_msg(_: &[u8], _: &mut ::core::option::Option<#actors::__private::IncomingCall>) -> ::core::result::Result<Self::Msg, #actors::WireError> {
                ::core::result::Result::Err(#actors::WireError::NotRemote(
                    <Self as #actors::Actor>::identity().name.into(),
                ))
            }
        }
    } else {
        quote! {
            fn encode_msg(msg: &Self::Msg, out: &mut ::std::vec::Vec<u8>) -> ::core::result::Result<::core::option::Option<#actors::__private::Pending>, #actors::WireError> {
                msg.__encode(out)
            }
            fn decode_msg(bytes: &[u8], call: &mut ::core::option::Option<#actors::__private::IncomingCall>) -> ::core::result::Result<Self::Msg, #actors::WireError> {
                <Self::Msg>::__decode(bytes, call)
            }
            fn decode_term(request: &#actors::etf::Term, call: &mut ::core::option::Option<#actors::__private::IncomingCall>) -> ::core::result::Result<Self::Msg, #actors::WireError> {
                <Self::Msg>::__decode_term(request, call)
            }
        }
    };

    let debug = a.debug.then(|| {
        quote! {
            fn debug_state(&self) -> ::core::option::Option<::std::string::String> {
                ::core::option::Option::Some(::std::format!("{:#?}", self))
            }
            fn state_term(&self) -> ::core::option::Option<#actors::etf::Term> {
                // The state as a term when it is `Serialize`, else none: chosen at compile
                // time by which trait's method the probe finds first.
                #[allow(unused_imports)]
                use #actors::__private::{ViaNothing as _, ViaSerialize as _};
                (&&#actors::__private::Probe(self)).state_term()
            }
        }
    });

    quote! {
        // An actor without handlers has a message type with no values: matches on it end
        // everything after them.
        #[diagnostic::do_not_recommend]
        #[allow(unreachable_code)]
        impl #impl_g #actors::Actor for #self_ty #where_c {
            type Msg = #msg #ty_g;
            type Api = #api;
            #identity

            #[allow(unused_variables)]
            fn handle(&mut self, msg: Self::Msg, __ctx: &mut #actors::Ctx<Self>)
                -> impl ::core::future::Future<Output = ()> + ::core::marker::Send
            {
                async move {
                    match msg {
                        #(#arms)*
                        #phantom_arm
                    }
                }
            }

            fn handler_name(msg: &Self::Msg) -> &'static str {
                match *msg {
                    #(#names)*
                    #phantom_arm
                }
            }

            #(#hooks)*
            #debug
            #codec
        }
    }
}

/// The `handle` match arm that runs one handler.
fn dispatch_arm(a: &ActorImpl, v: &Variant, msg: &Ident) -> TokenStream {
    let actors = crate::crate_path::actors();
    let self_ty = &a.self_ty;
    let pattern = v.pattern(msg);
    let ident = &v.h.ident;
    let args = v.call_args(quote!(&mut *__ctx), quote!(__deferred));
    let call = quote_spanned!(v.h.span=> <#self_ty>::#ident(self, #(#args),*));
    if v.h.deferred.is_some() {
        // The handler took its reply handle: it answers through it, now or later.
        let deferred = quote!(let __deferred = #actors::__private::defer(__reply, __ctx.node()););
        return if v.h.is_async {
            quote!(#pattern => {
                #deferred
                let __kill = #actors::__private::KillSwitch::of(__ctx);
                __kill.run(#call).await;
            })
        } else {
            quote!(#pattern => { #deferred #call; })
        };
    }
    match (v.h.is_async, v.is_call()) {
        (false, true) => quote!(#pattern => { let __r = #call; __reply.send(__r); }),
        (false, false) => quote!(#pattern => { #call; }),
        // An async handler gives up at its next await if the process is killed; its
        // caller then learns the exit reason.
        (true, true) => quote!(#pattern => {
            let __kill = #actors::__private::KillSwitch::of(__ctx);
            if let ::core::option::Option::Some(__r) = __kill.run(#call).await {
                __reply.send(__r);
            }
        }),
        (true, false) => quote!(#pattern => {
            let __kill = #actors::__private::KillSwitch::of(__ctx);
            __kill.run(#call).await;
        }),
    }
}

/// The handle type as seen from the impl: the self type's path, last segment `{Type}Api`.
fn api_type(a: &ActorImpl) -> Type {
    let mut ty = a.self_ty.clone();
    if let Type::Path(p) = &mut ty
        && let Some(last) = p.path.segments.last_mut()
    {
        last.ident = format_ident!("{}Api", a.self_ident);
    }
    ty
}

fn stubs(a: &ActorImpl, variants: &[Variant], msg: &Ident) -> TokenStream {
    let actors = crate::crate_path::actors();
    let self_ty = &a.self_ty;
    let (impl_g, _, where_c) = a.generics.split_for_impl();
    let api = api_type(a);
    let methods = variants.iter().map(|v| {
        let ident = &v.h.ident;
        let docs = &v.h.docs;
        let cfgs = &v.h.cfgs;
        let names: Vec<&Ident> = v.h.args.iter().map(|arg| &arg.ident).collect();
        let tys = &v.tys;
        let reply = &v.reply;
        let route = quote!(#actors::__private::Api::route(self));
        if v.is_call() {
            quote_spanned! {v.h.span=>
                #(#cfgs)*
                #(#docs)*
                #[allow(private_interfaces)]
                pub fn #ident(&self, #(#names: #tys),*) -> #actors::__private::Call<#self_ty, #reply> {
                    #actors::__private::Call::new(#route, move |__reply| #msg::#ident(#(#names,)* __reply))
                }
            }
        } else {
            let value = if names.is_empty() {
                quote!(#msg::#ident)
            } else {
                quote!(#msg::#ident(#(#names),*))
            };
            quote_spanned! {v.h.span=>
                #(#cfgs)*
                #(#docs)*
                pub fn #ident(&self, #(#names: #tys),*) -> ::core::result::Result<(), #actors::SendError> {
                    #actors::__private::cast(#route, #value)
                }
            }
        }
    });
    quote! {
        // Stubs are the actor's API: one a program does not call is not dead code to report.
        #[allow(clippy::redundant_closure, dead_code)]
        impl #impl_g #api #where_c {
            #(#methods)*
        }
    }
}

/// An `Actor` impl emitted only beside a compile error, so that the one real error is not
/// followed by others saying the type is not an actor. It never runs: the build has failed.
pub fn fallback(item: &syn::ItemImpl) -> TokenStream {
    let actors = crate::crate_path::actors();
    let self_ty = &item.self_ty;
    let Type::Path(path) = &**self_ty else {
        return TokenStream::new();
    };
    let Some(last) = path.path.segments.last() else {
        return TokenStream::new();
    };
    let mut api = (**self_ty).clone();
    if let Type::Path(p) = &mut api
        && let Some(seg) = p.path.segments.last_mut()
    {
        seg.ident = format_ident!("{}Api", last.ident);
    }
    let (impl_g, _, where_c) = item.generics.split_for_impl();
    quote! {
        impl #impl_g #actors::Actor for #self_ty #where_c {
            type Msg = ::core::convert::Infallible;
            type Api = #api;
            fn identity() -> #actors::Identity {
                #actors::Identity::new("", 0)
            }
            fn handle(&mut self, msg: Self::Msg, _: &mut #actors::Ctx<Self>)
                -> impl ::core::future::Future<Output = ()> + ::core::marker::Send
            {
                async move { match msg {} }
            }
            fn encode_msg(msg: &Self::Msg, _: &mut ::std::vec::Vec<u8>) -> ::core::result::Result<::core::option::Option<#actors::__private::Pending>, #actors::WireError> {
                match *msg {}
            }
            fn decode_msg(_: &[u8], _: &mut ::core::option::Option<#actors::__private::IncomingCall>) -> ::core::result::Result<Self::Msg, #actors::WireError> {
                ::core::result::Result::Err(#actors::WireError::Decode(::std::string::String::new()))
            }
        }
    }
}
