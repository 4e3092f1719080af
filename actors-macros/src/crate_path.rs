//! The path generated code names the runtime by: `::actors` for a crate that depends on it
//! (under whatever name), `::actors_net::actors` for one that depends only on the network
//! crate.
//!
//! The packages are published as `beamish-actors` and `beamish-actors-net` while their
//! libraries are `actors` and `actors_net`; `proc_macro_crate` answers with the dependency's
//! key, so a key that is the package's own name means the library's name.

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// The runtime's package and library names.
const CORE: (&str, &str) = ("beamish-actors", "actors");
/// The network crate's package and library names.
const NET: (&str, &str) = ("beamish-actors-net", "actors_net");

/// The runtime's path, as seen from the crate being compiled.
pub fn actors() -> TokenStream {
    match crate_name(CORE.0) {
        // Inside `actors` itself, `extern crate self as actors` makes the same path work.
        Ok(FoundCrate::Itself) => quote!(::actors),
        Ok(FoundCrate::Name(key)) => {
            let name = extern_name(&key, CORE);
            quote!(::#name)
        }
        Err(_) => match crate_name(NET.0) {
            Ok(FoundCrate::Name(key)) => {
                let name = extern_name(&key, NET);
                quote!(::#name::actors)
            }
            _ => quote!(::actors),
        },
    }
}

/// The name a dependency is reached by: its library's name unless the user renamed it.
fn extern_name(key: &str, (package, lib): (&str, &str)) -> syn::Ident {
    let unrenamed = key == package.replace('-', "_");
    syn::Ident::new(if unrenamed { lib } else { key }, Span::call_site())
}
