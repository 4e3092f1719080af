//! The partial-view membership protocol (HyParView) and the routes over it simulated at the
//! protocol level: 256 and 1,024 nodes join one after another through random members,
//! shuffle, lose a fifth of their number at once and repair. Messages are delivered in a
//! random order drawn from the seed, in order between any two nodes as over a connection; a
//! message to a node that is gone tells its sender the node failed, as a lost connection
//! would. After each phase, once no message is left: every active view holds at most its size
//! and is returned by its peers, the passive views stay within theirs, the active views
//! connect every live node, and every node's routes lead to every other live node over
//! active links by a shortest path (and to no dead one), and sees every live node's notes
//! (each registers a global name and joins a process group by them, as real nodes on the
//! overlay do) as they were last set, and no dead node's.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use actors_net::overlay::{
    Adverts, Message, Notes, OverlayConfig, PartialView, Routes, RoutesConfig,
};

/// What crosses a simulated link: the views' protocol or the routes'.
enum Wire {
    View(Message),
    Routes(Adverts),
}

/// The number in a simulated node's name (`n12`).
fn id(name: &str) -> u32 {
    name[1..].parse().expect("a node's name")
}

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
    routes: BTreeMap<String, Routes>,
    dead: BTreeSet<String>,
    /// Messages in flight, in order, per (sender, receiver).
    channels: HashMap<(u32, u32), VecDeque<Wire>>,
    /// One entry per message in flight, naming its channel: a random pick takes the first
    /// message of that channel.
    queue: Vec<(u32, u32)>,
    draw: Draw,
    delivered: u64,
    /// How many of the messages delivered were adverts.
    adverts: u64,
    /// Whether the nodes route yet.
    routing: bool,
    /// Each node's notes as it last set them.
    notes: BTreeMap<String, Notes>,
}

impl Overlay {
    fn new(seed: u64) -> Self {
        Overlay {
            nodes: BTreeMap::new(),
            routes: BTreeMap::new(),
            dead: BTreeSet::new(),
            channels: HashMap::new(),
            queue: Vec::new(),
            // Odd, as xorshift needs a state other than zero, and one per seed.
            draw: Draw(2 * seed + 1),
            delivered: 0,
            adverts: 0,
            routing: true,
            notes: BTreeMap::new(),
        }
    }

    fn send(&mut self, from: &str, out: impl IntoIterator<Item = (String, Wire)>) {
        for (to, message) in out {
            let key = (id(from), id(&to));
            self.channels.entry(key).or_default().push_back(message);
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
        // The routes follow the active view, as a node's do its connections.
        let adverts = match self.routing {
            true => self
                .routes
                .get_mut(name)
                .expect("routes")
                .set_peers(view.active()),
            false => Vec::new(),
        };
        self.send(name, out.into_iter().map(|(to, m)| (to, Wire::View(m))));
        self.send(
            name,
            adverts.into_iter().map(|(to, m)| (to, Wire::Routes(m))),
        );
    }

    /// Delivers messages in a random order until none is left.
    fn settle(&mut self) {
        let mut rounds = 0u64;
        while !self.queue.is_empty() {
            rounds += 1;
            assert!(rounds < 1_000_000_000, "the overlay never goes quiet");
            let i = (self.draw.next() % self.queue.len() as u64) as usize;
            let key = self.queue.swap_remove(i);
            let message = self
                .channels
                .get_mut(&key)
                .and_then(VecDeque::pop_front)
                .expect("a message per entry");
            let (from, to) = (format!("n{}", key.0), format!("n{}", key.1));
            if self.dead.contains(&from) {
                continue;
            }
            self.delivered += 1;
            if self.dead.contains(&to) {
                // Unreachable: the sender learns it as a failure of that peer.
                self.act(&from, |view, mut draw| view.failed(&to, &mut draw));
            } else {
                match message {
                    Wire::View(message) => self.act(&to, |view, mut draw| {
                        view.receive(&from, message, &mut draw)
                    }),
                    Wire::Routes(adverts) => {
                        self.adverts += 1;
                        let routes = self.routes.get_mut(&to).expect("routes");
                        let out = routes
                            .receive(&from, adverts)
                            .expect("adverts within bounds");
                        self.send(&to, out.into_iter().map(|(to, m)| (to, Wire::Routes(m))));
                    }
                }
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
        self.add(&first, config);
        for i in 1..n {
            let name = format!("n{i}");
            let members: Vec<String> = self.live().into_iter().cloned().collect();
            let contact = members[(self.draw.next() % members.len() as u64) as usize].clone();
            self.add(&name, config);
            self.act(&name, |view, _| view.join(&contact));
            self.settle();
            self.flush();
        }
    }

    fn add(&mut self, name: &str, config: &OverlayConfig) {
        self.nodes
            .insert(name.to_string(), PartialView::new(name, config.clone()));
        self.routes.insert(
            name.to_string(),
            Routes::new(name, 1, RoutesConfig::default()),
        );
        // A global name of its own, and a member in one of sixteen groups.
        let group = format!("g{}", id(name) % 16);
        self.note(name, "global", format!("name-{name}"));
        self.note(name, "pg", group);
    }

    /// Sets a note of `name`'s, as its global server or a group's does.
    fn note(&mut self, name: &str, key: &str, body: String) {
        self.routes
            .get_mut(name)
            .expect("routes")
            .set_note(key, Some(body.clone().into_bytes()))
            .expect("a note within bounds");
        self.notes
            .entry(name.to_string())
            .or_default()
            .insert(key.to_string(), body.into_bytes().into());
    }

    /// Every live node sees every other live node's notes as last set (the dead ones are
    /// unreachable, so their notes count nowhere: `check_routes`).
    fn check_notes(&self, when: &str) {
        let live = self.live();
        for a in &live {
            let routes = &self.routes[*a];
            for b in live.iter().filter(|b| *b != a) {
                assert_eq!(
                    routes.notes(b),
                    Some(&self.notes[*b]),
                    "{when}: {a} does not see {b}'s notes as {b} last set them"
                );
            }
        }
    }

    /// The members of `group` as node `at` sees them: its own, and those of the nodes its
    /// routes reach.
    fn members(&self, at: &str, group: &str) -> usize {
        let routes = &self.routes[at];
        std::iter::once(&self.notes[at])
            .chain(routes.reachable().filter_map(|b| routes.notes(b)))
            .filter(|notes| {
                notes
                    .get("pg")
                    .is_some_and(|g| g.as_slice() == group.as_bytes())
            })
            .count()
    }

    /// Every live node shuffles once (and ticks its routes); returns the messages it took
    /// per node, and of them the adverts.
    fn shuffle_round(&mut self) -> (f64, f64) {
        let (before, adverts) = (self.delivered, self.adverts);
        let live: Vec<String> = self.live().into_iter().cloned().collect();
        for name in &live {
            self.act(name, |view, mut draw| view.tick(&mut draw));
            self.routes.get_mut(name).expect("routes").tick();
        }
        self.settle();
        self.flush();
        let per_node = |n: u64| n as f64 / live.len() as f64;
        (
            per_node(self.delivered - before),
            per_node(self.adverts - adverts),
        )
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
        self.flush();
    }

    /// Every node starts routing over the active view it has.
    fn start_routing(&mut self) {
        self.routing = true;
        let live: Vec<String> = self.live().into_iter().cloned().collect();
        for name in &live {
            self.act(name, |_, _| Vec::new());
        }
        self.settle();
        self.flush();
    }

    /// The routes' timer: every live node whose view changed sends its advert, until quiet.
    fn flush(&mut self) {
        loop {
            let mut sent = false;
            let live: Vec<String> = self.live().into_iter().cloned().collect();
            for name in &live {
                let out = self.routes.get_mut(name).expect("routes").flush();
                sent |= !out.is_empty();
                self.send(name, out.into_iter().map(|(to, m)| (to, Wire::Routes(m))));
            }
            if !sent {
                return;
            }
            self.settle();
        }
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
        let (hops, longest) = match self.routing {
            true => self.check_routes(when),
            false => (0.0, 0),
        };
        Stats {
            mean: degrees.iter().sum::<usize>() as f64 / degrees.len() as f64,
            max: degrees.into_iter().max().unwrap_or(0),
            hops,
            longest,
        }
    }

    /// Every live node's routes reach every other live node and no dead one, and each route,
    /// followed hop by hop, runs over active links and is as short as any. Gives the mean and
    /// the longest route.
    fn check_routes(&self, when: &str) -> (f64, u32) {
        let live = self.live();
        // The active links, by node number: the walks below take millions of steps.
        let mut links: Vec<Vec<u32>> = vec![Vec::new(); self.nodes.len()];
        for name in &live {
            links[id(name) as usize] = self.nodes[*name].active().iter().map(|p| id(p)).collect();
        }
        let (mut total, mut pairs, mut longest) = (0u64, 0u64, 0u32);
        for a in &live {
            let routes = &self.routes[*a];
            assert_eq!(
                routes.reachable().count(),
                live.len() - 1,
                "{when}: {a} has routes to dead nodes or misses live ones"
            );
            // The true distances over the active links.
            let mut distance = vec![u32::MAX; self.nodes.len()];
            distance[id(a) as usize] = 0;
            let mut next = VecDeque::from([id(a)]);
            while let Some(n) = next.pop_front() {
                let d = distance[n as usize];
                for &p in &links[n as usize] {
                    if distance[p as usize] == u32::MAX {
                        distance[p as usize] = d + 1;
                        next.push_back(p);
                    }
                }
            }
            for b in live.iter().filter(|b| *b != a) {
                let hops = routes.hops(b).expect("a route");
                assert_eq!(
                    hops,
                    distance[id(b) as usize],
                    "{when}: {a} to {b} is not a shortest path"
                );
                let (mut at, mut steps) = (*a, 0);
                while at != *b {
                    let hop = self.routes[at].next_hop(b).expect("a route on the way");
                    assert!(
                        links[id(at) as usize].contains(&id(hop)),
                        "{when}: {at} routes to {b} through {hop}, not an active peer"
                    );
                    at = self.nodes.get_key_value(hop).expect("a node").0;
                    steps += 1;
                    assert!(
                        steps <= hops,
                        "{when}: the route from {a} to {b} goes round"
                    );
                }
                total += u64::from(hops);
                pairs += 1;
                longest = longest.max(hops);
            }
        }
        (total as f64 / pairs.max(1) as f64, longest)
    }
}

struct Stats {
    mean: f64,
    max: usize,
    /// The mean route, in hops.
    hops: f64,
    longest: u32,
}

/// How the nodes start routing: as they join, or all at once when all have joined (as
/// cheaper to simulate: joins one by one cost every node a few adverts each).
#[derive(PartialEq)]
enum Start {
    Joining,
    Joined,
    /// Views alone.
    Never,
}

fn run(n: usize, seed: u64, start: Start) {
    let config = OverlayConfig::for_cluster(n);
    let mut overlay = Overlay::new(seed);
    overlay.routing = start == Start::Joining;
    overlay.join_all(n, &config);
    if start == Start::Joined {
        overlay.start_routing();
    }
    let joined = overlay.check(&config, "after the joins");
    if start != Start::Never {
        overlay.check_notes("after the joins");
    }
    let per_join = (overlay.delivered - overlay.adverts) as f64 / n as f64;
    let adverts_per_join = overlay.adverts as f64 / n as f64;
    let mut per_round = (0.0, 0.0);
    for _ in 0..10 {
        per_round = overlay.shuffle_round();
    }
    let shuffled = overlay.check(&config, "after ten shuffles");
    if start != Start::Never {
        overlay.check_notes("after ten shuffles");
    }
    let adverts = overlay.adverts;
    overlay.kill(n / 5);
    let adverts_per_failure = (overlay.adverts - adverts) as f64 / (n - n / 5) as f64;
    // Repair: a few rounds in which short views ask passive peers in.
    for _ in 0..3 {
        overlay.shuffle_round();
    }
    let repaired = overlay.check(&config, "after a fifth of the nodes failed");
    println!(
        "{n} nodes (seed {seed}): active view at most {} (mean {:.1} after the joins, {:.1} after \
         shuffles, {:.1} after a fifth failed; max {} / {} / {}), {:.0} view messages per join, \
         {:.1} per node per shuffle round; a full mesh would keep {} connections per node",
        config.active,
        joined.mean,
        shuffled.mean,
        repaired.mean,
        joined.max,
        shuffled.max,
        repaired.max,
        per_join,
        per_round.0,
        n - 1
    );
    if start == Start::Never {
        return;
    }
    overlay.check_notes("after a fifth of the nodes failed");
    // A tenth of the live nodes move their member to another group and rename themselves:
    // one advert each, flooded.
    let adverts = overlay.adverts;
    let movers: Vec<String> = overlay.live().into_iter().step_by(10).cloned().collect();
    for name in &movers {
        overlay.note(name, "pg", "moved".to_string());
        overlay.note(name, "global", format!("renamed-{name}"));
    }
    overlay.flush();
    overlay.check_notes("after a tenth changed their notes");
    for at in overlay.live() {
        assert_eq!(
            overlay.members(at, "moved"),
            movers.len(),
            "the group moved to, at {at}"
        );
    }
    let adverts_per_change = (overlay.adverts - adverts) as f64 / movers.len() as f64;
    println!(
        "  notes: seen by every live node as last set, none of the dead's; a change of a node's \
         notes cost {:.0} advert messages in the cluster ({:.1} per live node)",
        adverts_per_change,
        adverts_per_change / overlay.live().len() as f64
    );
    // The dead nodes' adverts are forgotten once long enough unreachable.
    for _ in 0..RoutesConfig::default().forget_after {
        overlay.shuffle_round();
    }
    for name in overlay.live() {
        assert_eq!(
            overlay.routes[name].known(),
            overlay.live().len() - 1,
            "{name} still keeps adverts of dead nodes"
        );
    }
    println!(
        "  routes: {:.0} adverts per node {}, {:.1} per node per shuffle round; a fifth \
         failing cost {:.0} per live node; routes {:.2} / {:.2} / {:.2} hops on average, at most \
         {} / {} / {}",
        adverts_per_join,
        match start {
            Start::Joined => "to start routing once all had joined",
            _ => "over all the joins",
        },
        per_round.1,
        adverts_per_failure,
        joined.hops,
        shuffled.hops,
        repaired.hops,
        joined.longest,
        shuffled.longest,
        repaired.longest,
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
        run(256, seed, Start::Joining);
    }
}

#[test]
fn a_thousand_and_twenty_four_nodes_stay_connected_on_partial_views() {
    for seed in seeds() {
        run(1024, seed, Start::Never);
    }
}

/// Every change floods each node with about one advert per active link: at 1,024 nodes the
/// simulation delivers about 11 million of them, some 100 s of a release build.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "100 s in a release build: cargo test --release -p actors-integration --test overlay"
)]
fn a_thousand_and_twenty_four_nodes_route_over_partial_views() {
    run(1024, 1, Start::Joined);
}
