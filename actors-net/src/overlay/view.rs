//! One node's active and passive views, and the messages that keep them.

use serde::{Deserialize, Serialize};

use super::config::OverlayConfig;

/// What the nodes of a partial-view overlay say to each other. A peer's name is always the
/// sender's as the connection knows it, never taken from the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// A new node asks its contact to take it in.
    Join,
    /// A join's random walk: `node` joined, `ttl` steps remain.
    ForwardJoin {
        /// The node that joined.
        node: String,
        /// Steps left.
        ttl: u8,
    },
    /// The sender took the receiver into its active view: the receiver takes it too.
    Connected,
    /// The sender asks to be taken into the receiver's active view; with `urgent`, its own
    /// active view is empty and the receiver must make room.
    Neighbor {
        /// The sender has no active peer left.
        urgent: bool,
    },
    /// The answer to [`Message::Neighbor`].
    NeighborReply {
        /// Taken in.
        accepted: bool,
    },
    /// The sender dropped the receiver from its active view (to make room).
    Disconnect,
    /// A shuffle's random walk: `origin`'s sample of names, `ttl` steps remaining.
    Shuffle {
        /// The node that started the shuffle; the reply goes to it.
        origin: String,
        /// Names from its views, itself first.
        sample: Vec<String>,
        /// Steps left.
        ttl: u8,
    },
    /// The end of a shuffle: names from the passive view where the walk ended.
    ShuffleReply {
        /// The names sent back.
        sample: Vec<String>,
    },
}

/// One node's partial views: the HyParView protocol as a state machine. Each step returns the
/// messages to send, as (peer, message); `draw` gives the random numbers it needs.
#[derive(Debug, Clone)]
pub struct PartialView {
    me: String,
    config: OverlayConfig,
    active: Vec<String>,
    passive: Vec<String>,
    /// The passive peer asked to become active, if one is.
    asking: Option<String>,
    /// Passive peers that refused since the active view last had all it wants.
    refused: Vec<String>,
    /// The names sent in this node's last shuffle: the first to give way to its reply.
    shuffled: Vec<String>,
}

type Out = Vec<(String, Message)>;

impl PartialView {
    /// A node named `me`, with empty views.
    pub fn new(me: &str, config: OverlayConfig) -> Self {
        PartialView {
            me: me.to_string(),
            config,
            active: Vec::new(),
            passive: Vec::new(),
            asking: None,
            refused: Vec::new(),
            shuffled: Vec::new(),
        }
    }

    /// The peers this node is connected to and monitors.
    pub fn active(&self) -> &[String] {
        &self.active
    }

    /// The names it keeps to repair the active view from.
    pub fn passive(&self) -> &[String] {
        &self.passive
    }

    /// Joins the overlay through `contact`, a member.
    pub fn join(&mut self, contact: &str) -> Out {
        let mut out = Vec::new();
        self.add_active(contact, &mut || 0, &mut out);
        out.push((contact.to_string(), Message::Join));
        out
    }

    /// Acts on `message` from `from`.
    pub fn receive(&mut self, from: &str, message: Message, draw: &mut impl FnMut() -> u64) -> Out {
        let mut out = Vec::new();
        if from == self.me {
            return out;
        }
        match message {
            Message::Join => {
                self.add_active(from, draw, &mut out);
                for peer in self.active.iter().filter(|p| *p != from) {
                    out.push((
                        peer.clone(),
                        Message::ForwardJoin {
                            node: from.to_string(),
                            ttl: self.config.active_walk,
                        },
                    ));
                }
            }
            Message::ForwardJoin { node, ttl } => {
                self.forward_join(from, node, ttl, draw, &mut out)
            }
            Message::Connected => self.add_active(from, draw, &mut out),
            Message::Neighbor { urgent } => {
                let accepted = urgent
                    || self.active.len() < self.config.active
                    || self.active.iter().any(|p| p == from);
                if accepted {
                    self.add_active(from, draw, &mut out);
                }
                out.push((from.to_string(), Message::NeighborReply { accepted }));
            }
            Message::NeighborReply { accepted } => {
                // Only the peer asked answers: an unasked reply would let any peer push
                // itself into the active view, or grow the list of refusals.
                if self.asking.as_deref() != Some(from) {
                    return out;
                }
                self.asking = None;
                if accepted {
                    self.add_active(from, draw, &mut out);
                } else {
                    self.refused.push(from.to_string());
                }
                self.fill(draw, &mut out);
            }
            Message::Disconnect => {
                if self.remove_active(from) {
                    self.add_passive(from, draw);
                    self.fill(draw, &mut out);
                }
            }
            Message::Shuffle {
                origin,
                sample,
                ttl,
            } => self.shuffle(from, origin, sample, ttl, draw, &mut out),
            Message::ShuffleReply { sample } => {
                let sent = std::mem::take(&mut self.shuffled);
                self.integrate(&sample, &sent, draw);
            }
        }
        out
    }

    /// A peer failed (its connection was lost, or it could not be reached): it leaves both
    /// views, and a passive peer is asked to take its place.
    pub fn failed(&mut self, peer: &str, draw: &mut impl FnMut() -> u64) -> Out {
        let mut out = Vec::new();
        self.remove_active(peer);
        self.passive.retain(|p| p != peer);
        if self.asking.as_deref() == Some(peer) {
            self.asking = None;
        }
        self.fill(draw, &mut out);
        out
    }

    /// The periodic shuffle: a sample of both views, on a random walk from a random active
    /// peer; also asks a passive peer in if the active view is short.
    pub fn tick(&mut self, draw: &mut impl FnMut() -> u64) -> Out {
        let mut out = Vec::new();
        self.fill(draw, &mut out);
        let Some(first) = pick(&self.active, &[], draw) else {
            return out;
        };
        let mut sample = vec![self.me.clone()];
        sample.extend(sample_of(&self.active, self.config.shuffle_active, draw));
        sample.extend(sample_of(&self.passive, self.config.shuffle_passive, draw));
        self.shuffled = sample.clone();
        out.push((
            first,
            Message::Shuffle {
                origin: self.me.clone(),
                sample,
                ttl: self.config.active_walk,
            },
        ));
        out
    }

    fn forward_join(
        &mut self,
        from: &str,
        node: String,
        ttl: u8,
        draw: &mut impl FnMut() -> u64,
        out: &mut Out,
    ) {
        if node == self.me {
            return;
        }
        let next = pick(&self.active, &[from, &node], draw);
        match next {
            Some(next) if ttl > 0 && self.active.len() > 1 => {
                if ttl == self.config.passive_walk {
                    self.add_passive(&node, draw);
                }
                out.push((next, Message::ForwardJoin { node, ttl: ttl - 1 }));
            }
            _ => {
                if !self.active.contains(&node) {
                    self.add_active(&node, draw, out);
                    out.push((node, Message::Connected));
                }
            }
        }
    }

    fn shuffle(
        &mut self,
        from: &str,
        origin: String,
        sample: Vec<String>,
        ttl: u8,
        draw: &mut impl FnMut() -> u64,
        out: &mut Out,
    ) {
        if origin == self.me {
            return;
        }
        // A peer sends at most what a shuffle holds: a longer sample is cut, not kept.
        let most = 1 + self.config.shuffle_active + self.config.shuffle_passive;
        let sample: Vec<String> = sample.into_iter().take(most).collect();
        let next = pick(&self.active, &[from, &origin], draw);
        match next {
            Some(next) if ttl > 1 && self.active.len() > 1 => out.push((
                next,
                Message::Shuffle {
                    origin,
                    sample,
                    ttl: ttl - 1,
                },
            )),
            _ => {
                let reply = sample_of(&self.passive, sample.len(), draw);
                out.push((
                    origin,
                    Message::ShuffleReply {
                        sample: reply.clone(),
                    },
                ));
                self.integrate(&sample, &reply, draw);
            }
        }
    }

    /// Takes `names` into the passive view, making room by dropping first the names in
    /// `gave` (sent the other way), then random ones.
    fn integrate(&mut self, names: &[String], gave: &[String], draw: &mut impl FnMut() -> u64) {
        for name in names.iter().take(self.config.passive) {
            if *name == self.me || self.active.contains(name) || self.passive.contains(name) {
                continue;
            }
            if self.passive.len() >= self.config.passive {
                match self.passive.iter().position(|p| gave.contains(p)) {
                    Some(i) => {
                        self.passive.swap_remove(i);
                    }
                    None => {
                        let i = index(self.passive.len(), draw);
                        self.passive.swap_remove(i);
                    }
                }
            }
            self.passive.push(name.clone());
        }
    }

    fn add_active(&mut self, peer: &str, draw: &mut impl FnMut() -> u64, out: &mut Out) {
        if peer == self.me || self.active.iter().any(|p| p == peer) {
            return;
        }
        if self.active.len() >= self.config.active {
            let i = index(self.active.len(), draw);
            let dropped = self.active.swap_remove(i);
            out.push((dropped.clone(), Message::Disconnect));
            self.add_passive(&dropped, draw);
        }
        self.passive.retain(|p| p != peer);
        self.refused.retain(|p| p != peer);
        self.active.push(peer.to_string());
        if self.active.len() >= self.config.active {
            self.refused.clear();
        }
    }

    fn remove_active(&mut self, peer: &str) -> bool {
        let before = self.active.len();
        self.active.retain(|p| p != peer);
        before != self.active.len()
    }

    fn add_passive(&mut self, peer: &str, draw: &mut impl FnMut() -> u64) {
        if peer == self.me
            || self.active.iter().any(|p| p == peer)
            || self.passive.iter().any(|p| p == peer)
        {
            return;
        }
        if self.passive.len() >= self.config.passive {
            let i = index(self.passive.len(), draw);
            self.passive.swap_remove(i);
        }
        self.passive.push(peer.to_string());
    }

    /// Asks one passive peer in while the active view is short and nobody is being asked.
    fn fill(&mut self, draw: &mut impl FnMut() -> u64, out: &mut Out) {
        if self.asking.is_some() || self.active.len() >= self.config.active {
            return;
        }
        let refused: Vec<&str> = self.refused.iter().map(String::as_str).collect();
        let Some(peer) = pick(&self.passive, &refused, draw) else {
            // Everyone refused: ask again next time, urgently if alone.
            self.refused.clear();
            return;
        };
        self.asking = Some(peer.clone());
        out.push((
            peer,
            Message::Neighbor {
                urgent: self.active.is_empty(),
            },
        ));
    }
}

fn index(len: usize, draw: &mut impl FnMut() -> u64) -> usize {
    (draw() % len as u64) as usize
}

/// A random element of `from` that is not in `not`.
fn pick(from: &[String], not: &[&str], draw: &mut impl FnMut() -> u64) -> Option<String> {
    let candidates: Vec<&String> = from.iter().filter(|p| !not.contains(&p.as_str())).collect();
    if candidates.is_empty() {
        return None;
    }
    Some(candidates[index(candidates.len(), draw)].clone())
}

/// Up to `n` distinct random elements of `from`.
fn sample_of(from: &[String], n: usize, draw: &mut impl FnMut() -> u64) -> Vec<String> {
    let mut pool = from.to_vec();
    let mut taken = Vec::new();
    while taken.len() < n && !pool.is_empty() {
        let i = index(pool.len(), draw);
        taken.push(pool.swap_remove(i));
    }
    taken
}

#[cfg(test)]
mod tests {
    use crate::overlay::config::OverlayConfig;
    use crate::overlay::view::{Message, PartialView};

    fn draw() -> impl FnMut() -> u64 {
        let mut n = 0u64;
        move || {
            n += 1;
            n
        }
    }

    #[test]
    fn a_reply_nobody_asked_for_changes_nothing() {
        let mut draw = draw();
        let mut view = PartialView::new("me", OverlayConfig::for_cluster(64));
        view.join("contact");
        for i in 0..1_000 {
            let peer = format!("liar{i}");
            let out = view.receive(&peer, Message::NeighborReply { accepted: true }, &mut draw);
            assert!(out.is_empty());
            view.receive(&peer, Message::NeighborReply { accepted: false }, &mut draw);
        }
        assert_eq!(view.active(), ["contact"]);
        assert!(view.refused.is_empty());
    }

    #[test]
    fn the_peer_asked_is_taken_in_when_it_accepts() {
        let mut draw = draw();
        let mut view = PartialView::new("me", OverlayConfig::for_cluster(64));
        view.receive(
            "spare",
            Message::ShuffleReply {
                sample: vec!["spare".into()],
            },
            &mut draw,
        );
        let asked = view.tick(&mut draw);
        assert_eq!(
            asked,
            [("spare".to_string(), Message::Neighbor { urgent: true })]
        );
        view.receive(
            "spare",
            Message::NeighborReply { accepted: true },
            &mut draw,
        );
        assert_eq!(view.active(), ["spare"]);
    }
}
