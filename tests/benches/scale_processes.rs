//! The scale bench with one OS process per node: N-1 `testnode` children and one node in
//! this process that drives and watches them, over loopback. Per size: the time from the
//! last `connect` to a full mesh on every node, a global `register` and a group `join` seen
//! on every node, a node killed with `SIGKILL` seen down on every node with its global name
//! and group member gone everywhere, idle traffic (frames and bytes this node receives from
//! each peer) and idle CPU and memory per child.
//!
//! `cargo bench -p actors-integration --bench scale_processes` (8 and 16 nodes);
//! `SCALE_SIZES=8,16,32` for others. What each child sees is asked of it over the cluster
//! (`Status`), so a figure is good to one polling round (a call to each child, in parallel).
//! `SCALE_OVERLAY=1` runs every node on the partial-view overlay: the last node then joins
//! through the observer, and idle traffic is what crosses the observer's links.

use std::time::{Duration, Instant};

use actors_integration::child::ChildNode;
use actors_integration::{COOKIE, Status};
use actors_net::prelude::*;

#[actor]
struct Idle;

#[actor]
impl Idle {
    #[handle]
    fn ping(&self) {}
}

fn proc_field(pid: u32, file: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU ticks (user + system, 1/100 s) of process `pid`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let at = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    at(11) + at(12)
}

/// Whether every node holds `here` of its view: the observer asked directly, each child
/// over the cluster (`there`, all children at once).
async fn everywhere(
    observer: &Node,
    status: &[Pid<Status>],
    here: impl Fn(&Node) -> bool,
    there: impl Fn(Pid<Status>) -> futures::future::BoxFuture<'static, bool>,
) -> bool {
    here(observer)
        && futures::future::join_all(status.iter().cloned().map(there))
            .await
            .into_iter()
            .all(|ok| ok)
}

/// Whether every node sees `want` others.
async fn meshed(observer: &Node, status: &[Pid<Status>], want: usize) -> bool {
    everywhere(
        observer,
        status,
        move |o| o.nodes().len() == want,
        move |s| Box::pin(async move { s.nodes().await == Ok(want) }),
    )
    .await
}

async fn until<F: std::future::Future<Output = bool>>(
    mut done: impl FnMut() -> F,
) -> Option<Duration> {
    let start = Instant::now();
    while !done().await {
        if start.elapsed() > Duration::from_secs(60) {
            return None;
        }
        actors::rt::sleep(Duration::from_micros(200)).await;
    }
    Some(start.elapsed())
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
}

async fn size(n: usize, overlay: bool) {
    let bin = env!("CARGO_BIN_EXE_testnode");
    let builder = Node::builder("o@127.0.0.1:0").cookie(COOKIE);
    let builder = match overlay {
        true => builder.overlay(actors_net::overlay::OverlayConfig::for_cluster(n)),
        false => builder,
    };
    let observer = builder.start().await.expect("starts");
    let me = observer.name().to_string();
    let size = n.to_string();
    let mode: Vec<&str> = match overlay {
        true => vec!["--overlay", &size],
        false => vec![],
    };
    // The victim holds a global name and a group member, for the kill below.
    let mut children = vec![ChildNode::start(
        bin,
        "c1@127.0.0.1:0",
        &[&me],
        &[&mode[..], &["--global", "victim", "--join", "g2"]].concat(),
    )];
    for i in 2..n - 1 {
        children.push(ChildNode::start(
            bin,
            &format!("c{i}@127.0.0.1:0"),
            &[&me],
            &mode,
        ));
    }
    let mut status: Vec<Pid<Status>> = Vec::new();
    for c in &children {
        status.push(
            observer
                .whereis_on("status", &c.name)
                .await
                .expect("status"),
        );
    }
    let _ = until(|| meshed(&observer, &status, n - 2)).await;
    // The last node: started alone, then joined by one `connect` (over the overlay, its
    // own, through the observer: a member does not reach a node outside its overlay).
    let t = Instant::now();
    let last = match overlay {
        true => ChildNode::start(bin, &format!("c{}@127.0.0.1:0", n - 1), &[&me], &mode),
        false => ChildNode::start(bin, &format!("c{}@127.0.0.1:0", n - 1), &[], &[]),
    };
    if !overlay {
        observer.connect(&last.name).await.expect("connects");
    }
    status.push(
        observer
            .whereis_on("status", &last.name)
            .await
            .expect("status"),
    );
    children.push(last);
    let mesh = until(|| meshed(&observer, &status, n - 1))
        .await
        .map(|_| t.elapsed());

    // Idle: nothing runs but what the nodes run by themselves.
    actors::rt::sleep(Duration::from_millis(500)).await;
    let window = Duration::from_secs(3);
    let frames = |o: &Node| -> (u64, u64) {
        if let Some(info) = o.overlay_info() {
            return (info.frames_in, info.bytes_in);
        }
        o.nodes()
            .iter()
            .filter_map(|p| o.connection_info(p))
            .fold((0, 0), |a, i| (a.0 + i.frames_in, a.1 + i.bytes_in))
    };
    let (f0, b0) = frames(&observer);
    let cpu0: Vec<u64> = children.iter().map(|c| cpu_ticks(c.pid())).collect();
    actors::rt::sleep(window).await;
    let (f1, b1) = frames(&observer);
    let cpu1: Vec<u64> = children.iter().map(|c| cpu_ticks(c.pid())).collect();
    let secs = window.as_secs_f64();
    let idle_frames = (f1 - f0) as f64 / secs;
    let idle_bytes = (b1 - b0) as f64 / secs;
    let cpu: f64 = cpu0
        .iter()
        .zip(&cpu1)
        .map(|(a, b)| (b - a) as f64)
        .sum::<f64>()
        / children.len() as f64
        / 100.0
        / secs
        * 100.0;
    let rss: u64 = children
        .iter()
        .map(|c| proc_field(c.pid(), "status", "VmRSS:"))
        .sum::<u64>()
        / children.len() as u64;

    // A global name and a group member from the observer, seen everywhere.
    let idle = observer.spawn(Idle);
    let t = Instant::now();
    observer
        .global()
        .register("probe", &idle)
        .await
        .expect("registers");
    let register = t.elapsed();
    let seen = until(|| {
        everywhere(
            &observer,
            &status,
            |o| o.global().whereis_any("probe").is_some(),
            |s| Box::pin(async move { s.has_global("probe".into()).await == Ok(true) }),
        )
    })
    .await
    .map(|_| t.elapsed());
    let t = Instant::now();
    observer.groups().join("g", &idle).await.expect("joins");
    let joined = until(|| {
        everywhere(
            &observer,
            &status,
            |o| o.groups().members("g").len() == 1,
            |s| Box::pin(async move { s.members("g".into()).await == Ok(1) }),
        )
    })
    .await
    .map(|_| t.elapsed());

    // SIGKILL the victim: down everywhere, its name and member gone everywhere.
    let mut victim = children.remove(0);
    status.remove(0);
    let t = Instant::now();
    victim.kill();
    let down = until(|| meshed(&observer, &status, n - 2))
        .await
        .map(|_| t.elapsed());
    let settled = until(|| {
        everywhere(
            &observer,
            &status,
            |o| o.global().whereis_any("victim").is_none() && o.groups().members("g2").is_empty(),
            |s| {
                Box::pin(async move {
                    s.has_global("victim".into()).await == Ok(false)
                        && s.members("g2".into()).await == Ok(0)
                })
            },
        )
    })
    .await
    .map(|_| t.elapsed());

    println!(
        "{n:>3} nodes{}, one OS process each | mesh {:>9} | register {:>6.2} ms, on all {:>9} | join on all {:>9} | \
         SIGKILL seen by all {:>9}, name and member gone on all {:>9} | idle, from each peer: {:.1} frames/s, {:.0} B/s | \
         per child: {cpu:.2}% CPU idle, {rss} KiB",
        if overlay { " (overlay)" } else { "" },
        ms(mesh),
        register.as_secs_f64() * 1e3,
        ms(seen),
        ms(joined),
        ms(down),
        ms(settled),
        idle_frames / (n - 1) as f64,
        idle_bytes / (n - 1) as f64,
    );
    drop(children);
    observer.shutdown().await;
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SCALE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![8, 16]);
    let overlay = std::env::var("SCALE_OVERLAY").is_ok_and(|v| v == "1");
    actors::rt::block_on(async move {
        for n in sizes {
            size(n.max(4), overlay).await;
        }
    });
}
