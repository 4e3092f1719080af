//! Chaos, then settling: five nodes in child OS processes, each streaming numbered casts to
//! every other, calling them with timeouts, and churning global names and group members,
//! while the test kills (`SIGKILL`) and restarts them, freezes (`SIGSTOP`) and thaws them,
//! cuts links between them (`block`) and drops links (`disconnect`). Then the faults stop,
//! the network heals, and the test waits for the cluster to settle and checks what is
//! promised.
//!
//! The faults are drawn from a seed, printed at the start: `SOAK_SEED=<n>` runs the same
//! schedule again, `SOAK_SECS=<n>` runs the chaos longer (default 35 s, for about a minute in
//! all).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use actors_integration::child::ChildNode;
use actors_integration::free_ports;

const BIN: &str = env!("CARGO_BIN_EXE_soaknode");
const NODES: usize = 5;
const ASK: Duration = Duration::from_secs(10);
/// How long the cluster may take to settle once the faults stop and the network heals.
const SETTLE_WITHIN: Duration = Duration::from_secs(30);

/// A small deterministic generator (SplitMix64): the same seed, the same faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pair(&mut self) -> (usize, usize) {
        let a = self.below(NODES as u64) as usize;
        let b = (a + 1 + self.below(NODES as u64 - 1) as usize) % NODES;
        (a, b)
    }
}

/// A node's answer to `state`, by field.
type State = BTreeMap<String, String>;

fn parse(line: &str) -> Option<State> {
    let mut fields = line.split('\t');
    (fields.next()? == "STATE").then(|| {
        fields
            .filter_map(|f| f.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

fn list(s: &State, key: &str) -> BTreeSet<String> {
    s.get(key)
        .map(|v| {
            v.split(',')
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn number(s: &State, key: &str) -> u64 {
    s.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

struct Cluster {
    names: Vec<String>,
    nodes: Vec<Option<ChildNode>>,
    logs: Vec<PathBuf>,
}

impl Cluster {
    fn start_node(&mut self, i: usize) {
        let peers: Vec<String> = self.names.clone();
        let mut extra: Vec<&str> = Vec::new();
        for p in &peers {
            extra.push("--peer");
            extra.push(p);
        }
        let connect: Vec<&str> = peers
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i && self.nodes.get(*j).is_some_and(Option::is_some))
            .map(|(_, p)| p.as_str())
            .take(1)
            .collect();
        let node =
            ChildNode::start_logged(BIN, &self.names[i], &connect, &extra, Some(&self.logs[i]));
        assert_eq!(node.name, self.names[i]);
        self.nodes[i] = Some(node);
    }

    fn ask(&mut self, i: usize, command: &str) -> Option<String> {
        self.nodes[i].as_mut()?.ask(command, ASK)
    }

    fn states(&mut self) -> Vec<State> {
        (0..NODES)
            .map(|i| {
                let line = self.ask(i, "state").expect("a live node answers");
                parse(&line).unwrap_or_else(|| panic!("not a state: {line}"))
            })
            .collect()
    }
}

/// Why the states are not settled yet, if they are not.
fn unsettled(states: &[State], names: &[String]) -> Option<String> {
    let creations: BTreeMap<&str, &str> = names
        .iter()
        .zip(states)
        .map(|(n, s)| (n.as_str(), s.get("creation").map_or("", String::as_str)))
        .collect();
    for (i, s) in states.iter().enumerate() {
        let want: BTreeSet<String> = names.iter().filter(|n| **n != names[i]).cloned().collect();
        if list(s, "nodes") != want {
            return Some(format!(
                "{} is connected to {:?}",
                names[i],
                list(s, "nodes")
            ));
        }
        if !list(s, "dead").is_empty() {
            return Some(format!(
                "{} names dead processes {:?}",
                names[i],
                list(s, "dead")
            ));
        }
    }
    let first = list(&states[0], "names");
    for (i, s) in states.iter().enumerate() {
        let theirs = list(s, "names");
        if theirs != first {
            return Some(format!(
                "{} disagrees on names: only {} has {:?}, only {} has {:?}",
                names[i],
                names[0],
                first.difference(&theirs).collect::<Vec<_>>(),
                names[i],
                theirs.difference(&first).collect::<Vec<_>>()
            ));
        }
    }
    // Every named pid belongs to a node's current run.
    for entry in &first {
        let pid = entry.split_once('=').map_or("", |(_, p)| p);
        let (node, rest) = pid.split_once('#').unwrap_or(("", ""));
        let creation = rest.split('.').next().unwrap_or("");
        if creations.get(node) != Some(&creation) {
            return Some(format!("{entry} names a process of no live run"));
        }
    }
    let live: BTreeSet<String> = states.iter().flat_map(|s| list(s, "local")).collect();
    for (i, s) in states.iter().enumerate() {
        let members: Vec<String> = s
            .get("members")
            .map(|v| {
                v.split(',')
                    .filter(|x| !x.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let listed: BTreeSet<String> = members.iter().cloned().collect();
        if listed != live || members.len() != listed.len() {
            return Some(format!("{} lists other group members", names[i]));
        }
    }
    None
}

#[test]
fn soak() {
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(35);
    println!("soak: seed {seed}, {secs} s of chaos (SOAK_SEED={seed} replays the faults)");
    let mut rng = Rng(seed);
    let dir = std::env::temp_dir().join(format!("actors-soak-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a log folder");
    let ports = free_ports(NODES);
    let names: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("s{i}@127.0.0.1:{p}"))
        .collect();
    let mut c = Cluster {
        logs: (0..NODES).map(|i| dir.join(format!("s{i}.log"))).collect(),
        nodes: (0..NODES).map(|_| None).collect(),
        names,
    };
    for i in 0..NODES {
        c.start_node(i);
    }
    let started = Instant::now();
    let mut rss_start = [0u64; NODES];
    loop {
        let states = c.states();
        if unsettled(&states, &c.names).is_none() || started.elapsed() > SETTLE_WITHIN {
            for (i, s) in states.iter().enumerate() {
                rss_start[i] = number(s, "rss_kb");
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    // The chaos: one fault every 0.3-1.2 s; a frozen node is thawed, and a cut link healed,
    // 0.5-3 s later.
    let mut faults: BTreeMap<&str, u64> = BTreeMap::new();
    let mut thaw_at: Vec<(Instant, usize)> = Vec::new();
    let mut unblock_at: Vec<(Instant, usize, usize)> = Vec::new();
    let chaos_end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < chaos_end {
        std::thread::sleep(Duration::from_millis(300 + rng.below(900)));
        let now = Instant::now();
        for (_, i) in thaw_at.iter().filter(|(t, _)| *t <= now) {
            if let Some(n) = c.nodes[*i].as_mut() {
                n.thaw();
            }
        }
        thaw_at.retain(|(t, _)| *t > now);
        let frozen: BTreeSet<usize> = thaw_at.iter().map(|(_, i)| *i).collect();
        // A frozen node cannot answer: its blocks are lifted once it is thawed.
        let due = |(t, a, _): &(Instant, usize, usize)| *t <= now && !frozen.contains(a);
        for (_, a, b) in unblock_at
            .iter()
            .filter(|u| due(u))
            .copied()
            .collect::<Vec<_>>()
        {
            let name = c.names[b].clone();
            c.ask(a, &format!("unblock {name}"));
        }
        unblock_at.retain(|u| !due(u));
        let (a, b) = rng.pair();
        let later = now + Duration::from_millis(500 + rng.below(2500));
        match rng.below(4) {
            0 if !frozen.contains(&a) => {
                if let Some(n) = c.nodes[a].as_mut() {
                    n.kill();
                }
                c.nodes[a] = None;
                c.start_node(a);
                *faults.entry("kill and restart").or_default() += 1;
            }
            1 if frozen.is_empty() => {
                if let Some(n) = c.nodes[a].as_mut() {
                    n.freeze();
                }
                thaw_at.push((later, a));
                *faults.entry("freeze").or_default() += 1;
            }
            2 if !frozen.contains(&a) => {
                let name = c.names[b].clone();
                c.ask(a, &format!("block {name}"));
                unblock_at.push((later, a, b));
                *faults.entry("partition").or_default() += 1;
            }
            3 if !frozen.contains(&a) => {
                let name = c.names[b].clone();
                c.ask(a, &format!("disconnect {name}"));
                *faults.entry("dropped link").or_default() += 1;
            }
            _ => {}
        }
    }

    // Heal: thaw, lift every block, stop the churn; the links come back by themselves.
    for (_, i) in thaw_at.drain(..) {
        if let Some(n) = c.nodes[i].as_mut() {
            n.thaw();
        }
    }
    for (_, a, b) in unblock_at.drain(..) {
        let name = c.names[b].clone();
        c.ask(a, &format!("unblock {name}"));
    }
    for i in 0..NODES {
        assert_eq!(c.ask(i, "quiet").as_deref(), Some("OK"));
    }
    let healed = Instant::now();
    let states = loop {
        let states = c.states();
        let Some(why) = unsettled(&states, &c.names) else {
            break states;
        };
        assert!(
            healed.elapsed() < SETTLE_WITHIN,
            "seed {seed}: not settled within {SETTLE_WITHIN:?}: {why}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let settle = healed.elapsed();

    // What is promised.
    let sum = |key: &str| states.iter().map(|s| number(s, key)).sum::<u64>();
    let mut calls = [0u64; 5];
    for s in &states {
        let each = s.get("calls").map(String::as_str).unwrap_or_default();
        for (total, x) in calls.iter_mut().zip(each.split('/')) {
            *total += x.parse::<u64>().unwrap_or(0);
        }
    }
    println!(
        "soak: seed {seed}; faults {faults:?}; settled {settle:?} after the heal; \
         messages received {} ({} new connections mid-stream), order violations {}; \
         calls ok/timeout/no-connection/no-proc/other {:?}, past their timeout {}",
        sum("received"),
        sum("restarts"),
        sum("violations"),
        calls,
        sum("late"),
    );
    for (i, s) in states.iter().enumerate() {
        let rss = number(s, "rss_kb");
        println!(
            "soak: {} rss {} KiB at start, {rss} KiB at the end",
            c.names[i], rss_start[i]
        );
        // A node restarted during the chaos started later; its start figure is its first run's.
        assert!(
            rss < rss_start[i].max(8 * 1024) * 4 + 64 * 1024,
            "seed {seed}: {} grew from {} to {rss} KiB",
            c.names[i],
            rss_start[i]
        );
    }
    assert_eq!(
        sum("violations"),
        0,
        "seed {seed}: lost or reordered on a live link"
    );
    assert_eq!(sum("late"), 0, "seed {seed}: calls past their timeout");
    for log in &c.logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert!(
            !text.contains("panicked"),
            "seed {seed}: a panic in {}",
            log.display()
        );
    }
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}
