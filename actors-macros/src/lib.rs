//! The `#[actor]` and `#[handle]` attributes of the `actors` crate.
//!
//! `#[actor]` on a struct declares an actor and its handle type; `#[actor]` on its impl block
//! turns the `#[handle]` methods into a typed mailbox (one enum variant per handler), the
//! dispatch that runs them, the stub methods called on a `Pid`, and the wire identity. The
//! crate reads the input (`parse`), checks it (`validate`), and writes code (`expand`).

#![forbid(unsafe_code)]

mod codec;
mod crate_path;
mod expand;
mod model;
mod parse;
mod validate;
mod variant;

use proc_macro::TokenStream;
use quote::ToTokens;

/// Declares an actor (on its struct or enum) and its handlers (on its impl block).
///
/// On the struct: `#[actor]`, or `#[actor(name = "...")]` to give its wire name. On the impl
/// block: `#[actor]`, or `#[actor(local)]` for an actor whose messages never cross the wire
/// (they then need no serde). See the `actors` crate for the full story.
#[proc_macro_attribute]
pub fn actor(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    let item = match syn::parse::<syn::Item>(item) {
        Ok(item) => item,
        Err(e) => return e.to_compile_error().into(),
    };
    match item {
        syn::Item::Impl(imp) => actor_impl(attr, imp),
        other => actor_decl(attr, other),
    }
    .into()
}

fn actor_decl(attr: proc_macro2::TokenStream, item: syn::Item) -> proc_macro2::TokenStream {
    let expanded = parse::decl_args(attr)
        .and_then(|name| parse::decl(&item, name))
        .map(|decl| expand::decl(&decl));
    let mut out = item.into_token_stream();
    match expanded {
        Ok(code) => out.extend(code),
        Err(e) => out.extend(e.to_compile_error()),
    }
    out
}

fn actor_impl(attr: proc_macro2::TokenStream, item: syn::ItemImpl) -> proc_macro2::TokenStream {
    let args = match parse::impl_args(attr) {
        Ok(args) => args,
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(expand::fallback(&item));
            out.extend(strip_handle(item).into_token_stream());
            return out;
        }
    };
    let result = parse::actor_impl(item.clone(), args).and_then(|parsed| {
        validate::actor_impl(&parsed)?;
        Ok(parsed.into_model())
    });
    match result {
        Ok((model, item)) => {
            let mut out = item.into_token_stream();
            out.extend(expand::actor_impl(&model));
            out
        }
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(expand::fallback(&item));
            out.extend(strip_handle(item).into_token_stream());
            out
        }
    }
}

/// The impl block as written, minus `#[handle]`, so that an error in one place does not
/// bring a cascade of others.
fn strip_handle(mut item: syn::ItemImpl) -> syn::ItemImpl {
    for impl_item in &mut item.items {
        if let syn::ImplItem::Fn(f) = impl_item {
            f.attrs
                .retain(|a| a.path().segments.last().is_none_or(|s| s.ident != "handle"));
        }
    }
    item
}

/// Marks a method of an `#[actor]` impl block as a handler: `#[handle]` for a call (the caller
/// awaits the return value), `#[handle(cast)]` for a cast (no reply, the sender does not wait).
///
/// Outside an `#[actor]` impl block it is an error: the `#[actor]` attribute is what reads it.
#[proc_macro_attribute]
pub fn handle(_attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut out: proc_macro2::TokenStream = syn::Error::new(
        proc_macro2::Span::call_site(),
        "`#[handle]` works only on methods of an impl block marked `#[actor]`",
    )
    .to_compile_error();
    out.extend(proc_macro2::TokenStream::from(item));
    out.into()
}
