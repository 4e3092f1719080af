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

use std::cell::OnceCell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

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
}

impl Default for RoutesConfig {
    /// 65,536 nodes, 64 peers an advert, names of up to 255 bytes, forgotten after 10 ticks.
    fn default() -> Self {
        RoutesConfig {
            max_nodes: 65_536,
            max_peers: 64,
            max_name: 255,
            forget_after: 10,
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
    /// The tick since which no path leads to the node, if none does.
    unreachable_since: Option<u64>,
}

/// Per reachable node: the peer to send through, and how many hops away it is.
type Table = BTreeMap<String, (String, u32)>;

type Out = Vec<(String, Adverts)>;

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
    adverts: BTreeMap<String, Known>,
    /// Worked out when first asked for after a change: a burst of adverts costs one search.
    table: OnceCell<Table>,
    ticks: u64,
    /// The view changed since this node's advert last went to all its peers.
    unsent: bool,
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
            adverts: BTreeMap::new(),
            table: OnceCell::new(),
            ticks: 0,
            unsent: false,
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
        let before = std::mem::replace(&mut self.peers, peers);
        // Saturating: a version is only ever compared, and one past the largest cannot be.
        self.version = self.version.saturating_add(1);
        self.unsent = true;
        self.table = OnceCell::new();
        let mine = self.own();
        self.peers
            .iter()
            .filter(|peer| !before.contains(peer))
            .map(|peer| {
                let all = std::iter::once(mine.clone())
                    .chain(self.adverts.values().map(|k| k.advert.clone()))
                    .collect();
                (peer.clone(), Adverts(all))
            })
            .collect()
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
            let newer = self
                .adverts
                .get(&advert.node)
                .is_none_or(|k| advert.version > k.advert.version);
            if newer {
                self.adverts.insert(
                    advert.node.clone(),
                    Known {
                        advert: advert.clone(),
                        unreachable_since: None,
                    },
                );
                fresh.push(advert);
            }
        }
        if let Some(heard) = own_heard {
            self.version = heard.saturating_add(1);
            self.unsent = true;
        }
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        self.table = OnceCell::new();
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
        let table = self
            .table
            .get_or_init(|| search(&self.me, &self.peers, &self.adverts));
        let now = self.ticks;
        let forget_after = self.config.forget_after;
        self.adverts.retain(|node, known| {
            if table.contains_key(node) {
                known.unreachable_since = None;
                return true;
            }
            let since = *known.unreachable_since.get_or_insert(now);
            now - since < forget_after
        });
    }

    /// The peer to send through to reach `node`, if a path leads there.
    pub fn next_hop(&self, node: &str) -> Option<&str> {
        self.table().get(node).map(|(hop, _)| hop.as_str())
    }

    /// How many hops away `node` is, if a path leads there.
    pub fn hops(&self, node: &str) -> Option<u32> {
        self.table().get(node).map(|(_, hops)| *hops)
    }

    /// Every node a path leads to.
    pub fn reachable(&self) -> impl Iterator<Item = &str> {
        self.table().keys().map(String::as_str)
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
        self.table
            .get_or_init(|| search(&self.me, &self.peers, &self.adverts))
    }
}

/// Breadth first from `me`, over the links both ends list (a direct peer counts from this
/// side alone: the connection is there, whatever its advert says yet).
fn search(me: &str, peers: &[String], adverts: &BTreeMap<String, Known>) -> Table {
    let mut table = Table::new();
    let mut queue = VecDeque::new();
    for peer in peers {
        table.insert(peer.clone(), (peer.clone(), 1));
        queue.push_back(peer.as_str());
    }
    while let Some(node) = queue.pop_front() {
        let Some(known) = adverts.get(node) else {
            continue;
        };
        let (hop, hops) = table[node].clone();
        for next in &known.advert.peers {
            if *next == me || table.contains_key(next) {
                continue;
            }
            let both = adverts
                .get(next)
                .is_some_and(|k| k.advert.peers.iter().any(|p| p == node));
            if both {
                table.insert(next.clone(), (hop.clone(), hops + 1));
                queue.push_back(next.as_str());
            }
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
}
