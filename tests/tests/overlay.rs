//! The partial-view membership protocol (HyParView) simulated at the protocol level: 256 and
//! 1,024 nodes join one after another through random members, shuffle, lose a fifth of
//! their number at once and repair. Messages are delivered in a random order drawn from the
//! seed, in order between any two nodes as over a connection; a message to a node that is gone tells its sender the node failed, as a lost
//! connection would. After each phase, once no message is left: every active view holds at
//! most its size and is returned by its peers, the passive views stay within theirs, and
//! the active views connect every live node.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use actors_net::overlay::{Message, OverlayConfig, PartialView};

/// A deterministic stream of random numbers (xorshift64*).
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

struct Overlay {
    nodes: BTreeMap<String, PartialView>,
    dead: BTreeSet<String>,
    /// Messages in flight, in order, per (sender, receiver).
    channels: BTreeMap<(String, String), VecDeque<Message>>,
    /// One entry per message in flight, naming its channel: a random pick takes the first
    /// message of that channel.
    queue: Vec<(String, String)>,
    draw: Draw,
    delivered: u64,
}

impl Overlay {
    fn new(seed: u64) -> Self {
        Overlay {
            nodes: BTreeMap::new(),
            dead: BTreeSet::new(),
            channels: BTreeMap::new(),
            queue: Vec::new(),
            draw: Draw(seed | 1),
            delivered: 0,
        }
    }

    fn send(&mut self, from: &str, out: Vec<(String, Message)>) {
        for (to, message) in out {
            let key = (from.to_string(), to);
            self.channels
                .entry(key.clone())
                .or_default()
                .push_back(message);
            self.queue.push(key);
        }
    }

    /// Runs one step of node `name` (with the seed's randomness) and sends what it says.
    fn act(
        &mut self,
        name: &str,
        step: impl FnOnce(&mut PartialView, &mut dyn FnMut() -> u64) -> Vec<(String, Message)>,
    ) {
        let draw = &mut self.draw;
        let view = self.nodes.get_mut(name).expect("a node");
        let out = step(view, &mut || draw.next());
        self.send(name, out);
    }

    /// Delivers messages in a random order until none is left.
    fn settle(&mut self) {
        let mut rounds = 0u64;
        while !self.queue.is_empty() {
            rounds += 1;
            assert!(rounds < 50_000_000, "the overlay never goes quiet");
            let i = (self.draw.next() % self.queue.len() as u64) as usize;
            let (from, to) = self.queue.swap_remove(i);
            let message = self
                .channels
                .get_mut(&(from.clone(), to.clone()))
                .and_then(VecDeque::pop_front)
                .expect("a message per entry");
            if self.dead.contains(&from) {
                continue;
            }
            self.delivered += 1;
            if self.dead.contains(&to) {
                // Unreachable: the sender learns it as a failure of that peer.
                self.act(&from, |view, mut draw| view.failed(&to, &mut draw));
            } else {
                self.act(&to, |view, mut draw| {
                    view.receive(&from, message, &mut draw)
                });
            }
        }
    }

    fn live(&self) -> Vec<&String> {
        self.nodes
            .keys()
            .filter(|n| !self.dead.contains(*n))
            .collect()
    }

    fn join_all(&mut self, n: usize, config: &OverlayConfig) {
        let first = "n0".to_string();
        self.nodes
            .insert(first.clone(), PartialView::new(&first, config.clone()));
        for i in 1..n {
            let name = format!("n{i}");
            let members: Vec<String> = self.live().into_iter().cloned().collect();
            let contact = members[(self.draw.next() % members.len() as u64) as usize].clone();
            let mut view = PartialView::new(&name, config.clone());
            let out = view.join(&contact);
            self.nodes.insert(name.clone(), view);
            self.send(&name, out);
            self.settle();
        }
    }

    /// Every live node shuffles once; returns the messages it took per node.
    fn shuffle_round(&mut self) -> f64 {
        let before = self.delivered;
        let live: Vec<String> = self.live().into_iter().cloned().collect();
        for name in &live {
            self.act(name, |view, mut draw| view.tick(&mut draw));
        }
        self.settle();
        (self.delivered - before) as f64 / live.len() as f64
    }

    /// Kills `count` random live nodes at once; their active peers see the connections go.
    fn kill(&mut self, count: usize) {
        let mut live: Vec<String> = self.live().into_iter().cloned().collect();
        let mut killed = Vec::new();
        for _ in 0..count {
            let i = (self.draw.next() % live.len() as u64) as usize;
            killed.push(live.swap_remove(i));
        }
        self.dead.extend(killed.iter().cloned());
        for gone in &killed {
            let peers: Vec<String> = self.nodes[gone]
                .active()
                .iter()
                .filter(|p| !self.dead.contains(*p))
                .cloned()
                .collect();
            for peer in &peers {
                self.act(peer, |view, mut draw| view.failed(gone, &mut draw));
            }
        }
        self.settle();
    }

    /// What must hold once the overlay is quiet.
    fn check(&self, config: &OverlayConfig, when: &str) -> Stats {
        let live = self.live();
        let mut degrees = Vec::new();
        for name in &live {
            let view = &self.nodes[*name];
            assert!(
                view.active().len() <= config.active,
                "{when}: {name} active too large"
            );
            assert!(
                view.passive().len() <= config.passive,
                "{when}: {name} passive too large"
            );
            assert!(
                !view.active().is_empty(),
                "{when}: {name} has no active peer"
            );
            for peer in view.active() {
                assert!(
                    !self.dead.contains(peer),
                    "{when}: {name} keeps dead {peer} active"
                );
                assert!(
                    self.nodes[peer].active().contains(name),
                    "{when}: {name} has {peer} active, but not the other way"
                );
            }
            degrees.push(view.active().len());
        }
        // Every live node reached from the first over active links.
        let mut seen = BTreeSet::new();
        let mut next = VecDeque::from([live[0].clone()]);
        while let Some(n) = next.pop_front() {
            if seen.insert(n.clone()) {
                next.extend(self.nodes[&n].active().iter().cloned());
            }
        }
        assert_eq!(
            seen.len(),
            live.len(),
            "{when}: the active views split the overlay"
        );
        Stats {
            mean: degrees.iter().sum::<usize>() as f64 / degrees.len() as f64,
            max: degrees.into_iter().max().unwrap_or(0),
        }
    }
}

struct Stats {
    mean: f64,
    max: usize,
}

fn run(n: usize, seed: u64) {
    let config = OverlayConfig::for_cluster(n);
    let mut overlay = Overlay::new(seed);
    overlay.join_all(n, &config);
    let joined = overlay.check(&config, "after the joins");
    let per_join = overlay.delivered as f64 / n as f64;
    let mut per_round = 0.0;
    for _ in 0..10 {
        per_round = overlay.shuffle_round();
    }
    let shuffled = overlay.check(&config, "after ten shuffles");
    overlay.kill(n / 5);
    // Repair: a few rounds in which short views ask passive peers in.
    for _ in 0..3 {
        overlay.shuffle_round();
    }
    let repaired = overlay.check(&config, "after a fifth of the nodes failed");
    println!(
        "{n} nodes (seed {seed}): active view at most {} (mean {:.1} after the joins, {:.1} after \
         shuffles, {:.1} after a fifth failed; max {} / {} / {}), {:.0} messages per join, \
         {:.1} per node per shuffle round; a full mesh would keep {} connections per node",
        config.active,
        joined.mean,
        shuffled.mean,
        repaired.mean,
        joined.max,
        shuffled.max,
        repaired.max,
        per_join,
        per_round,
        n - 1
    );
}

fn seeds() -> Vec<u64> {
    let count = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3u64);
    (1..=count).collect()
}

#[test]
fn two_hundred_fifty_six_nodes_stay_connected_on_partial_views() {
    for seed in seeds() {
        run(256, seed);
    }
}

#[test]
fn a_thousand_and_twenty_four_nodes_stay_connected_on_partial_views() {
    for seed in seeds() {
        run(1024, seed);
    }
}
