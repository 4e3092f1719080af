//! The accessors a trace hands to visitors: the elements of a sequence or tuple, the entry
//! of a map, the fields of a struct, the variant of an enum, and a field or variant name.

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};

use super::tracer::{Body, Key, Kind, Location, Shape, Tracer};
use super::untraceable::Untraceable;

/// The elements of a sequence or tuple: one element for a sequence (its element's shape),
/// every element for a tuple.
pub(super) struct Elements<'a> {
    pub(super) tracer: &'a mut Tracer,
    pub(super) left: usize,
    pub(super) at: Option<Location>,
    pub(super) shapes: Vec<Shape>,
}

impl<'a> Elements<'a> {
    pub(super) fn empty(tracer: &'a mut Tracer) -> Self {
        Elements {
            tracer,
            left: 0,
            at: None,
            shapes: Vec::new(),
        }
    }
    pub(super) fn one(tracer: &'a mut Tracer, at: Location) -> Self {
        Elements {
            tracer,
            left: 1,
            at: Some(at),
            shapes: Vec::new(),
        }
    }
    pub(super) fn exactly(tracer: &'a mut Tracer, len: usize) -> Self {
        Elements {
            tracer,
            left: len,
            at: None,
            shapes: Vec::new(),
        }
    }
}

impl<'de> SeqAccess<'de> for Elements<'_> {
    type Error = Untraceable;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Untraceable> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let at = self.at;
        let (value, shape) = self.tracer.trace(|t| {
            t.pending = at.map(|at| (at, Kind::Seq));
            seed.deserialize(&mut *t)
        })?;
        self.shapes.push(shape);
        Ok(Some(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// One entry of a map (or none, for a map left empty).
pub(super) struct Entry<'a> {
    pub(super) tracer: &'a mut Tracer,
    pub(super) at: Location,
    pub(super) left: bool,
    pub(super) key: Option<Shape>,
    pub(super) value: Option<Shape>,
}

impl<'a> Entry<'a> {
    pub(super) fn empty(tracer: &'a mut Tracer, at: Location) -> Self {
        Entry {
            tracer,
            at,
            left: false,
            key: None,
            value: None,
        }
    }
    pub(super) fn one(tracer: &'a mut Tracer, at: Location) -> Self {
        Entry {
            tracer,
            at,
            left: true,
            key: None,
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entry<'_> {
    type Error = Untraceable;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Untraceable> {
        if !self.left {
            return Ok(None);
        }
        self.left = false;
        let (key, shape) = self.tracer.trace(|t| seed.deserialize(&mut *t))?;
        self.key = Some(shape);
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Untraceable> {
        let pending = (
            self.at,
            Kind::MapValue(self.key.clone().unwrap_or(Shape::Prim("never"))),
        );
        let (value, shape) = self.tracer.trace(|t| {
            t.pending = Some(pending);
            seed.deserialize(&mut *t)
        })?;
        self.value = Some(shape);
        Ok(value)
    }
}

/// The fields of a struct, each named and then traced.
pub(super) struct Fields<'a> {
    pub(super) tracer: &'a mut Tracer,
    pub(super) fields: &'static [&'static str],
    pub(super) next: usize,
    pub(super) shapes: Vec<(&'static str, Shape)>,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = Untraceable;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Untraceable> {
        let Some(name) = self.fields.get(self.next) else {
            return Ok(None);
        };
        seed.deserialize(Name(name)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Untraceable> {
        let name = self.fields[self.next];
        self.next += 1;
        let (value, shape) = self.tracer.trace(|t| {
            t.pending = None;
            seed.deserialize(&mut *t)
        })?;
        self.shapes.push((name, shape));
        Ok(value)
    }
}

/// The chosen variant of an enum, traced as its visitor asks.
pub(super) struct Variant<'a> {
    pub(super) tracer: &'a mut Tracer,
    pub(super) key: Key,
    pub(super) variants: &'static [&'static str],
    pub(super) index: usize,
}

impl<'de, 'a> EnumAccess<'de> for Variant<'a> {
    type Error = Untraceable;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self), Untraceable> {
        let name = self.variants[self.index];
        let tag = seed.deserialize(Name(name))?;
        Ok((tag, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_> {
    type Error = Untraceable;

    fn unit_variant(self) -> Result<(), Untraceable> {
        self.tracer
            .record_variant(self.key, self.variants, self.index, Body::Unit);
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, Untraceable> {
        let (value, shape) = self.tracer.trace(|t| {
            t.pending = None;
            seed.deserialize(&mut *t)
        })?;
        self.tracer
            .record_variant(self.key, self.variants, self.index, Body::Newtype(shape));
        Ok(value)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        let mut elements = Elements::exactly(&mut *self.tracer, len);
        let value = visitor.visit_seq(&mut elements)?;
        let shapes = elements.shapes;
        self.tracer
            .record_variant(self.key, self.variants, self.index, Body::Tuple(shapes));
        Ok(value)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        let mut access = Fields {
            tracer: &mut *self.tracer,
            fields,
            next: 0,
            shapes: Vec::new(),
        };
        let value = visitor.visit_map(&mut access)?;
        let shapes = access.shapes;
        self.tracer
            .record_variant(self.key, self.variants, self.index, Body::Struct(shapes));
        Ok(value)
    }
}

/// A field or variant name, given to the identifier that asks for it.
pub(super) struct Name(&'static str);

impl<'de> de::Deserializer<'de> for Name {
    type Error = Untraceable;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Untraceable> {
        visitor.visit_borrowed_str(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}
