//! Routes over the active views: each node tells the cluster which peers it is connected to
//! (an advert, flooded over the active links), and finds from all adverts the shortest path
//! to every other node. A node that is not a neighbour is reached through the first hop of
//! that path.
//!
//! Link-state routing, as OSPF and IS-IS do it: adverts travel only when an active view
//! changes (never to refresh), so an idle cluster sends none, and a change costs each node
//! about one advert per active link. A node sends its own advert at most once per
//! [`Routes::flush`], so that a burst of changes (a peer lost and its place filled) costs one.
//! A link counts only when both of its ends list it, so a stale or lying advert cannot draw
//! a path through a link that is gone.
//!
//! An advert also carries the node's notes: what the cluster's services publish of it (its
//! members of process groups, the global names it holds), by key. They travel with the
//! links, so a node that has a route to another has that node's latest notes, and loses them
//! with the route: the notes of a node are exactly as current as the path to it.

use std::cell::OnceCell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::numbers::Numbers;

use serde::{Deserialize, Serialize};

/// What one node says of itself: the peers in its active view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advert {
    /// The node the advert is about.
    pub node: String,
    /// Larger is newer. A node starts from the clock (so a restarted node's adverts are
    /// newer than those of its earlier run) and adds one with each change.
    pub version: u64,
    /// Its active peers.
    pub peers: Vec<String>,
    /// Its notes, by key (see [`Routes::set_note`]).
    #[serde(default)]
    pub notes: Notes,
    /// The node is shutting down: down for everyone at once, not after a grace period.
    #[serde(default)]
    pub leaving: bool,
}

/// A node's notes: opaque bytes by key, each key a service's.
pub type Notes = BTreeMap<String, serde_bytes::ByteBuf>;

/// The bytes that count against the notes bounds.
fn notes_bytes(notes: &Notes) -> usize {
    notes.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// The message that carries adverts: one when a view changes, all that a node knows for a
/// peer that has just become active. An advert passed on is shared, not copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adverts(pub Vec<Arc<Advert>>);

/// Bounds on what peers can make a node keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutesConfig {
    /// The most nodes whose adverts are kept.
    pub max_nodes: usize,
    /// The most peers one advert may list.
    pub max_peers: usize,
    /// The longest node name an advert may carry, in bytes.
    pub max_name: usize,
    /// How many ticks an unreachable node's advert is kept (so that late copies of it are
    /// known as old) before it is forgotten.
    pub forget_after: u64,
    /// The most bytes of notes one advert may carry (keys and bodies).
    pub max_notes: usize,
    /// The most bytes of notes kept from all nodes together.
    pub max_notes_total: usize,
}

impl Default for RoutesConfig {
    /// 65,536 nodes, 64 peers an advert, names of up to 255 bytes, forgotten after 10 ticks;
    /// 1 MiB of notes a node, 256 MiB from all nodes.
    fn default() -> Self {
        RoutesConfig {
            max_nodes: 65_536,
            max_peers: 64,
            max_name: 255,
            forget_after: 10,
            max_notes: 1 << 20,
            max_notes_total: 256 << 20,
        }
    }
}

/// Why a message of adverts was refused as a whole (nothing of it is kept).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// An advert lists more peers than any node keeps active.
    #[error("the advert of {node} lists {count} peers, more than {max}")]
    TooManyPeers {
        /// The node the advert is about.
        node: String,
        /// How many it lists.
        count: usize,
        /// [`RoutesConfig::max_peers`].
        max: usize,
    },
    /// An advert names a node with a longer name than any node may have.
    #[error("an advert names a node in {len} bytes, more than {max}")]
    NameTooLong {
        /// The name's length.
        len: usize,
        /// [`RoutesConfig::max_name`].
        max: usize,
    },
    /// An advert carries more bytes of notes than a node may publish.
    #[error("the advert of {node} carries {bytes} bytes of notes, more than {max}")]
    NotesTooLarge {
        /// The node the advert is about.
        node: String,
        /// How many bytes of notes it carries.
        bytes: usize,
        /// [`RoutesConfig::max_notes`].
        max: usize,
    },
    /// Keeping the adverts' notes would take the node past the bytes of notes it keeps.
    #[error("notes of {bytes} bytes in all, past the {max} kept")]
    TooManyNotes {
        /// The bytes of notes kept, with the message's.
        bytes: usize,
        /// [`RoutesConfig::max_notes_total`].
        max: usize,
    },
    /// Keeping the adverts would take the node past the nodes it keeps.
    #[error("adverts of {count} more nodes, past the {max} kept")]
    TooManyNodes {
        /// How many new nodes the message names.
        count: usize,
        /// [`RoutesConfig::max_nodes`].
        max: usize,
    },
}

#[derive(Debug, Clone)]
struct Known {
    advert: Arc<Advert>,
    /// The node's number (see [`Numbers`]); its peers' are in its slot there.
    number: u32,
    /// The tick since which no path leads to the node, if none does.
    unreachable_since: Option<u64>,
}

/// The paths from this node, by node number: the peer to send through (an index into the
/// peers, which a table outlives no change of) and how many hops away it is.
#[derive(Debug, Clone, Default)]
struct Table {
    reached: Vec<Option<(u32, u32)>>,
    /// The numbers of the nodes reached, nearest first.
    order: Vec<u32>,
}

impl Table {
    fn get(&self, n: u32) -> Option<(u32, u32)> {
        self.reached.get(n as usize).copied().flatten()
    }
}

type Out = Vec<(String, Adverts)>;

/// A node reached, and the peer to send through.
pub type Path = (Arc<str>, Arc<str>);

/// One node's routing state. Each step returns the messages to send, as (peer, message).
///
/// ```
/// use std::collections::VecDeque;
/// use actors_net::overlay::{Adverts, Routes, RoutesConfig};
///
/// // a - b - c in a line: each learns its active view, then their adverts are delivered.
/// let names = ["a", "b", "c"];
/// let views: [&[&str]; 3] = [&["b"], &["a", "c"], &["b"]];
/// let mut nodes: Vec<Routes> =
///     names.iter().map(|n| Routes::new(n, 1, RoutesConfig::default())).collect();
/// let mut mail: VecDeque<(usize, String, Adverts)> = VecDeque::new();
/// for (i, view) in views.iter().enumerate() {
///     let view: Vec<String> = view.iter().map(|p| p.to_string()).collect();
///     mail.extend(nodes[i].set_peers(&view).into_iter().map(|(to, m)| (i, to, m)));
/// }
/// while let Some((from, to, message)) = mail.pop_front() {
///     let j = names.iter().position(|n| *n == to).unwrap();
///     let out = nodes[j].receive(names[from], message).unwrap();
///     mail.extend(out.into_iter().map(|(next, m)| (j, next, m)));
/// }
/// assert_eq!(nodes[0].next_hop("c"), Some("b"));
/// assert_eq!(nodes[0].hops("c"), Some(2));
/// ```
#[derive(Debug, Clone)]
pub struct Routes {
    me: String,
    config: RoutesConfig,
    version: u64,
    peers: Vec<String>,
    /// The peers' numbers, in the order of `peers`.
    peer_numbers: Vec<u32>,
    adverts: BTreeMap<String, Known>,
    numbers: Numbers,
    /// Worked out when first asked for after a change: a burst of adverts costs one search.
    table: OnceCell<Table>,
    ticks: u64,
    /// The view changed since this node's advert last went to all its peers.
    unsent: bool,
    /// This node's notes.
    notes: Notes,
    /// Bytes of notes kept from other nodes.
    notes_kept: usize,
    /// Nodes whose advert was replaced or forgotten since [`Routes::take_changed`].
    changed: Vec<String>,
    /// This node is shutting down.
    leaving: bool,
    /// Counts the changes of links that may have moved a path: a table worked out at one
    /// generation holds until the next.
    generation: u64,
    /// The paths as [`Routes::changed_paths`] last gave them, by node number: the node and
    /// the peer to send through.
    given: Vec<Option<Path>>,
}

impl Routes {
    /// A node named `me` with no peers; `version` is its first advert's (the clock's
    /// microseconds at start, in a real node).
    pub fn new(me: &str, version: u64, config: RoutesConfig) -> Self {
        Routes {
            me: me.to_string(),
            config,
            version,
            peers: Vec::new(),
            peer_numbers: Vec::new(),
            adverts: BTreeMap::new(),
            numbers: Numbers::default(),
            table: OnceCell::new(),
            ticks: 0,
            unsent: false,
            notes: Notes::new(),
            notes_kept: 0,
            changed: Vec::new(),
            leaving: false,
            generation: 0,
            given: Vec::new(),
        }
    }

    /// This node's active view is now `active`. A new peer is sent at once everything this
    /// node knows; the others hear of the change at the next [`Routes::flush`].
    pub fn set_peers(&mut self, active: &[String]) -> Out {
        let mut peers = active.to_vec();
        peers.sort();
        peers.dedup();
        if peers == self.peers {
            return Vec::new();
        }
        let numbers = self.numbers.take_all(&peers);
        let before_numbers = std::mem::replace(&mut self.peer_numbers, numbers);
        self.numbers.put_all(&before_numbers);
        let before = std::mem::replace(&mut self.peers, peers);
        // Saturating: a version is only ever compared, and one past the largest cannot be.
        self.version = self.version.saturating_add(1);
        self.unsent = true;
        self.table = OnceCell::new();
        self.generation += 1;
        let new: Vec<String> = self
            .peers
            .iter()
            .filter(|peer| !before.contains(peer))
            .cloned()
            .collect();
        if new.is_empty() {
            return Vec::new();
        }
        let all = self.everything();
        new.into_iter()
            .flat_map(|peer| all.iter().map(move |m| (peer.clone(), m.clone())))
            .collect()
    }

    /// Sets (or with `None` removes) this node's note under `key`; the peers hear of it at
    /// the next [`Routes::flush`], and the cluster with the flood that follows. Refused when
    /// it would take this node's notes past [`RoutesConfig::max_notes`].
    pub fn set_note(&mut self, key: &str, body: Option<Vec<u8>>) -> Result<(), Refused> {
        let mut notes = self.notes.clone();
        match body {
            Some(body) => notes.insert(key.to_string(), serde_bytes::ByteBuf::from(body)),
            None => notes.remove(key),
        };
        if notes == self.notes {
            return Ok(());
        }
        let bytes = notes_bytes(&notes);
        if bytes > self.config.max_notes {
            return Err(Refused::NotesTooLarge {
                node: self.me.clone(),
                bytes,
                max: self.config.max_notes,
            });
        }
        self.notes = notes;
        self.version = self.version.saturating_add(1);
        self.unsent = true;
        Ok(())
    }

    /// This node is shutting down: its next advert says so, and the nodes that hear it count
    /// it down at once (see [`Routes::is_leaving`]).
    pub fn leave(&mut self) {
        self.leaving = true;
        self.version = self.version.saturating_add(1);
        self.unsent = true;
    }

    /// Grows with each change that may have moved a path (not with notes): the paths are
    /// as they were while it stays the same.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether the newest advert of `node` known here says it is shutting down.
    pub fn is_leaving(&self, node: &str) -> bool {
        self.adverts.get(node).is_some_and(|k| k.advert.leaving)
    }

    /// The notes of `node` as its newest advert known here carries them, whether or not a
    /// path leads to it now (the caller decides what counts as up).
    pub fn notes(&self, node: &str) -> Option<&Notes> {
        self.adverts.get(node).map(|k| &k.advert.notes)
    }

    /// The newest advert of `node` known here, whether or not a path leads to it now.
    pub fn advert(&self, node: &str) -> Option<&Arc<Advert>> {
        self.adverts.get(node).map(|k| &k.advert)
    }

    /// The nodes whose advert was replaced or forgotten since the last call: those whose
    /// notes may have changed.
    pub fn take_changed(&mut self) -> Vec<String> {
        std::mem::take(&mut self.changed)
    }

    /// Every advert known, this node's first, in messages small enough for one frame each.
    fn everything(&self) -> Vec<Adverts> {
        const MESSAGE_BYTES: usize = 1 << 20;
        let mut messages = Vec::new();
        let mut message = Vec::new();
        let mut bytes = 0;
        let all =
            std::iter::once(self.own()).chain(self.adverts.values().map(|k| k.advert.clone()));
        for advert in all {
            let size = notes_bytes(&advert.notes) + 64;
            if !message.is_empty() && bytes + size > MESSAGE_BYTES {
                messages.push(Adverts(std::mem::take(&mut message)));
                bytes = 0;
            }
            bytes += size;
            message.push(advert);
        }
        messages.push(Adverts(message));
        messages
    }

    /// Sends this node's advert to all its peers if its view changed since it last did: to
    /// be called on a short timer.
    pub fn flush(&mut self) -> Out {
        if !std::mem::take(&mut self.unsent) {
            return Vec::new();
        }
        let mine = self.own();
        self.peers
            .iter()
            .map(|peer| (peer.clone(), Adverts(vec![mine.clone()])))
            .collect()
    }

    /// Adverts from `from`. Only an active peer's count (a message from a peer dropped
    /// meanwhile is ignored); what is newer is kept and passed on to the other peers.
    pub fn receive(&mut self, from: &str, message: Adverts) -> Result<Out, Refused> {
        if !self.peers.iter().any(|p| p == from) {
            return Ok(Vec::new());
        }
        self.check(&message)?;
        let mut fresh = Vec::new();
        let mut own_heard = None;
        for advert in message.0 {
            if advert.node == self.me {
                // An earlier run of this node, or a clock that went back: its own adverts
                // must be the newest, so it moves past the one heard of.
                if advert.version >= self.version {
                    own_heard = own_heard.max(Some(advert.version));
                }
                continue;
            }
            let old = self.adverts.get(&advert.node);
            if old.is_some_and(|k| advert.version <= k.advert.version) {
                continue;
            }
            let moved = old.is_none_or(|k| k.advert.peers != advert.peers);
            let freed = old.map_or(0, |k| notes_bytes(&k.advert.notes));
            let number = match old {
                Some(k) => k.number,
                None => self.numbers.take(&advert.node),
            };
            if moved {
                // Only links draw paths: a change of notes alone leaves the table as it is.
                self.table = OnceCell::new();
                self.generation += 1;
                // The new peers are numbered before the old are given back, so that a name
                // in both keeps its number.
                let links = self.numbers.take_all(&advert.peers);
                if let Some(before) = self.numbers.set_links(number, Some(links)) {
                    self.numbers.put_all(&before);
                }
            }
            self.notes_kept = self.notes_kept - freed + notes_bytes(&advert.notes);
            self.changed.push(advert.node.clone());
            self.adverts.insert(
                advert.node.clone(),
                Known {
                    advert: advert.clone(),
                    number,
                    unreachable_since: None,
                },
            );
            fresh.push(advert);
        }
        if let Some(heard) = own_heard {
            self.version = heard.saturating_add(1);
            self.unsent = true;
        }
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        // Others' adverts are passed on at once: waiting at each hop would slow a change
        // down by the path's length.
        Ok(self
            .peers
            .iter()
            .filter(|p| *p != from)
            .map(|p| (p.clone(), Adverts(fresh.clone())))
            .collect())
    }

    /// The periodic tick: forgets nodes that no path has reached for
    /// [`RoutesConfig::forget_after`] ticks.
    pub fn tick(&mut self) {
        self.ticks += 1;
        let now = self.ticks;
        let forget_after = self.config.forget_after;
        let table = drawn(&self.table, &self.numbers, &self.peer_numbers, &self.me);
        let mut gone = Vec::new();
        for (node, known) in self.adverts.iter_mut() {
            if table.get(known.number).is_some() {
                known.unreachable_since = None;
                continue;
            }
            let since = *known.unreachable_since.get_or_insert(now);
            if now - since >= forget_after {
                gone.push(node.clone());
            }
        }
        for node in gone {
            let Some(known) = self.adverts.remove(&node) else {
                continue;
            };
            self.notes_kept -= notes_bytes(&known.advert.notes);
            if let Some(links) = self.numbers.set_links(known.number, None) {
                self.numbers.put_all(&links);
            }
            self.numbers.put(known.number);
            self.changed.push(node);
        }
    }

    /// The peer to send through to reach `node`, if a path leads there.
    pub fn next_hop(&self, node: &str) -> Option<&str> {
        self.path(self.numbers.get(node)?).map(|(hop, _)| hop)
    }

    /// How many hops away `node` is, if a path leads there.
    pub fn hops(&self, node: &str) -> Option<u32> {
        self.path(self.numbers.get(node)?).map(|(_, hops)| hops)
    }

    /// Every node a path leads to, nearest first.
    pub fn reachable(&self) -> impl Iterator<Item = &str> {
        self.table().order.iter().map(|&n| self.numbers.name(n))
    }

    /// The paths that changed since the last call: the nodes no longer reached, or reached
    /// under a number of theirs that is now another's, then each node newly reached or
    /// reached through another peer, with that peer. A caller that keeps its own copy of
    /// the paths applies the first list, then the second; the work is a comparison per node
    /// number, with no name hashed or copied.
    pub fn changed_paths(&mut self) -> (Vec<Arc<str>>, Vec<Path>) {
        let table = drawn(&self.table, &self.numbers, &self.peer_numbers, &self.me);
        let size = self.numbers.len().max(self.given.len());
        self.given.resize(size, None);
        let (mut gone, mut set) = (Vec::new(), Vec::new());
        for (n, given) in self.given.iter_mut().enumerate() {
            let n = n as u32;
            let now = table
                .get(n)
                .and_then(|(via, _)| self.peer_numbers.get(via as usize))
                .map(|&hop| (self.numbers.name_ref(n), self.numbers.name_ref(hop)));
            let same = |(a, b): &Path, (x, y): (&Arc<str>, &Arc<str>)| {
                Arc::ptr_eq(a, x) && Arc::ptr_eq(b, y)
            };
            match (given.as_ref(), now) {
                (Some(was), Some(now)) if same(was, now) => continue,
                (None, None) => continue,
                _ => {}
            }
            if let Some((was, _)) = given.take()
                && now.is_none_or(|(name, _)| !Arc::ptr_eq(&was, name))
            {
                gone.push(was);
            }
            if let Some((name, hop)) = now {
                set.push((name.clone(), hop.clone()));
                *given = Some((name.clone(), hop.clone()));
            }
        }
        (gone, set)
    }

    /// The peer to send through to reach node number `n`, and how many hops away it is.
    fn path(&self, n: u32) -> Option<(&str, u32)> {
        let (via, hops) = self.table().get(n)?;
        Some((self.peers.get(via as usize)?.as_str(), hops))
    }

    /// How many nodes' adverts are kept (reachable or not yet forgotten).
    pub fn known(&self) -> usize {
        self.adverts.len()
    }

    fn own(&self) -> Arc<Advert> {
        Arc::new(Advert {
            node: self.me.clone(),
            version: self.version,
            peers: self.peers.clone(),
            notes: self.notes.clone(),
            leaving: self.leaving,
        })
    }

    /// Refuses a message that would take the node past its bounds, before any of it is kept.
    fn check(&self, message: &Adverts) -> Result<(), Refused> {
        if let Some(a) = message
            .0
            .iter()
            .find(|a| a.peers.len() > self.config.max_peers)
        {
            return Err(Refused::TooManyPeers {
                node: a.node.clone(),
                count: a.peers.len(),
                max: self.config.max_peers,
            });
        }
        let max = self.config.max_name;
        let names = message
            .0
            .iter()
            .flat_map(|a| std::iter::once(&a.node).chain(&a.peers));
        if let Some(long) = names.into_iter().find(|n| n.len() > max) {
            return Err(Refused::NameTooLong {
                len: long.len(),
                max,
            });
        }
        if let Some((a, bytes)) = message
            .0
            .iter()
            .map(|a| (a, notes_bytes(&a.notes)))
            .find(|(_, bytes)| *bytes > self.config.max_notes)
        {
            return Err(Refused::NotesTooLarge {
                node: a.node.clone(),
                bytes,
                max: self.config.max_notes,
            });
        }
        // As if every advert were new: a bound on what the message may add at most.
        let bytes = self.notes_kept
            + message
                .0
                .iter()
                .map(|a| notes_bytes(&a.notes))
                .sum::<usize>();
        if bytes > self.config.max_notes_total {
            return Err(Refused::TooManyNotes {
                bytes,
                max: self.config.max_notes_total,
            });
        }
        let mut new: Vec<&str> = message
            .0
            .iter()
            .map(|a| a.node.as_str())
            .filter(|n| *n != self.me && !self.adverts.contains_key(*n))
            .collect();
        new.sort_unstable();
        new.dedup();
        if self.adverts.len() + new.len() > self.config.max_nodes {
            return Err(Refused::TooManyNodes {
                count: new.len(),
                max: self.config.max_nodes,
            });
        }
        Ok(())
    }

    fn table(&self) -> &Table {
        drawn(&self.table, &self.numbers, &self.peer_numbers, &self.me)
    }
}

/// The table in `cell`, searched for first if a change emptied it (a free function, so that
/// the caller can still change the routes' other fields while it holds the table).
fn drawn<'a>(cell: &'a OnceCell<Table>, numbers: &Numbers, peers: &[u32], me: &str) -> &'a Table {
    cell.get_or_init(|| search(numbers, peers, numbers.get(me)))
}

/// Breadth first from this node (number `me`, if anyone names it), over the links both
/// ends list; a direct peer counts from this side alone: the connection is there, whatever
/// its advert says yet.
fn search(numbers: &Numbers, peers: &[u32], me: Option<u32>) -> Table {
    let mut table = Table {
        reached: vec![None; numbers.len()],
        order: Vec::new(),
    };
    if let Some(me) = me {
        // Never a destination: a hop past the peers, so no path is drawn to it.
        table.reached[me as usize] = Some((u32::MAX, 0));
    }
    let mut queue = VecDeque::new();
    for (via, &peer) in peers.iter().enumerate() {
        if table.reached[peer as usize].is_none() {
            table.reached[peer as usize] = Some((via as u32, 1));
            table.order.push(peer);
            queue.push_back(peer);
        }
    }
    while let Some(n) = queue.pop_front() {
        let (Some((via, hops)), Some(links)) = (table.get(n), numbers.links(n)) else {
            continue;
        };
        for &next in links {
            if table.reached[next as usize].is_some()
                || !numbers.links(next).is_some_and(|back| back.contains(&n))
            {
                continue;
            }
            table.reached[next as usize] = Some((via, hops + 1));
            table.order.push(next);
            queue.push_back(next);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::overlay::routes::{Advert, Adverts, Refused, Routes, RoutesConfig};

    fn advert(node: &str, version: u64, peers: &[&str]) -> Arc<Advert> {
        Arc::new(Advert {
            node: node.to_string(),
            version,
            peers: peers.iter().map(|p| p.to_string()).collect(),
            notes: Default::default(),
            leaving: false,
        })
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn adverts_from_a_node_that_is_not_a_peer_are_ignored() {
        let mut me = Routes::new("me", 1, RoutesConfig::default());
        me.set_peers(&names(&["a"]));
        let out = me
            .receive("stranger", Adverts(vec![advert("x", 5, &["stranger"])]))
            .unwrap();
        assert!(out.is_empty());
        assert_eq!(me.known(), 0);
    }

    #[test]
    fn a_link_counts_only_when_both_ends_list_it() {
        let mut me = Routes::new("me", 1, RoutesConfig::default());
        me.set_peers(&names(&["a"]));
        // a claims a link to x, which x does not list: no route to x.
        me.receive(
            "a",
            Adverts(vec![advert("a", 2, &["me", "x"]), advert("x", 2, &[])]),
        )
        .unwrap();
        assert_eq!(me.next_hop("x"), None);
        // x lists it too: x is two hops away, through a.
        me.receive("a", Adverts(vec![advert("x", 3, &["a"])]))
            .unwrap();
        assert_eq!((me.next_hop("x"), me.hops("x")), (Some("a"), Some(2)));
        // An older advert of x changes nothing.
        let out = me.receive("a", Adverts(vec![advert("x", 2, &[])])).unwrap();
        assert!(out.is_empty());
        assert_eq!(me.hops("x"), Some(2));
    }

    #[test]
    fn changed_paths_give_only_what_moved() {
        let changed = |me: &mut Routes| {
            let (gone, set) = me.changed_paths();
            let mut gone: Vec<String> = gone.iter().map(|n| n.to_string()).collect();
            let mut set: Vec<(String, String)> = set
                .iter()
                .map(|(n, h)| (n.to_string(), h.to_string()))
                .collect();
            gone.sort();
            set.sort();
            (gone, set)
        };
        let pair = |n: &str, h: &str| (n.to_string(), h.to_string());
        let mut me = Routes::new("me", 1, RoutesConfig::default());
        me.set_peers(&names(&["a", "b"]));
        me.receive(
            "a",
            Adverts(vec![advert("a", 2, &["me", "x"]), advert("x", 2, &["a"])]),
        )
        .unwrap();
        assert_eq!(
            changed(&mut me),
            (vec![], vec![pair("a", "a"), pair("b", "b"), pair("x", "a")])
        );
        assert_eq!(changed(&mut me), (vec![], vec![]), "nothing moved since");
        // x moves from a to b: its hop changes, nothing else.
        me.receive(
            "b",
            Adverts(vec![advert("b", 2, &["me", "x"]), advert("x", 3, &["b"])]),
        )
        .unwrap();
        me.receive("a", Adverts(vec![advert("a", 3, &["me"])]))
            .unwrap();
        assert_eq!(changed(&mut me), (vec![], vec![pair("x", "b")]));
        // b is no longer a peer: b and x are gone.
        me.set_peers(&names(&["a"]));
        assert_eq!(
            changed(&mut me),
            (vec!["b".to_string(), "x".to_string()], vec![])
        );
    }

    #[test]
    fn an_advert_listing_more_peers_than_allowed_is_refused_whole() {
        let config = RoutesConfig {
            max_peers: 4,
            ..RoutesConfig::default()
        };
        let mut me = Routes::new("me", 1, config);
        me.set_peers(&names(&["a"]));
        let many: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let refused = me.receive(
            "a",
            Adverts(vec![advert("b", 1, &["a"]), advert("x", 1, &many)]),
        );
        assert_eq!(
            refused,
            Err(Refused::TooManyPeers {
                node: "x".into(),
                count: 5,
                max: 4
            })
        );
        assert_eq!(me.known(), 0, "nothing of a refused message is kept");
    }

    #[test]
    fn an_advert_with_an_overlong_name_is_refused_whole() {
        let mut me = Routes::new("me", 1, RoutesConfig::default());
        me.set_peers(&names(&["a"]));
        let long = "x".repeat(256);
        for adverts in [
            vec![advert("b", 1, &["a"]), advert(&long, 1, &[])],
            vec![advert("b", 1, &["a", &long])],
        ] {
            assert_eq!(
                me.receive("a", Adverts(adverts)),
                Err(Refused::NameTooLong { len: 256, max: 255 })
            );
        }
        assert_eq!(me.known(), 0);
    }

    #[test]
    fn the_nodes_kept_are_bounded() {
        let config = RoutesConfig {
            max_nodes: 100,
            ..RoutesConfig::default()
        };
        let mut me = Routes::new("me", 1, config);
        me.set_peers(&names(&["a"]));
        let first: Vec<Arc<Advert>> = (0..100).map(|i| advert(&format!("n{i}"), 1, &[])).collect();
        me.receive("a", Adverts(first)).unwrap();
        assert_eq!(me.known(), 100);
        // Newer adverts of nodes already known still count; one more node does not.
        me.receive("a", Adverts(vec![advert("n0", 2, &[])]))
            .unwrap();
        assert_eq!(
            me.receive("a", Adverts(vec![advert("n100", 1, &[])])),
            Err(Refused::TooManyNodes { count: 1, max: 100 })
        );
        assert_eq!(me.known(), 100);
    }

    #[test]
    fn a_node_that_hears_of_a_newer_advert_of_its_own_moves_past_it() {
        let mut me = Routes::new("me", 1, RoutesConfig::default());
        me.set_peers(&names(&["a"]));
        me.flush();
        // An earlier run of this node, with a clock ahead of this run's.
        me.receive("a", Adverts(vec![advert("me", 50, &["z"])]))
            .unwrap();
        let out = me.flush();
        assert_eq!(out.len(), 1);
        let (to, Adverts(list)) = &out[0];
        assert_eq!(to, "a");
        assert_eq!(*list[0], *advert("me", 51, &["a"]));
    }

    #[test]
    fn an_advert_of_its_own_at_the_largest_version_does_not_overflow() {
        let mut me = Routes::new("me", 1, RoutesConfig::default());
        me.set_peers(&names(&["a"]));
        me.receive("a", Adverts(vec![advert("me", u64::MAX, &[])]))
            .unwrap();
        me.set_peers(&names(&["a", "b"]));
        let out = me.flush();
        let (_, Adverts(list)) = &out[0];
        assert_eq!(list[0].version, u64::MAX);
    }

    #[test]
    fn unreachable_nodes_are_forgotten_after_a_while() {
        let config = RoutesConfig {
            forget_after: 3,
            ..RoutesConfig::default()
        };
        let mut me = Routes::new("me", 1, config);
        me.set_peers(&names(&["a"]));
        me.receive(
            "a",
            Adverts(vec![advert("a", 2, &["me", "x"]), advert("x", 2, &["a"])]),
        )
        .unwrap();
        me.tick();
        assert_eq!(me.known(), 2);
        // a lost x.
        me.receive("a", Adverts(vec![advert("a", 3, &["me"])]))
            .unwrap();
        assert_eq!(me.next_hop("x"), None);
        for _ in 0..3 {
            me.tick();
            assert_eq!(
                me.known(),
                2,
                "kept a while, so late copies are known as old"
            );
        }
        me.tick();
        assert_eq!(me.known(), 1);
    }

    fn with_notes(
        node: &str,
        version: u64,
        peers: &[&str],
        notes: &[(&str, &[u8])],
    ) -> Arc<Advert> {
        let mut advert = (*advert(node, version, peers)).clone();
        advert.notes = notes
            .iter()
            .map(|(k, v)| (k.to_string(), serde_bytes::ByteBuf::from(v.to_vec())))
            .collect();
        Arc::new(advert)
    }

    #[test]
    fn a_note_travels_with_the_next_flush_and_is_passed_on() {
        let mut a = Routes::new("a", 1, RoutesConfig::default());
        a.set_peers(&names(&["b"]));
        a.flush();
        a.set_note("pg", Some(b"members".to_vec())).unwrap();
        let out = a.flush();
        assert_eq!(out.len(), 1);
        let (to, message) = out.into_iter().next().unwrap();
        assert_eq!(to, "b");

        let mut b = Routes::new("b", 1, RoutesConfig::default());
        b.set_peers(&names(&["a", "c"]));
        b.take_changed();
        let passed = b.receive("a", message).unwrap();
        assert_eq!(b.notes("a").unwrap()["pg"].as_slice(), b"members");
        assert_eq!(b.take_changed(), ["a"]);
        assert_eq!(passed.len(), 1, "passed on to c");
        assert_eq!(passed[0].0, "c");
        // A note alone does not move a route.
        assert_eq!(b.next_hop("a"), Some("a"));
        assert!(!b.is_leaving("a"));
        // The same note set again changes nothing, and sends nothing.
        a.set_note("pg", Some(b"members".to_vec())).unwrap();
        assert!(a.flush().is_empty());
        a.set_note("pg", None).unwrap();
        let (_, message) = a.flush().into_iter().next().unwrap();
        b.receive("a", message).unwrap();
        assert!(b.notes("a").unwrap().is_empty());
        // A node shutting down says so in its last advert.
        a.leave();
        let (_, message) = a.flush().into_iter().next().unwrap();
        b.receive("a", message).unwrap();
        assert!(b.is_leaving("a"));
    }

    #[test]
    fn notes_past_a_nodes_bound_are_refused_whole() {
        let config = RoutesConfig {
            max_notes: 16,
            ..RoutesConfig::default()
        };
        let mut me = Routes::new("me", 1, config);
        assert!(matches!(
            me.set_note("pg", Some(vec![0; 15])),
            Err(Refused::NotesTooLarge {
                bytes: 17,
                max: 16,
                ..
            })
        ));
        me.set_peers(&names(&["a"]));
        let refused = me.receive(
            "a",
            Adverts(vec![
                advert("b", 1, &["a"]),
                with_notes("x", 1, &["a"], &[("pg", &[0; 20])]),
            ]),
        );
        assert!(matches!(
            refused,
            Err(Refused::NotesTooLarge { bytes: 22, .. })
        ));
        assert_eq!(me.known(), 0, "nothing of a refused message is kept");
    }

    #[test]
    fn the_notes_kept_from_all_nodes_are_bounded() {
        let config = RoutesConfig {
            max_notes_total: 100,
            ..RoutesConfig::default()
        };
        let mut me = Routes::new("me", 1, config);
        me.set_peers(&names(&["a"]));
        let body = [0u8; 38];
        me.receive(
            "a",
            Adverts(vec![with_notes("x", 1, &["a"], &[("pg", &body)])]),
        )
        .unwrap();
        me.receive(
            "a",
            Adverts(vec![with_notes("y", 1, &["a"], &[("pg", &body)])]),
        )
        .unwrap();
        let refused = me.receive(
            "a",
            Adverts(vec![with_notes("z", 1, &["a"], &[("pg", &body)])]),
        );
        assert!(matches!(
            refused,
            Err(Refused::TooManyNotes { max: 100, .. })
        ));
        assert_eq!(me.known(), 2);
        // A newer advert of a node kept replaces its notes: what they took is freed.
        me.receive("a", Adverts(vec![with_notes("x", 2, &["a"], &[])]))
            .unwrap();
        me.receive(
            "a",
            Adverts(vec![with_notes("z", 1, &["a"], &[("pg", &body)])]),
        )
        .unwrap();
        assert_eq!(me.known(), 3);
    }

    #[test]
    fn a_new_peer_is_sent_everything_in_messages_that_fit_a_frame() {
        let mut me = Routes::new("me", 1, RoutesConfig::default());
        me.set_peers(&names(&["a"]));
        let body = vec![7u8; 200 << 10];
        for i in 0..12 {
            let node = format!("n{i}");
            me.receive(
                "a",
                Adverts(vec![with_notes(&node, 1, &["a"], &[("pg", &body)])]),
            )
            .unwrap();
        }
        let out = me.set_peers(&names(&["a", "b"]));
        assert!(out.iter().all(|(to, _)| to == "b"));
        assert!(out.len() >= 3, "{} messages", out.len());
        let sent: usize = out.iter().map(|(_, m)| m.0.len()).sum();
        assert_eq!(sent, 13, "this node's advert and the twelve known");
        for (_, message) in &out {
            let mut bytes = Vec::new();
            actors::dist::encode(message, &mut bytes).unwrap();
            assert!(bytes.len() < 2 << 20, "{} bytes", bytes.len());
        }
    }
}
