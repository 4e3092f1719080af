//! The path generated code names the runtime by: `::actors` for a crate that depends on it
//! (under whatever name), `::actors_net::actors` for one that depends only on `actors-net`.

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// The runtime's path, as seen from the crate being compiled.
pub fn actors() -> TokenStream {
    let ident = |name: &str| syn::Ident::new(name, Span::call_site());
    match crate_name("actors") {
        // Inside `actors` itself, `extern crate self as actors` makes the same path work.
        Ok(FoundCrate::Itself) => quote!(::actors),
        Ok(FoundCrate::Name(name)) => {
            let name = ident(&name);
            quote!(::#name)
        }
        Err(_) => match crate_name("actors-net") {
            Ok(FoundCrate::Name(name)) => {
                let name = ident(&name);
                quote!(::#name::actors)
            }
            _ => quote!(::actors),
        },
    }
}
