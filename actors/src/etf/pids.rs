//! Pids as Erlang pids: a process of a node that speaks to BEAM nodes becomes a pid of that
//! node's BEAM name, and an Erlang pid read from a term becomes a pid here, so a pid in a
//! message is one the other side can send to, monitor and link.
//!
//! A pid passes through serde as the newtype [`PID_TOKEN`] around its wire form (node,
//! creation, id, actor identity); the term serializer and deserializer recognise it. Which
//! nodes of this OS process have BEAM names is kept here, registered by the distribution
//! layer when a node starts speaking to BEAM nodes.

use std::sync::RwLock;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

use super::error::TermError;
use super::term::{Atom, ErlPid, Term};

/// The newtype name under which a pid passes through serde.
pub(crate) const PID_TOKEN: &str = "$actors::Pid";

/// The identity of a pid read from a term, whose actor type the term does not tell.
pub(crate) const ANY_IDENTITY: u64 = 0;

/// Process numbers split as Erlang splits them: 15 bits in the number, the rest in the serial.
const NUMBER_BITS: u32 = 15;

/// A node's names: as Rust nodes know it, and as BEAM nodes do.
struct Names {
    rust: String,
    rust_creation: u32,
    beam: Atom,
    beam_creation: u32,
}

static NAMES: RwLock<Vec<Names>> = RwLock::new(Vec::new());

fn names() -> std::sync::RwLockReadGuard<'static, Vec<Names>> {
    NAMES
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Node `rust` (of creation `rust_creation`) is `beam` among BEAM nodes.
pub(crate) fn register(rust: &str, rust_creation: u32, beam: &str, beam_creation: u32) {
    let mut all = NAMES
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    all.retain(|n| n.rust != rust);
    all.push(Names {
        rust: rust.to_string(),
        rust_creation,
        beam: Atom::from(beam),
        beam_creation,
    });
}

/// Node `rust` no longer speaks to BEAM nodes.
pub(crate) fn forget(rust: &str) {
    NAMES
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .retain(|n| n.rust != rust);
}

/// Whether a node name is a BEAM node's (`name@host`), not a Rust node's (`name@host:port`).
fn is_beam_name(node: &str) -> bool {
    node.split_once('@')
        .is_some_and(|(alive, host)| !alive.is_empty() && !host.is_empty() && !host.contains(':'))
}

/// The Erlang pid of process `id` of `node`.
pub(crate) fn to_erl(node: &str, creation: u32, id: u64) -> Result<ErlPid, TermError> {
    if let Some(n) = names()
        .iter()
        .find(|n| n.rust == node && n.rust_creation == creation)
    {
        return Ok(ErlPid {
            node: n.beam.clone(),
            id: (id & ((1 << NUMBER_BITS) - 1)) as u32,
            serial: (id >> NUMBER_BITS) as u32,
            creation: n.beam_creation,
        });
    }
    if is_beam_name(node) {
        return Ok(ErlPid {
            node: Atom::from(node),
            id: id as u32,
            serial: (id >> 32) as u32,
            creation,
        });
    }
    Err(TermError::new(format!(
        "a pid of {node}, a Rust node that does not speak to BEAM nodes, cannot be a term"
    )))
}

/// Where an Erlang pid lives, as pids here name it: (node, creation, id).
pub(crate) fn from_erl(pid: &ErlPid) -> (String, u32, u64) {
    if let Some(n) = names()
        .iter()
        .find(|n| n.beam == pid.node && n.beam_creation == pid.creation)
    {
        let id = (pid.serial as u64) << NUMBER_BITS | pid.id as u64;
        return (n.rust.clone(), n.rust_creation, id);
    }
    (
        pid.node.name().to_string(),
        pid.creation,
        (pid.serial as u64) << 32 | pid.id as u64,
    )
}

/// The Erlang pid of a pid's wire form, as the term serializer captured it (a map of its
/// fields).
pub(crate) fn captured_to_erl(fields: &Term) -> Result<Term, TermError> {
    let Term::Map(pairs) = fields else {
        return Err(TermError::new("a pid's wire form is a map"));
    };
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.is_atom(name))
            .map(|(_, v)| v)
            .ok_or_else(|| TermError::new(format!("a pid's wire form lacks {name}")))
    };
    let node = match field("node")? {
        Term::Binary(b) => {
            String::from_utf8(b.clone()).map_err(|e| TermError::new(e.to_string()))?
        }
        _ => return Err(TermError::new("a pid's node is text")),
    };
    let int = |t: &Term| match t {
        Term::Int(n) => Ok(*n),
        _ => Err(TermError::new("a pid's numbers are integers")),
    };
    let creation =
        u32::try_from(int(field("creation")?)?).map_err(|e| TermError::new(e.to_string()))?;
    let id = u64::try_from(int(field("id")?)?).map_err(|e| TermError::new(e.to_string()))?;
    Ok(Term::Pid(to_erl(&node, creation, id)?))
}

/// A pid's wire form, read from an Erlang pid: what a pid's `Deserialize` expects.
pub(crate) struct WireFields {
    node: String,
    creation: u32,
    id: u64,
}

impl WireFields {
    pub(crate) fn of(pid: &ErlPid) -> Self {
        let (node, creation, id) = from_erl(pid);
        WireFields { node, creation, id }
    }
}

const FIELDS: [&str; 4] = ["node", "creation", "id", "identity"];

impl<'de> de::Deserializer<'de> for WireFields {
    type Error = TermError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TermError> {
        visitor.visit_map(Fields {
            fields: self,
            at: 0,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct Fields {
    fields: WireFields,
    at: usize,
}

impl<'de> MapAccess<'de> for Fields {
    type Error = TermError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TermError> {
        match FIELDS.get(self.at) {
            Some(name) => seed.deserialize((*name).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, TermError> {
        let at = self.at;
        self.at += 1;
        match at {
            0 => seed.deserialize(self.fields.node.clone().into_deserializer()),
            1 => seed.deserialize(self.fields.creation.into_deserializer()),
            2 => seed.deserialize(self.fields.id.into_deserializer()),
            _ => seed.deserialize(ANY_IDENTITY.into_deserializer()),
        }
    }
}
