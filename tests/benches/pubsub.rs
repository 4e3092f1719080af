//! PubSub and Presence figures, nodes over loopback in one OS process:
//!
//! - broadcast throughput to 1, 100 and 10,000 subscribers spread over two other nodes, with
//!   the frames each node received per broadcast (one: the fan-out is per node);
//! - presence convergence after a partition heals, at 8 and 32 nodes: from the heal until
//!   every node lists every presence;
//! - heap bytes per tracked presence, on the node that tracks them.
//!
//! `cargo bench -p actors-integration --bench pubsub`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actors_integration::{cluster, heal, partition};
use actors_net::prelude::*;
use actors_net::presence::Presence;
use actors_net::pubsub::Topic;
use futures::StreamExt;

/// Counts live heap bytes, for the cost of a presence.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// (broadcasts a second, deliveries a second, frames per receiving node per broadcast)
async fn broadcast(subscribers: usize, broadcasts: usize) -> (f64, f64, f64) {
    let nodes = cluster(3).await;
    let topic: Topic<u64> = Topic::new("bench");
    let got = Arc::new(AtomicUsize::new(0));
    let mut subs = Vec::new();
    for i in 0..subscribers {
        let node = &nodes[1 + i % 2];
        subs.push(node.pubsub().subscribe(&topic).await.expect("subscribes"));
    }
    for mut sub in subs {
        let got = got.clone();
        actors::rt::spawn(async move {
            while sub.next().await.is_some() {
                got.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let receivers = if subscribers == 1 { 1 } else { 2 };
    while nodes[0].pubsub().nodes(&topic).len() < receivers {
        actors::rt::sleep(Duration::from_millis(5)).await;
    }
    let frames = |n: &Node| {
        n.connection_info(nodes[0].name())
            .map_or(0, |c| c.frames_in)
    };
    let before: u64 = nodes[1..].iter().map(frames).sum();
    let want = subscribers * broadcasts;
    let start = Instant::now();
    for i in 0..broadcasts {
        nodes[0]
            .pubsub()
            .broadcast(&topic, i as u64)
            .expect("broadcasts");
    }
    while got.load(Ordering::Relaxed) < want {
        actors::rt::sleep(Duration::from_micros(200)).await;
    }
    let took = start.elapsed().as_secs_f64();
    let sent: u64 = nodes[1..].iter().map(frames).sum::<u64>() - before;
    for n in &nodes {
        n.shutdown().await;
    }
    (
        broadcasts as f64 / took,
        want as f64 / took,
        sent as f64 / (broadcasts * receivers) as f64,
    )
}

/// Time from a heal until every one of `n` nodes lists every presence, after a split into
/// halves during which each node tracked a second presence.
async fn convergence(n: usize) -> Duration {
    let nodes = cluster(n).await;
    let topic: Topic<String> = Topic::new("online");
    let mut ps = Vec::new();
    for node in &nodes {
        ps.push(Presence::start(node).await.expect("starts"));
    }
    for (i, p) in ps.iter().enumerate() {
        let pid = nodes[i].spawn(actors_integration::Counter { n: 0 });
        p.track(&topic, &format!("first-{i}"), &pid, String::new())
            .await
            .expect("tracks");
    }
    let listed = |want: usize| ps.iter().all(|p| p.list(&topic).len() == want);
    while !listed(n) {
        actors::rt::sleep(Duration::from_millis(2)).await;
    }
    let (left, right) = nodes.split_at(n / 2);
    let sides = [left.to_vec(), right.to_vec()];
    partition(&sides).await;
    for (i, p) in ps.iter().enumerate() {
        let pid = nodes[i].spawn(actors_integration::Counter { n: 0 });
        p.track(&topic, &format!("second-{i}"), &pid, String::new())
            .await
            .expect("tracks");
    }
    let healed = Instant::now();
    heal(&sides).await;
    while !listed(2 * n) {
        actors::rt::sleep(Duration::from_millis(1)).await;
    }
    let took = healed.elapsed();
    for node in &nodes {
        node.shutdown().await;
    }
    took
}

/// Heap bytes per presence tracked on one node (one process under many keys).
async fn bytes_per_presence(count: usize) -> f64 {
    let nodes = cluster(1).await;
    let p = Presence::start(&nodes[0]).await.expect("starts");
    let topic: Topic<String> = Topic::new("many");
    let pid = nodes[0].spawn(actors_integration::Counter { n: 0 });
    // Warm up the tables, then count.
    p.track(&topic, "warm", &pid, String::new())
        .await
        .expect("tracks");
    let before = LIVE.load(Ordering::Relaxed);
    for i in 0..count {
        p.track(&topic, &format!("user-{i:06}"), &pid, String::new())
            .await
            .expect("tracks");
    }
    actors::rt::sleep(Duration::from_millis(300)).await;
    let after = LIVE.load(Ordering::Relaxed);
    nodes[0].shutdown().await;
    (after - before) as f64 / count as f64
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    actors::rt::block_on(async {
        for (subscribers, broadcasts) in [(1, 20_000), (100, 2_000), (10_000, 50)] {
            let (per_s, deliveries, frames) = broadcast(subscribers, broadcasts).await;
            println!(
                "broadcast to {subscribers:>6} subscribers on 2 nodes: {per_s:>9.0} broadcasts/s, {deliveries:>10.0} deliveries/s, {frames:.2} frames per node per broadcast"
            );
        }
        for n in [8, 32] {
            let took = convergence(n).await;
            println!(
                "presence convergence after a heal, {n} nodes: {:.0} ms",
                took.as_secs_f64() * 1e3
            );
        }
        println!(
            "heap per tracked presence: {:.0} B",
            bytes_per_presence(10_000).await
        );
    });
}
