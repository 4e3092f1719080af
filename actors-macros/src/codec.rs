//! The wire codec of an actor's message enum, generated: each handler's index, then its
//! arguments; a call's reply path taken out when encoding and given when decoding.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::ActorImpl;
use crate::variant::Variant;

/// The wire codec of the message enum: the handler's index, then each argument as one CBOR
/// item. Encoding a call returns where its reply goes; decoding one makes its reply half,
/// last, from the incoming call it is given: the reply path is an argument, not a side channel.
///
/// Each argument goes through a codec picked by autoref dispatch, and is asserted once to be
/// `WireArg<handler, argument>`, spanned at its type, so that a type that cannot cross the wire
/// is one error naming both.
pub fn wire_codec(
    a: &ActorImpl,
    variants: &[Variant],
    msg: &Ident,
    type_params: &[Ident],
) -> TokenStream {
    let actors = crate::crate_path::actors();
    let private = quote!(#actors::__private);
    let (impl_g, ty_g, where_c) = a.generics.split_for_impl();
    let names = format_ident!("__{}WireNames", a.self_ident);
    let actor_name = a.self_ident.to_string();

    let mut marker_names: Vec<String> = Vec::new();
    for v in variants {
        marker_names.push(v.h.ident.to_string());
        marker_names.extend(v.h.args.iter().map(|arg| arg.ident.to_string()));
    }
    marker_names.sort();
    marker_names.dedup();
    let markers = marker_names.iter().map(|n| format_ident!("{}", n));
    let reply_span = |v: &Variant| v.h.output.as_ref().map_or(v.h.span, |t| t.span());

    let assertions = variants.iter().flat_map(|v| {
        let (private, names) = (&private, &names);
        let handler = &v.h.ident;
        let cfgs = &v.h.cfgs;
        let args = v.h.args.iter().zip(&v.tys).map(move |(arg, ty)| {
            let name = &arg.ident;
            quote_spanned! {ty.span()=>
                #(#cfgs)*
                #private::assert_wire_arg::<#names::#handler, #names::#name, #ty>();
            }
        });
        let reply = v.is_call().then(|| {
            let reply = &v.reply;
            quote_spanned! {reply_span(v)=>
                #(#cfgs)*
                #private::assert_wire_reply::<#names::#handler, #reply>();
            }
        });
        args.chain(reply)
    });

    let shape_steps = variants.iter().map(|v| {
        let cfgs = &v.h.cfgs;
        let tys = v.tys.iter().chain(v.is_call().then_some(&v.reply));
        quote! {
            #(#cfgs)*
            let __h = {
                let mut __v = __h;
                #(__v = #private::mix_identity(__v, (&#private::Codec::<#tys>::new()).shape());)*
                __v
            };
        }
    });

    let encode_arms = variants.iter().map(|v| {
        let pattern = v.pattern(msg);
        let tag = v.tag;
        let pending = if v.is_call() {
            quote!(::core::option::Option::Some((&#private::Codec::new()).pending(__reply)?))
        } else {
            quote!(::core::option::Option::None)
        };
        let args = v
            .binds
            .iter()
            .zip(&v.tys)
            .map(|(bind, ty)| quote!((&#private::Codec::<#ty>::new()).ser_arg(__out, #bind)?;));
        let cfgs = &v.h.cfgs;
        quote! {
            #(#cfgs)*
            #pattern => {
                #private::put_tag(__out, #tag);
                #(#args)*
                #pending
            }
        }
    });
    let decode_arms = variants.iter().map(|v| {
        let tag = v.tag;
        let args = v.binds.iter().zip(&v.tys).map(|(bind, ty)| {
            quote!(let #bind: #ty = (&#private::Codec::<#ty>::new()).de_arg(&mut __input)?;)
        });
        // The reply half is made from the incoming call last, once every argument has
        // decoded: a call that fails to decode keeps its responder, which answers the error.
        let value = message_value(v, msg, &format_ident!("reply_to"));
        let cfgs = &v.h.cfgs;
        quote! {
            #(#cfgs)*
            #tag => {
                #(#args)*
                #private::expect_end(__input)?;
                #value
            }
        }
    });
    let term_arms = variants.iter().map(|v| {
        let handler = &v.h.ident;
        let name = handler.to_string();
        let binds = &v.binds;
        let arity = binds.len();
        let args = v.binds.iter().zip(&v.tys).zip(&v.h.args).enumerate().map(|(i, ((bind, ty), arg))| {
            let arg_name = arg.ident.to_string();
            quote!(let #bind: #ty = (&#private::Codec::<#ty>::new()).de_term(#name, #arg_name, &__args[#i])?;)
        });
        let value = message_value(v, msg, &format_ident!("reply_to_term"));
        let cfgs = &v.h.cfgs;
        quote! {
            #(#cfgs)*
            #name => {
                #private::term::expect_arity(#name, __args, #arity)?;
                #(#args)*
                #value
            }
        }
    });
    // What fits no handler goes, whole, to the info handler, if there is one.
    let info_fallback = variants.iter().find(|v| v.h.info).map(|v| {
        let handler = &v.h.ident;
        let name = handler.to_string();
        let ty = &v.tys[0];
        let arg = v.h.args[0].ident.to_string();
        let cfgs = &v.h.cfgs;
        // Not a call: a request that fits no handler is its caller's error.
        quote! {
            #(#cfgs)*
            if __call.is_none() {
                let __whole: #ty = (&#private::Codec::<#ty>::new()).de_term(#name, #arg, __term)?;
                return ::core::result::Result::Ok(#msg::#handler(__whole));
            }
        }
    });
    let phantom_arm =
        (!type_params.is_empty()).then(|| quote!(#msg::__Phantom(__n, _) => match *__n {},));
    // A reference to a message is never empty to the compiler, even when the actor has no
    // handlers and so no message: match the message itself then.
    let scrutinee = if variants.is_empty() && type_params.is_empty() {
        quote!(*self)
    } else {
        quote!(self)
    };
    // Handlers under a `cfg` may all be compiled out, leaving a reference to an empty type,
    // which a match must still cover.
    let compiled_out_arm = variants.iter().any(|v| !v.h.cfgs.is_empty()).then(|| {
        quote! {
            #[allow(unreachable_patterns)]
            _ => ::core::unreachable!("a message of an actor whose handlers are compiled out"),
        }
    });

    quote! {
        /// Marker types named after the handlers and their arguments, for error messages.
        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case, dead_code)]
        mod #names {
            #(pub struct #markers;)*
        }

        const _: () = {
            #[allow(dead_code)]
            fn __assert_wire #impl_g () #where_c {
                #(#assertions)*
            }
        };

        #[allow(unused_imports, clippy::let_unit_value, unreachable_code)]
        impl #impl_g #msg #ty_g #where_c {
            fn __encode(&self, __out: &mut ::std::vec::Vec<u8>) -> ::core::result::Result<::core::option::Option<#private::Pending>, #actors::WireError> {
                use #private::{Unencodable as _, ViaSerde as _};
                ::core::result::Result::Ok(match #scrutinee {
                    #(#encode_arms)*
                    #phantom_arm
                    #compiled_out_arm
                })
            }

            /// The wire shapes of every handler's argument and reply types compiled in,
            /// folded into one hash for the actor's identity.
            fn __shapes() -> u64 {
                use #private::{Unencodable as _, ViaSerde as _};
                let __h: u64 = 0;
                #(#shape_steps)*
                __h
            }

            fn __decode(__bytes: &[u8], __call: &mut ::core::option::Option<#private::IncomingCall>) -> ::core::result::Result<Self, #actors::WireError> {
                use #private::{Unencodable as _, ViaSerde as _};
                let mut __input = __bytes;
                let __tag = #private::take_tag(&mut __input)?;
                ::core::result::Result::Ok(match __tag {
                    #(#decode_arms)*
                    __other => return ::core::result::Result::Err(#private::unknown_handler(#actor_name, __other)),
                })
            }

            fn __decode_term(__term: &#actors::etf::Term, __call: &mut ::core::option::Option<#private::IncomingCall>) -> ::core::result::Result<Self, #actors::WireError> {
                use #private::{Unencodable as _, ViaSerde as _};
                let (__name, __args) = match #private::term::request_parts(__term) {
                    ::core::result::Result::Ok(__parts) => __parts,
                    ::core::result::Result::Err(__e) => {
                        #info_fallback
                        return ::core::result::Result::Err(__e);
                    }
                };
                ::core::result::Result::Ok(match __name {
                    #(#term_arms)*
                    __other => {
                        #info_fallback
                        return ::core::result::Result::Err(#private::term::unknown_request(#actor_name, __other));
                    }
                })
            }
        }
    }
}

/// The message a decoded handler's arguments make, once each is bound; a call's reply half
/// is made last, by `reply` (`reply_to` for our wire, `reply_to_term` for a BEAM node's).
fn message_value(v: &Variant, msg: &Ident, reply: &Ident) -> TokenStream {
    let private = {
        let actors = crate::crate_path::actors();
        quote!(#actors::__private)
    };
    let handler = &v.h.ident;
    let binds = &v.binds;
    if v.is_call() {
        quote! {{
            let __reply = (&#private::Codec::new()).#reply(__call)?;
            #msg::#handler(#(#binds,)* __reply)
        }}
    } else if binds.is_empty() {
        quote!(#msg::#handler)
    } else {
        quote!(#msg::#handler(#(#binds),*))
    }
}
