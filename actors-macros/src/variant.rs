//! One handler as expansion sees it: its message variant, its bindings, its types.

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use syn::Type;

use crate::model::{Handler, HandlerKind};

/// One handler, with everything expansion derives from it.
pub struct Variant<'a> {
    pub h: &'a Handler,
    pub tag: u32,
    /// Argument types with `Self` replaced.
    pub tys: Vec<Type>,
    /// The reply type with `Self` replaced; `()` when none.
    pub reply: Type,
    /// Positional bindings `__a0, __a1, ..`.
    pub binds: Vec<Ident>,
}

impl Variant<'_> {
    pub fn is_call(&self) -> bool {
        self.h.kind == HandlerKind::Call
    }

    /// The pattern matching this variant.
    pub fn pattern(&self, msg: &Ident) -> TokenStream {
        let ident = &self.h.ident;
        let binds = &self.binds;
        let reply = self.is_call().then(|| quote!(__reply));
        if binds.is_empty() && reply.is_none() {
            quote!(#msg::#ident)
        } else {
            quote!(#msg::#ident(#(#binds,)* #reply))
        }
    }

    /// The handler's arguments in order, the context and the reply handle put back where
    /// they were declared.
    pub fn call_args(&self, ctx: TokenStream, reply: TokenStream) -> Vec<TokenStream> {
        let mut binds = self.binds.iter();
        let deferred = self.h.deferred.as_ref().map(|(pos, _)| *pos);
        let total = self.binds.len()
            + usize::from(self.h.ctx_pos.is_some())
            + usize::from(deferred.is_some());
        (0..total)
            .map(|i| {
                if self.h.ctx_pos == Some(i) {
                    ctx.clone()
                } else if deferred == Some(i) {
                    reply.clone()
                } else {
                    let b = binds.next().expect("one binding per argument");
                    quote!(#b)
                }
            })
            .collect()
    }
}
