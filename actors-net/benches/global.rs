//! Cluster-wide names with 3 nodes over loopback: `register` latency (median, p99), early and
//! once 10,000 names are registered, and the cost of a `whereis` (a local read).
//!
//! `cargo bench -p beamish-actors-net --bench global` (unpinned), and
//! `taskset -c 0 cargo bench -p beamish-actors-net --bench global` (pinned to one CPU).

use std::time::Instant;

use actors_net::prelude::*;

mod common;
use common::{spread, three_nodes};

#[actor]
struct Named;

#[actor]
impl Named {
    #[handle]
    fn ping(&self) {}
}

fn main() {
    actors::rt::block_on(actors::rt::spawn(async {
        let nodes = three_nodes().await;
        let global = nodes[0].global();
        let register = |count: usize, offset: usize| {
            let global = &global;
            let node = nodes[0].clone();
            async move {
                let mut times = Vec::with_capacity(count);
                for i in 0..count {
                    let pid = node.spawn(Named);
                    let t = Instant::now();
                    global
                        .register(&format!("name-{}", offset + i), &pid)
                        .await
                        .unwrap();
                    times.push(t.elapsed().as_secs_f64() * 1e6);
                }
                spread(times)
            }
        };
        let (early_med, early_p99) = register(1_000, 0).await;
        let _ = register(9_000, 1_000).await;
        let (late_med, late_p99) = register(1_000, 10_000).await;
        println!(
            "register, 3 nodes: first 1,000 names: median {early_med:.0} us, p99 {early_p99:.0} us; after 10,000: median {late_med:.0} us, p99 {late_p99:.0} us"
        );

        const READS: u32 = 1_000_000;
        let other = nodes[2].global();
        let t = Instant::now();
        let mut found = 0;
        for i in 0..READS {
            if other
                .whereis::<Named>(&format!("name-{}", i % 10_000))
                .is_some()
            {
                found += 1;
            }
        }
        let with_format = t.elapsed().as_nanos() as f64 / f64::from(READS);
        let t = Instant::now();
        for _ in 0..READS {
            if other.whereis::<Named>("name-4242").is_some() {
                found += 1;
            }
        }
        let per_read = t.elapsed().as_nanos() as f64 / f64::from(READS);
        assert_eq!(found, 2 * READS);
        println!(
            "whereis, on another node than the registering one: {per_read:.0} ns per lookup ({with_format:.0} ns including formatting the name)"
        );
        for n in &nodes {
            n.shutdown().await;
        }
    }));
}
