//! How the cluster behaves as it grows: nodes in one OS process over loopback, at each size
//! the time from the last node's `connect` to a full mesh on every node, the time for a
//! global `register` and a group `join` to be visible on every node (and `register` itself,
//! the first and then the median of a hundred more, each until seen on every node),
//! the time for every node to see a node that shut down gone and its name and members gone
//! everywhere, idle traffic and CPU per node (nothing but heartbeats and housekeeping
//! running, over 3 s), and memory per node.
//!
//! `cargo bench -p beamish-actors-net --bench scale` (sizes 8, 16, 32); `SCALE_SIZES=8,16,32,64`
//! for others. `SCALE_OVERLAY=1` runs the nodes on the partial-view overlay instead of a
//! full mesh: "mesh" is then the time until every node has a session to every other, the
//! connections per node are its links, and idle traffic is what crosses the links.

use std::time::{Duration, Instant};

use actors_net::prelude::*;

/// Registrations timed one after another at each size, after the first.
const REGISTRATIONS: usize = 100;

#[actor]
struct Idle;

#[actor]
impl Idle {
    #[handle]
    fn ping(&self) {}
}

/// Resident memory of this process, in KiB (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time this process has used (user + system), in seconds (Linux).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Frames and bytes every node has received from every peer so far: over the overlay, what
/// crossed its links (sessions' frames included, relayed ones too).
fn received(nodes: &[Node]) -> (u64, u64) {
    let mut total = (0, 0);
    for node in nodes {
        if let Some(info) = node.overlay_info() {
            total.0 += info.frames_in;
            total.1 += info.bytes_in;
            continue;
        }
        for peer in node.nodes() {
            if let Some(info) = node.connection_info(&peer) {
                total.0 += info.frames_in;
                total.1 += info.bytes_in;
            }
        }
    }
    total
}

/// Polls `done` every 100 us until it holds; the time it took (or `None` after 60 s).
async fn until(mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(60) {
            return None;
        }
        actors::rt::sleep(Duration::from_micros(100)).await;
    }
    Some(start.elapsed())
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
}

/// Frames every node has passed on for others so far (over the overlay).
fn relayed(nodes: &[Node]) -> u64 {
    nodes
        .iter()
        .filter_map(|x| x.overlay_info())
        .map(|o| o.relayed)
        .sum()
}

/// Direct connections per node: its links over the overlay, else its peers.
fn connections(nodes: &[Node]) -> f64 {
    let total: usize = nodes
        .iter()
        .map(|x| {
            x.overlay_info()
                .map_or(x.nodes().len(), |o| o.neighbours.len())
        })
        .sum();
    total as f64 / nodes.len() as f64
}

/// Says which nodes lack a connection to which, when the cluster did not form in time.
fn report_missing(nodes: &[Node]) {
    for x in nodes {
        let seen = x.nodes();
        let missing: Vec<&str> = nodes
            .iter()
            .map(|y| y.name())
            .filter(|y| *y != x.name() && !seen.iter().any(|s| s == y))
            .collect();
        if !missing.is_empty() {
            eprintln!("{} is not connected to {missing:?}", x.name());
        }
    }
}

async fn size(n: usize, overlay: bool) {
    let before = rss_kib();
    let mut nodes = Vec::new();
    for i in 0..n {
        let builder = Node::builder(&format!("s{i}@127.0.0.1:0")).cookie("scale");
        let builder = match overlay {
            true => builder.overlay(actors_net::overlay::OverlayConfig::for_cluster(n)),
            false => builder,
        };
        nodes.push(builder.start().await.expect("starts"));
    }
    let started = rss_kib();
    // Each joins the first; peer lists do the rest.
    for node in &nodes[1..n - 1] {
        node.connect(nodes[0].name()).await.expect("connects");
    }
    let _ = until(|| nodes[..n - 1].iter().all(|x| x.nodes().len() == n - 2)).await;
    let last = Instant::now();
    nodes[n - 1]
        .connect(nodes[0].name())
        .await
        .expect("connects");
    let mesh = until(|| nodes.iter().all(|x| x.nodes().len() == n - 1))
        .await
        .map(|_| last.elapsed());
    if mesh.is_none() {
        report_missing(&nodes);
    }
    // Over the overlay, the views settle after the joins (the walks end, the evicted find
    // new places) and the links of one exchange close: until no node has more links than
    // its active view holds.
    let settled_views = match overlay {
        true => {
            let most = actors_net::overlay::OverlayConfig::for_cluster(n).active;
            until(|| {
                nodes
                    .iter()
                    .all(|x| x.overlay_info().is_some_and(|o| o.neighbours.len() <= most))
            })
            .await
            .map(|_| last.elapsed())
        }
        false => mesh,
    };
    actors::rt::sleep(Duration::from_millis(500)).await;
    let meshed = rss_kib();

    // Idle: nothing runs but what the nodes run by themselves.
    let window = Duration::from_secs(3);
    let (frames0, bytes0) = received(&nodes);
    let relayed0 = relayed(&nodes);
    let cpu0 = cpu_secs();
    actors::rt::sleep(window).await;
    let (frames1, bytes1) = received(&nodes);
    let idle_relayed = (relayed(&nodes) - relayed0) as f64;
    let per_node_s = (n as f64) * window.as_secs_f64();
    let idle_frames = (frames1 - frames0) as f64 / per_node_s;
    let idle_bytes = (bytes1 - bytes0) as f64 / per_node_s;
    let idle_cpu = (cpu_secs() - cpu0) / per_node_s * 100.0;
    let idle_relayed = idle_relayed / per_node_s;
    // Once idle: an overlay's links for one exchange have closed by then.
    let links = connections(&nodes);

    let idle = nodes[n / 2].spawn(Idle);
    let t = Instant::now();
    nodes[n / 2]
        .global()
        .register("probe", &idle)
        .await
        .expect("registers");
    let register = t.elapsed();
    let seen = until(|| {
        nodes
            .iter()
            .all(|x| x.global().whereis_any("probe").is_some())
    })
    .await
    .map(|_| t.elapsed());
    // Then one registration after another, from every node in turn, each timed until every
    // node sees it (in a full mesh `register` returns then; on the overlay it returns once
    // claimed, and the name travels in the node's note): the median and the slowest tenth,
    // without the first contact's costs.
    let mut times = Vec::new();
    for i in 0..REGISTRATIONS {
        let node = &nodes[i % n];
        let pid = node.spawn(Idle);
        let name = format!("probe-{i}");
        let t = Instant::now();
        node.global()
            .register(&name, &pid)
            .await
            .expect("registers");
        until(|| {
            nodes
                .iter()
                .all(|x| x.global().whereis_any(&name).is_some())
        })
        .await
        .expect("seen on every node");
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    let p90 = times[times.len() * 9 / 10];

    let member = nodes[n / 3].spawn(Idle);
    let t = Instant::now();
    nodes[n / 3]
        .groups()
        .join("g", &member)
        .await
        .expect("joins");
    let joined = until(|| nodes.iter().all(|x| x.groups().members("g").len() == 1))
        .await
        .map(|_| t.elapsed());

    // A node goes (a shutdown: the closest to a kill among nodes of one process), with the
    // name and the member on it.
    let gone = nodes.remove(n / 2);
    let name = gone.name().to_string();
    let t = Instant::now();
    gone.shutdown().await;
    let down = until(|| nodes.iter().all(|x| !x.nodes().contains(&name)))
        .await
        .map(|_| t.elapsed());
    let settled = until(|| {
        nodes
            .iter()
            .all(|x| x.global().whereis_any("probe").is_none())
    })
    .await
    .map(|_| t.elapsed());

    println!(
        "{n:>3} nodes{} | {links:.1} connections/node | mesh {:>9}, views settled {:>9} | register first {:>5.2} ms, on all {:>9}, then median {:.2} ms, \
         p90 {:.2} ms | join on all {:>9} | \
         down on all {:>9}, names settled {:>9} | {:>5} KiB/node, {:>4} KiB/connection | \
         idle per node: {idle_frames:.1} frames/s ({idle_relayed:.1} relayed), {idle_bytes:.0} B/s, \
         {idle_cpu:.2}% CPU",
        if overlay { " (overlay)" } else { "" },
        ms(mesh),
        ms(settled_views),
        register.as_secs_f64() * 1e3,
        ms(seen),
        median.as_secs_f64() * 1e3,
        p90.as_secs_f64() * 1e3,
        ms(joined),
        ms(down),
        ms(settled),
        started.saturating_sub(before) / n as u64,
        meshed.saturating_sub(started) / (n * (n - 1)) as u64,
    );
    for node in nodes {
        node.shutdown().await;
    }
}

fn main() {
    actors_net::logs::init();
    let sizes: Vec<usize> = std::env::var("SCALE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![8, 16, 32]);
    let overlay = std::env::var("SCALE_OVERLAY").is_ok_and(|v| v == "1");
    actors::rt::block_on(actors::rt::spawn(async move {
        for n in sizes {
            size(n.max(3), overlay).await;
        }
    }));
}
