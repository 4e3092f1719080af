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
mod names;
mod ser;
mod term;

pub use codec::{EtfError, MAX_DEPTH, VERSION, decode, decode_prefix, encode, encode_into};
pub use de::from_term;
pub use names::snake_case;
pub use ser::{TermSerializer, to_term};
pub use term::{Atom, ErlPid, ErlPort, ErlRef, Term};

use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The newtype name under which a [`Term`] passes through serde as its encoded bytes: the
/// term serializer and deserializer recognise it and keep the term as it is.
pub(crate) const TERM_TOKEN: &str = "$actors::etf::Term";
/// The newtype name under which an [`Atom`] passes through serde as its name.
pub(crate) const ATOM_TOKEN: &str = "$actors::etf::Atom";

/// Why a value and a term did not fit each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TermError(String);

impl TermError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        TermError(message.into())
    }
}

impl serde::ser::Error for TermError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        TermError(msg.to_string())
    }
}

impl serde::de::Error for TermError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        TermError(msg.to_string())
    }
}

struct EncodedTerm<'a>(&'a [u8]);

impl Serialize for EncodedTerm<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl Serialize for Term {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(TERM_TOKEN, &EncodedTerm(&encode(self)))
    }
}

struct TermVisitor;

impl<'de> Visitor<'de> for TermVisitor {
    type Value = Term;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an Erlang term")
    }
    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Term, E> {
        decode(v).map_err(E::custom)
    }
    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Term, E> {
        self.visit_bytes(&v)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Term, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de> Deserialize<'de> for Term {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Term, D::Error> {
        d.deserialize_newtype_struct(TERM_TOKEN, TermVisitor)
    }
}

impl Serialize for Atom {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(ATOM_TOKEN, self.name())
    }
}

struct AtomVisitor;

impl<'de> Visitor<'de> for AtomVisitor {
    type Value = Atom;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an atom")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Atom, E> {
        Ok(Atom::from(v))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Atom, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Deserialize<'de> for Atom {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Atom, D::Error> {
        d.deserialize_newtype_struct(ATOM_TOKEN, AtomVisitor)
    }
}

macro_rules! via_term {
    ($ty:ident, $variant:ident, $what:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                Term::$variant(self.clone()).serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                match Term::deserialize(d)? {
                    Term::$variant(v) => Ok(v),
                    other => Err(serde::de::Error::custom(format!(
                        concat!("expected ", $what, ", found {:?}"),
                        other
                    ))),
                }
            }
        }
    };
}

via_term!(ErlPid, Pid, "a pid");
via_term!(ErlRef, Ref, "a reference");

#[cfg(test)]
mod tests;
