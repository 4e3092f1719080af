//! What a trace has learnt: the structs and enums met, the collections cut, the variants
//! tried; and the choice of the variant to trace next.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::untraceable::Untraceable;

/// Values nested in one another before a type counts as one that never ends.
const MAX_DEPTH: u32 = 256;

/// A struct or enum: its name, and a hash of its visitor's type name, which tells apart two
/// types of one name (`deserializer::key_of`).
pub(super) type Key = (&'static str, usize);

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Shape {
    Prim(&'static str),
    Option(Box<Shape>),
    Seq(Box<Shape>),
    Map(Box<Shape>, Box<Shape>),
    Tuple(Vec<Shape>),
    Named(Key),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Body {
    Unit,
    Newtype(Shape),
    Tuple(Vec<Shape>),
    Struct(Vec<(&'static str, Shape)>),
    Enum {
        variants: &'static [&'static str],
        traced: BTreeMap<usize, Body>,
    },
}

/// A collection (sequence, map or option) by where it opens: the innermost struct or enum
/// being traced, and how many collections opened in it before.
pub(super) type Location = (Key, u32);

pub(super) struct Frame {
    pub(super) key: Key,
    pub(super) collections: u32,
}

impl Frame {
    pub(super) fn root() -> Frame {
        Frame {
            key: ("", 0),
            collections: 0,
        }
    }
}

#[derive(Default)]
pub(super) struct Tracer {
    pub(super) registry: HashMap<Key, Body>,
    pub(super) stack: Vec<Frame>,
    /// The shape of the value just traced.
    pub(super) result: Option<Shape>,
    /// The collection whose element is being traced, while nothing inside it has begun.
    pub(super) pending: Option<(Location, Kind)>,
    /// Collections left empty from now on, each with its shape: its element is the type it
    /// is inside of.
    pub(super) empty: HashMap<Location, Shape>,
    /// The variants of each enum chosen since the last pass that learnt something.
    pub(super) attempted: HashMap<Key, HashSet<usize>>,
    /// The variant of each enum traced first: chosen inside the enum itself, it ends.
    pub(super) ends: HashMap<Key, usize>,
    pub(super) depth: u32,
}

/// What a collection whose element is being traced is.
#[derive(Clone)]
pub(super) enum Kind {
    Seq,
    Option,
    /// A map's value, after its key of this shape.
    MapValue(Shape),
}

impl Tracer {
    /// How much has been learnt: grows with every pass that learns something.
    pub(super) fn progress(&self) -> usize {
        let variants: usize = self
            .registry
            .values()
            .map(|b| match b {
                Body::Enum { traced, .. } => traced.len(),
                _ => 1,
            })
            .sum();
        variants + self.empty.len()
    }

    /// Whether every enum met has had every variant traced.
    pub(super) fn complete(&self) -> bool {
        self.registry.values().all(|b| match b {
            Body::Enum { variants, traced } => traced.len() == variants.len(),
            _ => true,
        })
    }

    pub(super) fn on_stack(&self, key: Key) -> bool {
        self.stack.iter().any(|f| f.key == key)
    }

    /// Called as a struct or enum `key` begins: fails if it is already being traced (the
    /// type refers to itself), leaving the collection it came through empty next time.
    pub(super) fn enter(&mut self, key: Key) -> Result<(), Untraceable> {
        if self.on_stack(key) {
            return Err(self.cut(key));
        }
        self.pending = None;
        self.stack.push(Frame {
            key,
            collections: 0,
        });
        Ok(())
    }

    /// `key` met inside itself: the collection it came through, if it came straight through
    /// one, is left empty from the next pass on.
    pub(super) fn cut(&mut self, key: Key) -> Untraceable {
        if let Some((at, kind)) = self.pending.take() {
            let named = Box::new(Shape::Named(key));
            let shape = match kind {
                Kind::Seq => Shape::Seq(named),
                Kind::Option => Shape::Option(named),
                Kind::MapValue(k) => Shape::Map(Box::new(k), named),
            };
            self.empty.entry(at).or_insert(shape);
        }
        Untraceable::Recursion
    }

    pub(super) fn leave(&mut self, key: Key, body: Body) -> Result<(), Untraceable> {
        self.stack.pop();
        match self.registry.get(&key) {
            Some(known) if *known != body => Err(Untraceable::Refused(format!(
                "two types named {} that differ",
                key.0
            ))),
            Some(_) => Ok(()),
            None => {
                self.registry.insert(key, body);
                Ok(())
            }
        }
        .map(|()| self.result = Some(Shape::Named(key)))
    }

    /// Where the next collection opens.
    pub(super) fn open_collection(&mut self) -> Location {
        self.pending = None;
        let frame = self.stack.last_mut().expect("tracing has a root frame");
        let at = (frame.key, frame.collections);
        frame.collections += 1;
        at
    }

    pub(super) fn prim(&mut self, name: &'static str) {
        self.pending = None;
        self.result = Some(Shape::Prim(name));
    }

    /// The shape of one value traced by `f`.
    pub(super) fn trace<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Untraceable>,
    ) -> Result<(T, Shape), Untraceable> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Untraceable::Recursion);
        }
        self.result = None;
        let value = f(self);
        self.depth -= 1;
        let shape = self.result.take().unwrap_or(Shape::Prim("unit"));
        Ok((value?, shape))
    }

    /// The variant of enum `key` to trace now.
    pub(super) fn choose(&mut self, key: Key, count: usize) -> Result<usize, Untraceable> {
        if self.on_stack(key) {
            // Inside itself: the variant known to end, or the collection it came through cut.
            return match self.ends.get(&key) {
                Some(&i) => Ok(i),
                None => Err(self.cut(key)),
            };
        }
        let traced = |i: usize| match self.registry.get(&key) {
            Some(Body::Enum { traced, .. }) => traced.contains_key(&i),
            _ => false,
        };
        let attempted = self.attempted.get(&key);
        let tried = |i: usize| attempted.is_some_and(|a| a.contains(&i));
        let pick = (0..count)
            .find(|&i| !traced(i) && !tried(i))
            .or_else(|| self.ends.get(&key).copied())
            .or_else(|| (0..count).find(|&i| !traced(i)))
            .ok_or_else(|| Untraceable::Refused("an enum without variants".into()))?;
        self.attempted.entry(key).or_default().insert(pick);
        Ok(pick)
    }

    pub(super) fn record_variant(
        &mut self,
        key: Key,
        variants: &'static [&'static str],
        index: usize,
        body: Body,
    ) {
        self.ends.entry(key).or_insert(index);
        let entry = self.registry.entry(key).or_insert_with(|| Body::Enum {
            variants,
            traced: BTreeMap::new(),
        });
        if let Body::Enum { traced, .. } = entry {
            traced.entry(index).or_insert(body);
        }
    }
}
