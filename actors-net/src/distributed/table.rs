//! The replicated set of child definitions that every member of one distributed supervisor
//! holds: a map from child id to its last write, merged by version (a last-writer-wins
//! register per id, with removals kept as tombstones), so members that have seen the same
//! writes hold the same set whatever the order they saw them in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::child::ChildDef;

/// When a write was made: a Lamport clock and the node that made it, ordered in that order,
/// so that concurrent writes to one id are decided the same way everywhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Version {
    pub(crate) clock: u64,
    pub(crate) node: String,
}

/// The last write of one child id: its definition, or `None` once it was removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) version: Version,
    pub(crate) def: Option<ChildDef>,
}

/// Why a write was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The table holds its limit of ids (live and removed).
    Full,
}

#[derive(Debug, Default)]
pub(crate) struct ChildTable {
    entries: BTreeMap<String, Entry>,
    clock: u64,
    limit: usize,
}

impl ChildTable {
    pub(crate) fn new(limit: usize) -> Self {
        ChildTable {
            entries: BTreeMap::new(),
            clock: 0,
            limit,
        }
    }

    /// A write made here now: its version follows everything this table has seen.
    pub(crate) fn write(
        &mut self,
        node: &str,
        id: &str,
        def: Option<ChildDef>,
    ) -> Result<Entry, Refused> {
        if !self.entries.contains_key(id) && self.entries.len() >= self.limit {
            return Err(Refused::Full);
        }
        // Saturating: a peer may claim any clock, and must not make this one overflow.
        self.clock = self.clock.saturating_add(1);
        let entry = Entry {
            version: Version {
                clock: self.clock,
                node: node.to_string(),
            },
            def,
        };
        self.entries.insert(id.to_string(), entry.clone());
        Ok(entry)
    }

    /// Takes a write made elsewhere, if it is newer than what is here; true if it changed
    /// the table.
    pub(crate) fn merge(&mut self, id: &str, entry: Entry) -> Result<bool, Refused> {
        self.clock = self.clock.max(entry.version.clock);
        match self.entries.get(id) {
            Some(here) if here.version >= entry.version => Ok(false),
            Some(_) => {
                self.entries.insert(id.to_string(), entry);
                Ok(true)
            }
            None if self.entries.len() >= self.limit => Err(Refused::Full),
            None => {
                self.entries.insert(id.to_string(), entry);
                Ok(true)
            }
        }
    }

    /// How many child ids it holds at most.
    /// True while no child was ever written (nor removed) here.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// The definition of a live child.
    pub(crate) fn get(&self, id: &str) -> Option<&ChildDef> {
        self.entries.get(id).and_then(|e| e.def.as_ref())
    }

    /// Every live child, by id.
    pub(crate) fn live(&self) -> impl Iterator<Item = (&String, &ChildDef)> {
        self.entries
            .iter()
            .filter_map(|(id, e)| e.def.as_ref().map(|d| (id, d)))
    }

    /// A digest of every write: two tables with the same digest hold the same writes.
    pub(crate) fn digest(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let mut mix = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for (id, e) in &self.entries {
            mix(id.as_bytes());
            mix(&e.version.clock.to_le_bytes());
            mix(e.version.node.as_bytes());
            mix(&[u8::from(e.def.is_some())]);
        }
        h
    }

    /// Every write, removals included: what a member that joins is sent.
    pub(crate) fn all(&self) -> Vec<(String, Entry)> {
        self.entries
            .iter()
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::distributed::child::ChildDef;
    use crate::distributed::table::{ChildTable, Entry, Refused, Version};

    fn def(id: &str) -> ChildDef {
        ChildDef::raw(id, "Worker", 1, vec![])
    }

    #[test]
    fn members_that_saw_the_same_writes_in_any_order_hold_the_same_set() {
        let mut a = ChildTable::new(100);
        let mut b = ChildTable::new(100);
        let w1 = a.write("a", "x", Some(def("x"))).unwrap();
        let w2 = b.write("b", "x", None).unwrap();
        let w3 = a.write("a", "y", Some(def("y"))).unwrap();
        for (id, w) in [("x", w2.clone()), ("y", w3.clone())] {
            a.merge(id, w).unwrap();
        }
        for (id, w) in [("y", w3), ("x", w1)] {
            b.merge(id, w).unwrap();
        }
        assert_eq!(a.all(), b.all());
        // Same clock: the node's name decides, the same way on both.
        assert!(a.get("x").is_none(), "b's removal (node b > a) wins");
        // A write made after seeing another follows it.
        let w4 = a.write("a", "x", Some(def("x"))).unwrap();
        assert!(b.merge("x", w4).unwrap());
        assert!(b.get("x").is_some());
    }

    #[test]
    fn a_peer_claiming_the_last_clock_does_not_overflow_this_one() {
        let mut t = ChildTable::new(10);
        let lie = Entry {
            version: Version {
                clock: u64::MAX,
                node: "liar".into(),
            },
            def: None,
        };
        assert_eq!(t.merge("x", lie), Ok(true));
        let next = t.write("a", "y", Some(def("y"))).unwrap();
        assert_eq!(next.version.clock, u64::MAX);
    }

    #[test]
    fn a_table_holds_at_most_its_limit_of_ids() {
        let mut t = ChildTable::new(2);
        t.write("a", "1", Some(def("1"))).unwrap();
        t.write("a", "2", None).unwrap();
        assert_eq!(t.write("a", "3", Some(def("3"))), Err(Refused::Full));
        let mut other = ChildTable::new(10);
        let far = other.write("b", "4", Some(def("4"))).unwrap();
        assert_eq!(t.merge("4", far), Err(Refused::Full));
        // Rewriting an id it holds is always taken.
        assert!(t.write("a", "2", Some(def("2"))).is_ok());
    }
}
