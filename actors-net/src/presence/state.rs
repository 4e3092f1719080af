//! The replicated presences: one replica per node's server, each written by that server
//! alone, its changes numbered. A node's view is the replicas it holds; a change another node
//! makes reaches it as a delta (the changes between two numbers), and a gap in the numbers
//! (a delta lost with a connection) is filled by that node's whole replica.
//!
//! This is the state of Phoenix's Tracker with its dots cut to what one writer per replica
//! needs: a version per replica, since no two nodes write the same entry.

use std::collections::BTreeMap;

use actors::AnyPid;
use serde::{Deserialize, Serialize};

/// One presence: who (`pid`) is present as `key` in `topic`, with what metadata (encoded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) topic: String,
    pub(crate) key: String,
    pub(crate) pid: AnyPid,
    #[serde(with = "serde_bytes")]
    pub(crate) meta: Vec<u8>,
}

impl Entry {
    fn id(&self) -> EntryId {
        (self.topic.clone(), self.key.clone(), self.pid.id())
    }
}

/// An entry's identity within its replica: topic, key, process (a process of the replica's
/// node, so its number names it).
pub(crate) type EntryId = (String, String, u64);

/// A change to a replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Change {
    /// Tracked, or its metadata updated.
    Put(Entry),
    /// Untracked, or its process ended.
    Remove {
        topic: String,
        key: String,
        pid: AnyPid,
    },
}

/// The changes that take a replica from version `from` to version `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Delta {
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) changes: Vec<Change>,
}

/// What a change did to a view, for the join and leave events.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen {
    Joined(Entry),
    Updated(Entry),
    Left(Entry),
}

/// One server's presences, at a version.
#[derive(Debug, Default, Clone)]
pub(crate) struct Replica {
    pub(crate) version: u64,
    pub(crate) entries: BTreeMap<EntryId, Entry>,
}

/// Why a delta or a replica was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The delta starts past this view's version of the replica: ask for all of it.
    Gap,
    /// The replica would hold more entries than the limit.
    Full,
}

impl Replica {
    /// Applies one change, noting what it did.
    fn apply(&mut self, change: Change, seen: &mut Vec<Seen>) {
        match change {
            Change::Put(entry) => {
                let id = entry.id();
                match self.entries.insert(id, entry.clone()) {
                    Some(old) if old.meta == entry.meta => {}
                    Some(_) => seen.push(Seen::Updated(entry)),
                    None => seen.push(Seen::Joined(entry)),
                }
            }
            Change::Remove { topic, key, pid } => {
                if let Some(old) = self.entries.remove(&(topic, key, pid.id())) {
                    seen.push(Seen::Left(old));
                }
            }
        }
    }

    /// Takes `delta` if it follows this version (a delta already taken is passed over).
    pub(crate) fn take(
        &mut self,
        delta: Delta,
        limit: usize,
        seen: &mut Vec<Seen>,
    ) -> Result<(), Refused> {
        if delta.to <= self.version {
            return Ok(());
        }
        if delta.from != self.version {
            return Err(Refused::Gap);
        }
        let puts = delta
            .changes
            .iter()
            .filter(|c| matches!(c, Change::Put(_)))
            .count();
        if self.entries.len().saturating_add(puts) > limit {
            return Err(Refused::Full);
        }
        for change in delta.changes {
            self.apply(change, seen);
        }
        self.version = delta.to;
        Ok(())
    }

    /// Replaces this replica with `entries` at `version`, if newer, noting the differences.
    pub(crate) fn replace(
        &mut self,
        version: u64,
        entries: Vec<Entry>,
        limit: usize,
        seen: &mut Vec<Seen>,
    ) -> Result<(), Refused> {
        if version <= self.version {
            return Ok(());
        }
        if entries.len() > limit {
            return Err(Refused::Full);
        }
        let fresh: BTreeMap<EntryId, Entry> = entries.into_iter().map(|e| (e.id(), e)).collect();
        let old = std::mem::replace(&mut self.entries, fresh);
        for (id, gone) in &old {
            if !self.entries.contains_key(id) {
                seen.push(Seen::Left(gone.clone()));
            }
        }
        for (id, new) in &self.entries {
            match old.get(id) {
                None => seen.push(Seen::Joined(new.clone())),
                Some(was) if was.meta != new.meta => seen.push(Seen::Updated(new.clone())),
                Some(_) => {}
            }
        }
        self.version = version;
        Ok(())
    }

    /// Every entry leaves (the replica's node is gone).
    pub(crate) fn clear(&mut self, seen: &mut Vec<Seen>) {
        for (_, old) in std::mem::take(&mut self.entries) {
            seen.push(Seen::Left(old));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::presence::state::{Change, Delta, Entry, Refused, Replica, Seen};

    fn entry(key: &str, meta: u8) -> Entry {
        thread_local! {
            static NODE: actors::Node = actors::Node::local();
        }
        Entry {
            topic: "t".into(),
            key: key.into(),
            pid: NODE.with(|n| actors::dist::pid_of(n, 1)),
            meta: vec![meta],
        }
    }

    #[test]
    fn deltas_apply_in_order_and_a_gap_asks_for_the_whole_replica() {
        let mut r = Replica::default();
        let mut seen = Vec::new();
        let d1 = Delta {
            from: 0,
            to: 1,
            changes: vec![Change::Put(entry("a", 1))],
        };
        r.take(d1.clone(), 10, &mut seen).unwrap();
        assert_eq!(seen, vec![Seen::Joined(entry("a", 1))]);
        // Again: already taken.
        r.take(d1, 10, &mut seen).unwrap();
        assert_eq!(seen.len(), 1);
        let d3 = Delta {
            from: 2,
            to: 3,
            changes: vec![],
        };
        assert_eq!(r.take(d3, 10, &mut seen), Err(Refused::Gap));
        // The whole replica at version 3: a left, b joined.
        let mut seen = Vec::new();
        r.replace(3, vec![entry("b", 1)], 10, &mut seen).unwrap();
        assert_eq!(
            seen,
            vec![Seen::Left(entry("a", 1)), Seen::Joined(entry("b", 1))]
        );
        assert_eq!(r.version, 3);
    }

    #[test]
    fn a_replica_holds_at_most_its_limit() {
        let mut r = Replica::default();
        let changes = (0..5)
            .map(|i| Change::Put(entry(&format!("k{i}"), 0)))
            .collect();
        let delta = Delta {
            from: 0,
            to: 5,
            changes,
        };
        assert_eq!(r.take(delta, 4, &mut Vec::new()), Err(Refused::Full));
        let many = (0..5).map(|i| entry(&format!("k{i}"), 0)).collect();
        assert_eq!(r.replace(9, many, 4, &mut Vec::new()), Err(Refused::Full));
        assert!(r.entries.is_empty());
    }
}
