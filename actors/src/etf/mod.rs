//! Erlang's External Term Format: terms, their bytes, and serde between terms and Rust types,
//! so that a Rust node can speak with BEAM nodes.
//!
//! | Rust | term |
//! |---|---|
//! | `bool` | `true`, `false` |
//! | integers | integers (up to 128 bits) |
//! | `f32`, `f64` | floats |
//! | `String`, `&str` | binaries (`<<"text">>`); an atom or a charlist reads as text too |
//! | `Vec<u8>`, bytes | binaries; a list of bytes reads too |
//! | `()` | `ok` (any atom reads as `()`) |
//! | `Option<T>` | `undefined` or the value (`nil` reads as `None` too) |
//! | tuples, tuple structs | tuples |
//! | `Vec<T>`, sequences | lists |
//! | maps | maps |
//! | structs | maps with atom keys (a tuple of the fields in order reads too) |
//! | unit variants, unit structs | atoms, in snake case: `NotFound` is `not_found` |
//! | `V(x)`, `V(a, b)`, `V { .. }` | `{v, X}`, `{v, A, B}`, `{v, #{..}}` |
//! | [`Atom`], [`ErlPid`], [`ErlRef`], [`Term`] | themselves |
//!
//! ```
//! use actors::etf::{Term, from_term, to_term};
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! enum Cmd { Add(u64), Reset }
//! let t = to_term(&Cmd::Add(5)).unwrap();
//! assert_eq!(t, Term::tuple([Term::atom("add"), Term::Int(5)]));
//! assert_eq!(from_term::<Cmd>(&t).unwrap(), Cmd::Add(5));
//! ```

mod codec;
mod de;
mod error;
mod names;
pub(crate) mod pids;
mod ser;
mod serde_term;
mod term;

pub use codec::{EtfError, MAX_DEPTH, VERSION, decode, decode_prefix, encode, encode_into};
pub use de::from_term;
pub use error::TermError;
pub use names::snake_case;
pub use ser::{TermSerializer, to_term};
pub use term::{Atom, ErlFun, ErlPid, ErlPort, ErlRef, Term};

#[cfg(test)]
mod tests;
