//! How fast the simulation runs a 5-node cluster under chaos: simulated seconds per real
//! second, and seeds per minute. Each seed: connect, 30 s of faults at 2 a second with a call
//! from every node every 50 ms meanwhile, then repair and settle.
//!
//! `cargo bench -p beamish-actors-net --features sim --bench sim` (unpinned), and
//! `taskset -c 0 cargo bench -p beamish-actors-net --features sim --bench sim` (pinned).
//! `SIM_SEEDS=<n>` sets how many seeds (default 20).

use std::time::{Duration, Instant};

use actors::sim::Sim;
use actors_net::prelude::*;
use actors_net::sim::SimNodes;

#[actor]
struct Echo;

#[actor]
impl Echo {
    #[handle]
    fn echo(&self, n: u64) -> u64 {
        n
    }
}

const NODES: usize = 5;

fn names() -> Vec<String> {
    (0..NODES).map(actors_net::sim::node_name).collect()
}

/// Calls an echo on a random other node every 50 ms; returns never.
async fn caller(node: Node) {
    let peers: Vec<String> = names().into_iter().filter(|n| n != node.name()).collect();
    let mut n = 0u64;
    loop {
        let peer = &peers[(actors::sim::draw() % peers.len() as u64) as usize];
        if let Ok(echo) = node.whereis_on::<Echo>("echo", peer).await {
            n += 1;
            let _ = echo.echo(n).timeout(Duration::from_millis(500)).await;
        }
        actors::rt::sleep(Duration::from_millis(50)).await;
    }
}

fn main() {
    let seeds: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let started = Instant::now();
    let (mut virtual_time, mut steps, mut faults) = (Duration::ZERO, 0u64, 0u64);
    for seed in 0..seeds {
        let cluster = Sim::new(seed).nodes(NODES).setup(|node| async move {
            let echo = node.spawn(Echo);
            node.register("echo", &echo).expect("a free name");
            actors::rt::spawn(caller(node));
        });
        faults += cluster.run(|c| async move {
            c.connect_all().await;
            let chaos = c.chaos(2.0);
            actors::rt::sleep(Duration::from_secs(30)).await;
            let faults = chaos.stop().await;
            c.until(Duration::from_secs(30), || {
                c.up().iter().all(|&i| c.node(i).nodes().len() == NODES - 1)
            })
            .await;
            faults
        });
        virtual_time += cluster.sim().now();
        steps += cluster.sim().steps();
    }
    let real = started.elapsed();
    println!(
        "{seeds} seeds of {NODES} nodes under chaos ({faults} faults, {:.1} simulated s each)",
        virtual_time.as_secs_f64() / seeds as f64
    );
    println!(
        "simulated seconds per real second: {:.0}",
        virtual_time.as_secs_f64() / real.as_secs_f64()
    );
    println!(
        "seeds per minute: {:.0}",
        seeds as f64 * 60.0 / real.as_secs_f64()
    );
    println!(
        "scheduler steps per real second: {:.0}",
        steps as f64 / real.as_secs_f64()
    );
}
