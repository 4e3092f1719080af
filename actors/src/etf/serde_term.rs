//! How terms pass through serde untouched: the newtype names that the term serializer and
//! deserializer recognise, and the serde impls of [`Term`], [`Atom`], [`ErlPid`], [`ErlRef`].

use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::codec::{decode, encode};
use super::term::{Atom, ErlPid, ErlRef, Term};

/// The newtype name under which a [`Term`] passes through serde as its encoded bytes: the
/// term serializer and deserializer recognise it and keep the term as it is.
pub(crate) const TERM_TOKEN: &str = "$actors::etf::Term";
/// The newtype name under which an [`Atom`] passes through serde as its name.
pub(crate) const ATOM_TOKEN: &str = "$actors::etf::Atom";

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
