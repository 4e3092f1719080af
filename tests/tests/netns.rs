//! Real network faults: nodes in OS processes, each in a network namespace of its own, joined
//! by veth pairs to a bridge in a hub namespace; links cut both ways (the node's veth down)
//! and one way (a blackhole route to one peer). Each test makes its namespaces and removes
//! them. Needs root and iproute2 (`ip netns`): without them each test prints one line and
//! passes, unless `ACTORS_REQUIRE_NETNS=1` (set by `.ci/run`), which makes it fail.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use actors_integration::child::ChildNode;

const BIN: &str = env!("CARGO_BIN_EXE_testnode");
const WAIT: Duration = Duration::from_secs(20);
const PORT: u16 = 4370;

/// Runs `ip` with `args`; the error text if it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip does not run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Namespaces for `n` nodes around a hub with a bridge; removed on drop.
struct Net {
    prefix: String,
    hub: String,
    n: usize,
}

impl Net {
    /// The namespaces, or why they cannot be made here.
    fn new(n: usize) -> Result<Net, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let prefix = format!(
            "actors-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let hub = format!("{prefix}-hub");
        ip(&["netns", "add", &hub])?;
        let net = Net { prefix, hub, n };
        let hub = net.hub.as_str();
        ip(&["-n", hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", hub, "link", "set", "br0", "up"])?;
        for i in 0..n {
            let ns = net.ns(i);
            ip(&["netns", "add", &ns])?;
            let outer = format!("v{i}");
            ip(&[
                "-n", hub, "link", "add", &outer, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            ip(&["-n", hub, "link", "set", &outer, "master", "br0"])?;
            ip(&["-n", hub, "link", "set", &outer, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", net.addr(i)),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    fn ns(&self, i: usize) -> String {
        format!("{}-n{i}", self.prefix)
    }

    fn addr(&self, i: usize) -> String {
        format!("10.213.0.{}", i + 1)
    }

    fn name(&self, i: usize) -> String {
        format!("n{i}@{}:{PORT}", self.addr(i))
    }

    /// Cuts node `i`'s link both ways, or puts it back.
    fn link(&self, i: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.hub, "link", "set", &format!("v{i}"), state]).expect("the link changes");
    }

    /// Drops everything node `from` sends to node `to` (and only that), or lets it through.
    fn one_way(&self, from: usize, to: usize, cut: bool) {
        let verb = if cut { "add" } else { "del" };
        let dest = format!("{}/32", self.addr(to));
        ip(&["-n", &self.ns(from), "route", verb, "blackhole", &dest]).expect("the route changes");
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..self.n {
            let _ = ip(&["netns", "del", &self.ns(i)]);
        }
        let _ = ip(&["netns", "del", &self.hub]);
    }
}

/// The namespaces, or `None` after one line saying why they cannot be made here (a failure
/// where `ACTORS_REQUIRE_NETNS=1` says they must).
fn net(n: usize) -> Option<Net> {
    match Net::new(n) {
        Ok(net) => Some(net),
        Err(why) if std::env::var_os("ACTORS_REQUIRE_NETNS").is_some() => {
            panic!("network namespaces are required here (ACTORS_REQUIRE_NETNS) but: {why}")
        }
        Err(why) => {
            eprintln!(
                "skipped: network namespaces need root and iproute2 (apt-get install iproute2): {why}"
            );
            None
        }
    }
}

/// Starts node `i` in its namespace, connected to node 0, with a quick failure detector,
/// a member of the distributed supervisor "jobs", and `extra` arguments.
fn start(net: &Net, i: usize, extra: &[&str]) -> ChildNode {
    let first = net.name(0);
    let connect: Vec<&str> = if i == 0 { vec![] } else { vec![first.as_str()] };
    let mut args = vec!["--heartbeat-ms", "100", "--dsup", "jobs"];
    args.extend_from_slice(extra);
    ChildNode::start_in(&net.ns(i), BIN, &net.name(i), &connect, &args)
}

/// Asks `node` until `check` holds on its answer to `command`.
fn until(node: &mut ChildNode, command: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = node
            .ask(command, Duration::from_secs(2))
            .unwrap_or_default();
        if check(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "waited {WAIT:?} for {what}: {} answers {command:?} with {answer:?}",
            node.name
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until every node sees every other.
fn full_mesh(net: &Net, nodes: &mut [ChildNode], what: &str) {
    for (i, node) in nodes.iter_mut().enumerate() {
        for j in (0..net.n).filter(|j| *j != i) {
            let peer = net.name(j);
            until(node, "nodes", what, |a| sees(a, &peer));
        }
    }
}

fn sees(answer: &str, node: &str) -> bool {
    answer.split(',').any(|n| n == node)
}

#[test]
fn a_cut_link_is_detected_on_both_sides_and_the_child_moves_to_the_others() {
    let Some(net) = net(3) else { return };
    let mut nodes: Vec<ChildNode> = (0..3)
        .map(|i| {
            let extra: &[&str] = if i == 0 {
                &["--dsup-child", "solo"]
            } else {
                &[]
            };
            start(&net, i, extra)
        })
        .collect();
    full_mesh(&net, &mut nodes, "a full mesh");
    let home = until(&mut nodes[0], "whereis solo", "the child to run", |a| {
        a != "none" && !a.is_empty()
    });
    let h = (0..3)
        .find(|i| net.name(*i) == home)
        .expect("on a node of the net");
    let others: Vec<usize> = (0..3).filter(|i| *i != h).collect();

    // Both ways: the node of the child is cut off; each side sees the other go, and the
    // other two run the child.
    let cut_at = Instant::now();
    net.link(h, false);
    for &o in &others {
        let gone = net.name(h);
        until(
            &mut nodes[o],
            "nodes",
            "the cut node to be seen down",
            |a| !sees(a, &gone),
        );
        until(&mut nodes[o], "whereis solo", "the child to move", |a| {
            a != "none" && !a.is_empty() && a != gone
        });
    }
    for &o in &others {
        let peer = net.name(o);
        until(
            &mut nodes[h],
            "nodes",
            "the cut node to see the others down",
            |a| !sees(a, &peer),
        );
    }
    let moved = cut_at.elapsed();
    eprintln!("cut both ways: detected and the child moved in {moved:?}");

    // Healed: one mesh again, and one copy of the child that every node names alike. Right
    // after the heal a node may still name its own side's copy, which is being stopped: what
    // is waited for is the answers agreeing, not any one node's first answer.
    net.link(h, true);
    full_mesh(&net, &mut nodes, "the mesh after the heal");
    let deadline = Instant::now() + WAIT;
    loop {
        let answers: Vec<String> = nodes
            .iter_mut()
            .map(|n| {
                n.ask("whereis solo", Duration::from_secs(2))
                    .unwrap_or_default()
            })
            .collect();
        if answers[0] != "none"
            && !answers[0].is_empty()
            && answers.iter().all(|a| *a == answers[0])
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "waited {WAIT:?} for every node to name the same child: they answer {answers:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_link_cut_one_way_is_detected_by_both_ends() {
    let Some(net) = net(2) else { return };
    let mut nodes: Vec<ChildNode> = (0..2).map(|i| start(&net, i, &[])).collect();
    let (n0, n1) = (net.name(0), net.name(1));
    until(&mut nodes[0], "nodes", "the connection", |a| sees(a, &n1));
    until(&mut nodes[1], "nodes", "the connection", |a| sees(a, &n0));
    // n0's packets to n1 are dropped; n1's reach n0. Neither end can keep the connection:
    // n1 hears nothing, and n0 has no answer to what it sends.
    net.one_way(0, 1, true);
    until(&mut nodes[1], "nodes", "n1 to see n0 down", |a| {
        !sees(a, &n0)
    });
    until(&mut nodes[0], "nodes", "n0 to see n1 down", |a| {
        !sees(a, &n1)
    });
    net.one_way(0, 1, false);
    until(&mut nodes[0], "nodes", "the connection again", |a| {
        sees(a, &n1)
    });
    until(&mut nodes[1], "nodes", "the connection again", |a| {
        sees(a, &n0)
    });
}
