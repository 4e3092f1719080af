//! Process groups with 3 nodes over loopback: `join` latency (it returns once this node's
//! table has the member), how long until another node lists it, how many joins a second
//! reach every node, and the cost of `members` (a local read).
//!
//! `cargo bench -p beamish-actors-net --bench groups` (unpinned), and
//! `taskset -c 0 cargo bench -p beamish-actors-net --bench groups` (pinned to one CPU).

use std::time::{Duration, Instant};

use actors_net::prelude::*;

mod common;
use common::{spread, three_nodes};

#[actor]
struct Member;

#[actor]
impl Member {
    #[handle]
    fn ping(&self) {}
}

fn main() {
    actors::rt::block_on(actors::rt::spawn(async {
        let nodes = three_nodes().await;
        // Every scope has discovered the others once a member of each is listed everywhere.
        for n in &nodes {
            n.groups().join("warm", n.spawn(Member)).await.unwrap();
        }
        while nodes.iter().any(|n| n.groups().members("warm").len() < 3) {
            actors::rt::sleep(Duration::from_millis(1)).await;
        }
        let (here, there) = (nodes[0].groups(), nodes[2].groups());

        const ROUNDS: usize = 1_000;
        let mut join = Vec::with_capacity(ROUNDS);
        let mut seen = Vec::with_capacity(ROUNDS);
        for i in 0..ROUNDS {
            let pid = nodes[0].spawn(Member);
            let group = format!("g-{i}");
            let t = Instant::now();
            here.join(&group, &pid).await.unwrap();
            join.push(t.elapsed().as_secs_f64() * 1e6);
            while there.members(&group).is_empty() {
                actors::rt::yield_now().await;
            }
            seen.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let (join_med, join_p99) = spread(join);
        let (seen_med, seen_p99) = spread(seen);
        println!(
            "join, 3 nodes: median {join_med:.1} us, p99 {join_p99:.1} us; listed on another node after median {seen_med:.0} us, p99 {seen_p99:.0} us"
        );

        const BULK: usize = 10_000;
        let pids: Vec<_> = (0..BULK).map(|_| nodes[0].spawn(Member)).collect();
        let t = Instant::now();
        for pid in &pids {
            here.join("bulk", pid).await.unwrap();
        }
        while nodes
            .iter()
            .any(|n| n.groups().members("bulk").len() < BULK)
        {
            actors::rt::yield_now().await;
        }
        let rate = BULK as f64 / t.elapsed().as_secs_f64();
        println!("{BULK} joins listed on every node: {rate:.0} joins/s");

        for (size, group) in [(3, "warm"), (BULK, "bulk")] {
            const READS: u32 = 100_000;
            let t = Instant::now();
            let mut total = 0;
            for _ in 0..READS {
                total += there.members(group).len();
            }
            assert_eq!(total, size * READS as usize);
            let per_read = t.elapsed().as_nanos() as f64 / f64::from(READS);
            println!("members of a group of {size}, on another node: {per_read:.0} ns per read");
        }
        for n in &nodes {
            n.shutdown().await;
        }
    }));
}
