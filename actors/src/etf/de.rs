//! Terms to Rust values (serde): the mapping is in the [module docs](super).

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::error::TermError;
use super::names::snake_case;
use super::serde_term::{ATOM_TOKEN, TERM_TOKEN};
use super::term::Term;

/// Reads a Rust value out of a term.
///
/// ```
/// use actors::etf::{Term, from_term};
/// let t = Term::tuple([Term::Int(1), Term::binary("a")]);
/// assert_eq!(from_term::<(u8, String)>(&t).unwrap(), (1, "a".to_string()));
/// assert_eq!(from_term::<Option<u8>>(&Term::atom("undefined")).unwrap(), None);
/// assert!(from_term::<u8>(&Term::Int(300)).is_err());
/// ```
pub fn from_term<'de, T: Deserialize<'de>>(term: &'de Term) -> Result<T, TermError> {
    T::deserialize(term)
}

fn unexpected(term: &Term) -> de::Unexpected<'_> {
    match term {
        Term::Atom(a) => de::Unexpected::Other(match a.name() {
            "true" | "false" => "a boolean atom",
            _ => "an atom",
        }),
        Term::Int(_) => de::Unexpected::Other("an integer"),
        Term::Float(x) => de::Unexpected::Float(*x),
        Term::Binary(_) => de::Unexpected::Other("a binary"),
        Term::Tuple(_) => de::Unexpected::Other("a tuple"),
        Term::List(_) => de::Unexpected::Other("a list"),
        Term::Improper(..) => de::Unexpected::Other("an improper list"),
        Term::Map(_) => de::Unexpected::Other("a map"),
        Term::Pid(_) => de::Unexpected::Other("a pid"),
        Term::Ref(_) => de::Unexpected::Other("a reference"),
        Term::Port(_) => de::Unexpected::Other("a port"),
        Term::Fun(_) => de::Unexpected::Other("a fun"),
    }
}

fn mismatch<T>(term: &Term, expected: &dyn de::Expected) -> Result<T, TermError> {
    Err(de::Error::invalid_type(unexpected(term), expected))
}

/// A list of small integers: how Erlang writes a string (`"abc"`).
fn charlist(items: &[Term]) -> Option<String> {
    items
        .iter()
        .map(|t| match t {
            Term::Int(n) => u32::try_from(*n).ok().and_then(char::from_u32),
            _ => None,
        })
        .collect()
}

fn visit_int<'de, V: Visitor<'de>>(n: i128, visitor: V) -> Result<V::Value, TermError> {
    if let Ok(n) = i64::try_from(n) {
        visitor.visit_i64(n)
    } else if let Ok(n) = u64::try_from(n) {
        visitor.visit_u64(n)
    } else {
        visitor.visit_i128(n)
    }
}

macro_rules! ints {
    ($($name:ident),*) => {$(
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
            match self {
                Term::Int(n) => visit_int(*n, visitor),
                other => mismatch(other, &visitor),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &'de Term {
    type Error = TermError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        match self {
            Term::Atom(a) => match a.name() {
                "true" => visitor.visit_bool(true),
                "false" => visitor.visit_bool(false),
                name => visitor.visit_borrowed_str(name),
            },
            Term::Int(n) => visit_int(*n, visitor),
            Term::Float(x) => visitor.visit_f64(*x),
            Term::Binary(b) => match std::str::from_utf8(b) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => visitor.visit_borrowed_bytes(b),
            },
            Term::Tuple(items) | Term::List(items) => visitor.visit_seq(Seq(items.iter())),
            Term::Map(pairs) => visitor.visit_map(Map::new(pairs)),
            other => mismatch(other, &visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        match self.as_atom() {
            Some("true") => visitor.visit_bool(true),
            Some("false") => visitor.visit_bool(false),
            _ => mismatch(self, &visitor),
        }
    }

    ints!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        match self {
            Term::Float(x) => visitor.visit_f64(*x),
            Term::Int(n) => visitor.visit_f64(*n as f64),
            other => mismatch(other, &visitor),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        match self {
            Term::Int(n) => match u32::try_from(*n).ok().and_then(char::from_u32) {
                Some(c) => visitor.visit_char(c),
                None => mismatch(self, &visitor),
            },
            _ => self.deserialize_str(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        match self {
            Term::Binary(b) => match std::str::from_utf8(b) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => Err(TermError::new(
                    "a binary that is not UTF-8 where text was expected",
                )),
            },
            Term::Atom(a) => visitor.visit_borrowed_str(a.name()),
            Term::List(items) => match charlist(items) {
                Some(s) => visitor.visit_string(s),
                None => mismatch(self, &visitor),
            },
            other => mismatch(other, &visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        match self {
            Term::Binary(b) => visitor.visit_borrowed_bytes(b),
            Term::List(items) => {
                let bytes: Option<Vec<u8>> = items
                    .iter()
                    .map(|t| match t {
                        Term::Int(n) => u8::try_from(*n).ok(),
                        _ => None,
                    })
                    .collect();
                match bytes {
                    Some(b) => visitor.visit_byte_buf(b),
                    None => mismatch(self, &visitor),
                }
            }
            other => mismatch(other, &visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        match self.as_atom() {
            Some("undefined" | "nil") => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        match self {
            Term::Atom(_) => visitor.visit_unit(),
            Term::Tuple(items) | Term::List(items) if items.is_empty() => visitor.visit_unit(),
            other => mismatch(other, &visitor),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, TermError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TermError> {
        match name {
            TERM_TOKEN => visitor.visit_byte_buf(super::codec::encode(self)),
            ATOM_TOKEN => match self {
                Term::Atom(a) => visitor.visit_borrowed_str(a.name()),
                other => mismatch(other, &visitor),
            },
            super::pids::PID_TOKEN => match self {
                Term::Pid(p) => visitor.visit_newtype_struct(super::pids::WireFields::of(p)),
                other => mismatch(other, &visitor),
            },
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        match self {
            Term::List(items) | Term::Tuple(items) => visitor.visit_seq(Seq(items.iter())),
            Term::Binary(b) => visitor.visit_seq(Bytes(b.iter())),
            other => mismatch(other, &visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, TermError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, TermError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        match self {
            Term::Map(pairs) => visitor.visit_map(Map::new(pairs)),
            other => mismatch(other, &visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TermError> {
        match self {
            Term::Map(pairs) => visitor.visit_map(Map::new(pairs)),
            Term::Tuple(items) => visitor.visit_seq(Seq(items.iter())),
            other => mismatch(other, &visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TermError> {
        let (name, body) = match self {
            Term::Atom(a) => (a.name(), None),
            Term::Binary(b) => (
                std::str::from_utf8(b)
                    .map_err(|_| TermError::new("a variant name that is not text"))?,
                None,
            ),
            Term::Tuple(items) if !items.is_empty() => match items[0].as_atom() {
                Some(name) => (name, Some(&items[1..])),
                None => return mismatch(self, &visitor),
            },
            other => return mismatch(other, &visitor),
        };
        let variant = variants
            .iter()
            .find(|v| **v == name || snake_case(v) == name)
            .ok_or_else(|| de::Error::unknown_variant(name, variants))?;
        visitor.visit_enum(Enum { variant, body })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        visitor.visit_unit()
    }
}

struct Seq<I>(I);

impl<'de, I: Iterator<Item = &'de Term> + ExactSizeIterator> de::SeqAccess<'de> for Seq<I> {
    type Error = TermError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, TermError> {
        self.0.next().map(|t| seed.deserialize(t)).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Bytes<I>(I);

impl<'de, I: Iterator<Item = &'de u8> + ExactSizeIterator> de::SeqAccess<'de> for Bytes<I> {
    type Error = TermError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, TermError> {
        self.0
            .next()
            .map(|b| seed.deserialize((*b).into_deserializer()))
            .transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map<'de> {
    pairs: std::slice::Iter<'de, (Term, Term)>,
    value: Option<&'de Term>,
}

impl<'de> Map<'de> {
    fn new(pairs: &'de [(Term, Term)]) -> Self {
        Map {
            pairs: pairs.iter(),
            value: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for Map<'de> {
    type Error = TermError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TermError> {
        match self.pairs.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, TermError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| TermError::new("a map value asked for before its key"))?;
        seed.deserialize(value)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.pairs.len())
    }
}

struct Enum<'de> {
    variant: &'static str,
    body: Option<&'de [Term]>,
}

impl<'de> de::EnumAccess<'de> for Enum<'de> {
    type Error = TermError;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), TermError> {
        let value = seed.deserialize(self.variant.into_deserializer())?;
        Ok((value, self))
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'de> {
    type Error = TermError;

    fn unit_variant(self) -> Result<(), TermError> {
        match self.body {
            None => Ok(()),
            Some([]) => Ok(()),
            Some(_) => Err(TermError::new(format!(
                "variant {} takes no value",
                self.variant
            ))),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, TermError> {
        match self.body {
            Some([value]) => seed.deserialize(value),
            _ => Err(TermError::new(format!(
                "variant {} takes one value: {{{}, Value}}",
                self.variant,
                snake_case(self.variant)
            ))),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, TermError> {
        match self.body {
            Some([Term::Tuple(items)]) => visitor.visit_seq(Seq(items.iter())),
            Some(items) => visitor.visit_seq(Seq(items.iter())),
            None => Err(TermError::new(format!(
                "variant {} takes values",
                self.variant
            ))),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TermError> {
        match self.body {
            Some([Term::Map(pairs)]) => visitor.visit_map(Map::new(pairs)),
            Some(items) => visitor.visit_seq(Seq(items.iter())),
            None => Err(TermError::new(format!(
                "variant {} takes fields",
                self.variant
            ))),
        }
    }
}
