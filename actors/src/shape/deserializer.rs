//! The deserializer a trace drives a type's `Deserialize` with: each request answered with a
//! placeholder and written down.

use serde::de::{self, Visitor};

use super::access::{Elements, Entry, Fields, Variant};
use super::fnv::fnv1a;
use super::tracer::{Body, Key, Kind, Shape, Tracer};
use super::untraceable::Untraceable;

macro_rules! prims {
    ($($method:ident $visit:ident $value:expr, $name:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Untraceable> {
                self.prim($name);
                visitor.$visit($value)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for &mut Tracer {
    type Error = Untraceable;

    prims! {
        deserialize_bool visit_bool false, "bool";
        deserialize_i8 visit_i8 1, "i8";
        deserialize_i16 visit_i16 1, "i16";
        deserialize_i32 visit_i32 1, "i32";
        deserialize_i64 visit_i64 1, "i64";
        deserialize_i128 visit_i128 1, "i128";
        deserialize_u8 visit_u8 1, "u8";
        deserialize_u16 visit_u16 1, "u16";
        deserialize_u32 visit_u32 1, "u32";
        deserialize_u64 visit_u64 1, "u64";
        deserialize_u128 visit_u128 1, "u128";
        deserialize_f32 visit_f32 0.0, "f32";
        deserialize_f64 visit_f64 0.0, "f64";
        deserialize_char visit_char 'a', "char";
        deserialize_str visit_borrowed_str "", "str";
        deserialize_string visit_str "", "str";
        deserialize_bytes visit_borrowed_bytes b"", "bytes";
        deserialize_byte_buf visit_bytes b"", "bytes";
    }

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Untraceable> {
        Err(Untraceable::Any)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Untraceable> {
        self.prim("ignored");
        visitor.visit_unit()
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Untraceable> {
        Err(Untraceable::Any)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Untraceable> {
        self.prim("unit");
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        self.prim("unit");
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Untraceable> {
        let at = self.open_collection();
        if let Some(shape) = self.empty.get(&at).cloned() {
            self.result = Some(shape);
            return visitor.visit_none();
        }
        let (value, inner) = self.trace(|t| {
            t.pending = Some((at, Kind::Option));
            visitor.visit_some(&mut *t)
        })?;
        self.result = Some(Shape::Option(Box::new(inner)));
        Ok(value)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        let key = key_of::<V>(name);
        self.enter(key)?;
        let (value, inner) = self.trace(|t| visitor.visit_newtype_struct(&mut *t))?;
        self.leave(key, Body::Newtype(inner))?;
        Ok(value)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Untraceable> {
        let at = self.open_collection();
        if let Some(shape) = self.empty.get(&at).cloned() {
            self.result = Some(shape);
            return visitor.visit_seq(Elements::empty(self));
        }
        let mut elements = Elements::one(self, at);
        let value = visitor.visit_seq(&mut elements)?;
        let item = elements.shapes.pop().unwrap_or(Shape::Prim("never"));
        self.result = Some(Shape::Seq(Box::new(item)));
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        self.pending = None;
        let mut elements = Elements::exactly(self, len);
        let value = visitor.visit_seq(&mut elements)?;
        self.result = Some(Shape::Tuple(elements.shapes));
        Ok(value)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        let key = key_of::<V>(name);
        self.enter(key)?;
        let mut elements = Elements::exactly(self, len);
        let value = visitor.visit_seq(&mut elements)?;
        let shapes = elements.shapes;
        self.leave(key, Body::Tuple(shapes))?;
        Ok(value)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Untraceable> {
        let at = self.open_collection();
        if let Some(shape) = self.empty.get(&at).cloned() {
            self.result = Some(shape);
            return visitor.visit_map(Entry::empty(self, at));
        }
        let mut entry = Entry::one(self, at);
        let value = visitor.visit_map(&mut entry)?;
        let never = || Box::new(Shape::Prim("never"));
        let shape = Shape::Map(
            entry.key.map_or_else(never, Box::new),
            entry.value.map_or_else(never, Box::new),
        );
        self.result = Some(shape);
        Ok(value)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        let key = key_of::<V>(name);
        self.enter(key)?;
        let mut access = Fields {
            tracer: self,
            fields,
            next: 0,
            shapes: Vec::new(),
        };
        let value = visitor.visit_map(&mut access)?;
        let shapes = access.shapes;
        self.leave(key, Body::Struct(shapes))?;
        Ok(value)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        let key = key_of::<V>(name);
        let index = self.choose(key, variants.len())?;
        let was_inside = self.on_stack(key);
        if !was_inside {
            self.enter(key)?;
        } else {
            self.pending = None;
        }
        let value = visitor.visit_enum(Variant {
            tracer: &mut *self,
            key,
            variants,
            index,
        })?;
        if !was_inside {
            self.stack.pop();
        }
        self.result = Some(Shape::Named(key));
        Ok(value)
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The key of a struct or enum named `name` whose visitor is a `V`: the visitor's type
/// tells apart two types of one name, and two instances of one generic type (a key only,
/// never written into the shape, which stays the same across builds).
fn key_of<V>(name: &'static str) -> Key {
    (name, fnv1a(std::any::type_name::<V>().as_bytes()) as usize)
}
