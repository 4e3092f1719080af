//! The distributed supervisor, measured:
//!
//! - failover: from SIGKILL of the node a child runs on (a child OS process) to the child
//!   answering again by its global name, available and consistent;
//! - consistent register and whereis round trips through the log, at 3 and 5 voters;
//! - what a replicated child set costs an idle cluster: bytes a second between two members
//!   holding 1,000 children, against the same nodes without the supervisor.
//!
//! `cargo bench -p actors-integration --bench distributed`; the median of 5 runs is shown.

use std::time::{Duration, Instant};

use actors_integration::child::ChildNode;
use actors_integration::{Counter, cluster, free_ports, start_watchful};
use actors_net::distributed::{ChildDef, DEFAULT_MAX_CHILDREN, DistributedSupervisor, Mode};
use actors_net::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_testnode");

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

async fn answering(node: &Node) -> Option<String> {
    let c = node.global().whereis::<Counter>("job")?;
    c.get().timeout(Duration::from_millis(200)).await.ok()?;
    Some(c.node().to_string())
}

/// Starts three member processes, waits for "job" to answer, kills the node it runs on, and
/// times until it answers from another.
async fn failover(consistent: bool) -> Duration {
    let here = start_watchful("watcher").await;
    let names: Vec<String> = free_ports(3)
        .iter()
        .enumerate()
        .map(|(i, port)| format!("m{i}@127.0.0.1:{port}"))
        .collect();
    let mut members = Vec::new();
    for name in &names {
        let mut args = vec![
            "--dsup",
            "jobs",
            "--dsup-child",
            "job",
            "--heartbeat-ms",
            "200",
        ];
        if consistent {
            for v in &names {
                args.extend(["--voter", v.as_str()]);
            }
        }
        members.push(ChildNode::start(BIN, name, &[here.name()], &args));
    }
    let first = loop {
        if let Some(n) = answering(&here).await {
            break n;
        }
        actors::rt::sleep(Duration::from_millis(5)).await;
    };
    let at = names.iter().position(|n| *n == first).expect("on a member");
    let killed = Instant::now();
    members[at].kill();
    loop {
        if answering(&here).await.is_some_and(|n| n != first) {
            break;
        }
        actors::rt::sleep(Duration::from_millis(1)).await;
    }
    let took = killed.elapsed();
    here.shutdown().await;
    took
}

async fn names_latency(voters: usize) -> (Duration, Duration) {
    let nodes = cluster(voters).await;
    let names: Vec<String> = nodes.iter().map(|n| n.name().to_string()).collect();
    let mut sups = Vec::new();
    for node in &nodes {
        sups.push(
            DistributedSupervisor::start_with(
                node,
                "names",
                Mode::Consistent(names.clone()),
                DEFAULT_MAX_CHILDREN,
            )
            .await
            .expect("starts"),
        );
    }
    while sups[0].leader().await.ok().flatten().is_none() {
        actors::rt::sleep(Duration::from_millis(10)).await;
    }
    let pid = nodes[0].spawn(Counter { n: 0 });
    let (mut reg, mut read) = (Vec::new(), Vec::new());
    for i in 0..200 {
        let name = format!("n{i}");
        let t = Instant::now();
        sups[1].register_name(&name, &pid).await.expect("registers");
        reg.push(t.elapsed());
        let t = Instant::now();
        sups[1].whereis_name(&name).await.expect("reads");
        read.push(t.elapsed());
    }
    for n in &nodes {
        n.shutdown().await;
    }
    (median(reg), median(read))
}

/// Bytes a second node 0 receives from node 1 over `over`, with or without 1,000 children.
async fn idle_traffic(children: bool, over: Duration) -> f64 {
    let nodes = cluster(2).await;
    if children {
        let mut sups = Vec::new();
        for node in &nodes {
            node.allow_spawn::<Counter>();
            sups.push(
                DistributedSupervisor::start(node, "idle")
                    .await
                    .expect("starts"),
            );
        }
        for i in 0..1000 {
            sups[0]
                .start_child(ChildDef::new(format!("c{i}"), &Counter { n: 0 }).expect("encodes"))
                .await
                .expect("added");
        }
    }
    // Both ways measured once the start-up traffic (scope syncs, joins, the writes) is over.
    actors::rt::sleep(Duration::from_secs(3)).await;
    let peer = nodes[1].name().to_string();
    let before = nodes[0]
        .connection_info(&peer)
        .map(|c| c.bytes_in)
        .unwrap_or(0);
    actors::rt::sleep(over).await;
    let after = nodes[0]
        .connection_info(&peer)
        .map(|c| c.bytes_in)
        .unwrap_or(0);
    for n in &nodes {
        n.shutdown().await;
    }
    (after - before) as f64 / over.as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    actors::rt::block_on(async {
        let runs = 5;
        let mut ap = Vec::new();
        let mut cp = Vec::new();
        for _ in 0..runs {
            ap.push(failover(false).await);
            cp.push(failover(true).await);
        }
        println!(
            "failover, SIGKILL to answering again (heartbeat 200 ms; a killed node is seen at once by its closed sockets):"
        );
        println!("  available:  {:>7.1} ms", median(ap).as_secs_f64() * 1e3);
        println!(
            "  consistent: {:>7.1} ms   (an election timeout, 0.4-0.6 s, and one lease, 0.25 s)",
            median(cp).as_secs_f64() * 1e3
        );
        for voters in [3, 5] {
            let (reg, read) = names_latency(voters).await;
            println!(
                "consistent names, {voters} voters over loopback: register {:.2} ms, whereis {:.2} ms (median of 200)",
                reg.as_secs_f64() * 1e3,
                read.as_secs_f64() * 1e3
            );
        }
        let over = Duration::from_secs(10);
        let without = idle_traffic(false, over).await;
        let with = idle_traffic(true, over).await;
        println!(
            "idle traffic between two members: {without:.0} B/s without, {with:.0} B/s with 1,000 children (digests every 2 s)"
        );
    });
}
