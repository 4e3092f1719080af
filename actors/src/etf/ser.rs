//! Rust values to terms (serde): the mapping is in the [module docs](super).

use serde::Serialize;
use serde::ser::{self, Impossible};

use super::error::TermError;
use super::names::snake_case;
use super::serde_term::{ATOM_TOKEN, TERM_TOKEN};
use super::term::{Atom, Term};

/// Turns a Rust value into a term.
///
/// ```
/// use actors::etf::{Term, to_term};
/// #[derive(serde::Serialize)]
/// enum Status { Ok, NotFound }
/// assert_eq!(to_term(&(1u8, "a")).unwrap(), Term::tuple([Term::Int(1), Term::binary("a")]));
/// assert_eq!(to_term(&Status::NotFound).unwrap(), Term::atom("not_found"));
/// assert_eq!(to_term(&Some(3)).unwrap(), Term::Int(3));
/// assert_eq!(to_term(&None::<u8>).unwrap(), Term::atom("undefined"));
/// ```
pub fn to_term<T: Serialize + ?Sized>(value: &T) -> Result<Term, TermError> {
    value.serialize(TermSerializer)
}

/// Serializes into a [`Term`].
pub struct TermSerializer;

impl ser::Serializer for TermSerializer {
    type Ok = Term;
    type Error = TermError;
    type SerializeSeq = Items;
    type SerializeTuple = Items;
    type SerializeTupleStruct = Items;
    type SerializeTupleVariant = Items;
    type SerializeMap = Pairs;
    type SerializeStruct = Pairs;
    type SerializeStructVariant = Pairs;

    fn serialize_bool(self, v: bool) -> Result<Term, TermError> {
        Ok(Term::atom(if v { "true" } else { "false" }))
    }
    fn serialize_i8(self, v: i8) -> Result<Term, TermError> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Term, TermError> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Term, TermError> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Term, TermError> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_i128(self, v: i128) -> Result<Term, TermError> {
        Ok(Term::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Term, TermError> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Term, TermError> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Term, TermError> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Term, TermError> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_u128(self, v: u128) -> Result<Term, TermError> {
        i128::try_from(v)
            .map(Term::Int)
            .map_err(|_| TermError::new("an integer above 2^127 has no term here"))
    }
    fn serialize_f32(self, v: f32) -> Result<Term, TermError> {
        Ok(Term::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Term, TermError> {
        Ok(Term::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Term, TermError> {
        Ok(Term::Int(v as i128))
    }
    fn serialize_str(self, v: &str) -> Result<Term, TermError> {
        Ok(Term::binary(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Term, TermError> {
        Ok(Term::binary(v))
    }
    fn serialize_none(self) -> Result<Term, TermError> {
        Ok(Term::atom("undefined"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Term, TermError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Term, TermError> {
        Ok(Term::atom("ok"))
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Term, TermError> {
        Ok(Term::Atom(Atom::from(snake_case(name))))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Term, TermError> {
        Ok(Term::Atom(Atom::from(snake_case(variant))))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Term, TermError> {
        match name {
            TERM_TOKEN => super::codec::decode(&value.serialize(Capture)?.bytes()?)
                .map_err(|e| TermError::new(e.to_string())),
            ATOM_TOKEN => Ok(Term::Atom(Atom::from(value.serialize(Capture)?.text()?))),
            super::pids::PID_TOKEN => super::pids::captured_to_erl(&value.serialize(self)?),
            _ => value.serialize(self),
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Term, TermError> {
        Ok(Term::Tuple(vec![
            Term::Atom(Atom::from(snake_case(variant))),
            value.serialize(self)?,
        ]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Items, TermError> {
        Ok(Items::new(Shape::List, len))
    }
    fn serialize_tuple(self, len: usize) -> Result<Items, TermError> {
        Ok(Items::new(Shape::Tuple, Some(len)))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Items, TermError> {
        Ok(Items::new(Shape::Tuple, Some(len)))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Items, TermError> {
        let mut items = Items::new(Shape::Tuple, Some(len + 1));
        items
            .items
            .push(Term::Atom(Atom::from(snake_case(variant))));
        Ok(items)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Pairs, TermError> {
        Ok(Pairs::new(None, len))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Pairs, TermError> {
        Ok(Pairs::new(None, Some(len)))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Pairs, TermError> {
        Ok(Pairs::new(Some(Atom::from(snake_case(variant))), Some(len)))
    }
}

enum Shape {
    List,
    Tuple,
}

/// The elements of a list or tuple being serialized.
pub struct Items {
    shape: Shape,
    items: Vec<Term>,
}

impl Items {
    fn new(shape: Shape, len: Option<usize>) -> Self {
        // A length hint comes from the value being serialized, not from a peer; still, cap it.
        let items = Vec::with_capacity(len.unwrap_or(0).min(4096));
        Items { shape, items }
    }

    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), TermError> {
        self.items.push(value.serialize(TermSerializer)?);
        Ok(())
    }

    fn done(self) -> Term {
        match self.shape {
            Shape::List => Term::List(self.items),
            Shape::Tuple => Term::Tuple(self.items),
        }
    }
}

impl ser::SerializeSeq for Items {
    type Ok = Term;
    type Error = TermError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), TermError> {
        self.push(v)
    }
    fn end(self) -> Result<Term, TermError> {
        Ok(self.done())
    }
}

impl ser::SerializeTuple for Items {
    type Ok = Term;
    type Error = TermError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), TermError> {
        self.push(v)
    }
    fn end(self) -> Result<Term, TermError> {
        Ok(self.done())
    }
}

impl ser::SerializeTupleStruct for Items {
    type Ok = Term;
    type Error = TermError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), TermError> {
        self.push(v)
    }
    fn end(self) -> Result<Term, TermError> {
        Ok(self.done())
    }
}

impl ser::SerializeTupleVariant for Items {
    type Ok = Term;
    type Error = TermError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), TermError> {
        self.push(v)
    }
    fn end(self) -> Result<Term, TermError> {
        Ok(self.done())
    }
}

/// The pairs of a map or struct being serialized; a struct variant is tagged with its name.
pub struct Pairs {
    tag: Option<Atom>,
    pairs: Vec<(Term, Term)>,
    key: Option<Term>,
}

impl Pairs {
    fn new(tag: Option<Atom>, len: Option<usize>) -> Self {
        Pairs {
            tag,
            pairs: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            key: None,
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<(), TermError> {
        self.pairs
            .push((Term::Atom(Atom::from(key)), v.serialize(TermSerializer)?));
        Ok(())
    }

    fn done(self) -> Term {
        let map = Term::Map(self.pairs);
        match self.tag {
            Some(tag) => Term::Tuple(vec![Term::Atom(tag), map]),
            None => map,
        }
    }
}

impl ser::SerializeMap for Pairs {
    type Ok = Term;
    type Error = TermError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), TermError> {
        self.key = Some(k.serialize(TermSerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), TermError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| TermError::new("a map value without its key"))?;
        self.pairs.push((key, v.serialize(TermSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Term, TermError> {
        Ok(self.done())
    }
}

impl ser::SerializeStruct for Pairs {
    type Ok = Term;
    type Error = TermError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), TermError> {
        self.field(key, v)
    }
    fn end(self) -> Result<Term, TermError> {
        Ok(self.done())
    }
}

impl ser::SerializeStructVariant for Pairs {
    type Ok = Term;
    type Error = TermError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), TermError> {
        self.field(key, v)
    }
    fn end(self) -> Result<Term, TermError> {
        Ok(self.done())
    }
}

/// What a token's inner value serialized as: the bytes of an encoded term or an atom's name.
enum Captured {
    Bytes(Vec<u8>),
    Text(String),
}

impl Captured {
    fn bytes(self) -> Result<Vec<u8>, TermError> {
        match self {
            Captured::Bytes(b) => Ok(b),
            Captured::Text(_) => Err(TermError::new("expected an encoded term")),
        }
    }
    fn text(self) -> Result<String, TermError> {
        match self {
            Captured::Text(t) => Ok(t),
            Captured::Bytes(_) => Err(TermError::new("expected an atom's name")),
        }
    }
}

/// Takes the inner value of a token newtype: bytes or text, nothing else.
struct Capture;

macro_rules! refuse {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name(self, _: $ty) -> Result<Captured, TermError> {
            Err(TermError::new("not a term token"))
        }
    )*};
}

impl ser::Serializer for Capture {
    type Ok = Captured;
    type Error = TermError;
    type SerializeSeq = Impossible<Captured, TermError>;
    type SerializeTuple = Impossible<Captured, TermError>;
    type SerializeTupleStruct = Impossible<Captured, TermError>;
    type SerializeTupleVariant = Impossible<Captured, TermError>;
    type SerializeMap = Impossible<Captured, TermError>;
    type SerializeStruct = Impossible<Captured, TermError>;
    type SerializeStructVariant = Impossible<Captured, TermError>;

    fn serialize_bytes(self, v: &[u8]) -> Result<Captured, TermError> {
        Ok(Captured::Bytes(v.to_vec()))
    }
    fn serialize_str(self, v: &str) -> Result<Captured, TermError> {
        Ok(Captured::Text(v.to_owned()))
    }
    refuse!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char,
        serialize_unit_struct: &'static str);
    fn serialize_none(self) -> Result<Captured, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Captured, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_unit(self) -> Result<Captured, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<Captured, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<Captured, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Captured, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, TermError> {
        Err(TermError::new("not a term token"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, TermError> {
        Err(TermError::new("not a term token"))
    }
}
