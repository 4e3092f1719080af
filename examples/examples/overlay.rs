//! A cluster past the full mesh: 24 nodes on the partial-view overlay, each with a direct
//! connection to only a few neighbours. A call reaches a node that is not a neighbour
//! through a session relayed along the links, opened when first needed; a global name
//! registered on one node travels with that node's routing advert to all; a node that goes
//! is seen down on every node, and its name is freed.
//!
//! Run it with `cargo run --example overlay`.

use std::time::{Duration, Instant};

use actors_net::overlay::OverlayConfig;
use actors_net::prelude::*;

const NODES: usize = 24;

/// Counts what it is given.
#[actor]
struct Tally {
    total: u64,
}

#[actor]
impl Tally {
    /// Adds `n`; the new total.
    #[handle]
    fn add(&mut self, n: u64) -> u64 {
        self.total += n;
        self.total
    }
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actors::rt::sleep(Duration::from_millis(10)).await;
    }
}

fn neighbours(node: &Node) -> Vec<String> {
    node.overlay_info()
        .map(|o| o.neighbours)
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors_net::logs::init();
    actors::rt::block_on(async {
        let config = OverlayConfig::for_cluster(NODES);
        let mut nodes: Vec<Node> = Vec::new();
        for i in 0..NODES {
            let node = Node::builder(&format!("n{i}@127.0.0.1:0"))
                .cookie("overlay")
                .heartbeat(Duration::from_millis(100), 5)
                .overlay(config.clone())
                .start()
                .await?;
            // Each joins through any member: the routes tell it of all the others.
            if let Some(contact) = nodes.get(i / 2) {
                node.connect(contact.name()).await?;
            }
            nodes.push(node);
        }
        wait_for("every node to reach every other", || {
            nodes.iter().all(|n| n.nodes().len() == NODES - 1)
        })
        .await;
        wait_for("the views to settle", || {
            nodes.iter().all(|n| neighbours(n).len() <= config.active)
        })
        .await;
        let links: usize = nodes.iter().map(|n| neighbours(n).len()).sum();
        println!(
            "{NODES} nodes, each reaching every other: {:.1} direct connections per node \
             (a full mesh would need {})",
            links as f64 / NODES as f64,
            NODES - 1
        );

        let first = &nodes[0];
        let far = nodes
            .iter()
            .skip(1)
            .find(|n| !neighbours(first).iter().any(|x| x == n.name()))
            .expect("a node the first is not linked to");
        println!(
            "n0 has {} neighbours; {} is not one of them",
            neighbours(first).len(),
            far.name()
        );
        let tally = far.spawn(Tally { total: 0 });
        far.global().register("tally", &tally).await?;
        wait_for("the name to reach every node", || {
            nodes
                .iter()
                .all(|n| n.global().whereis_any("tally").is_some())
        })
        .await;
        let remote: Pid<Tally> = first.global().whereis("tally").expect("seen on n0");
        println!(
            "n0 calls the tally on {}: {}",
            far.name(),
            remote.add(40).await?
        );
        println!("and again: {}", remote.add(2).await?);
        let sessions = first.overlay_info().map_or(0, |o| o.sessions);
        println!(
            "n0 holds sessions to {sessions} of the {} nodes it reaches: those it has spoken to",
            first.nodes().len()
        );

        let name = far.name().to_string();
        let at = nodes.iter().position(|n| n.name() == name).expect("found");
        let gone = nodes.remove(at);
        gone.shutdown().await;
        wait_for("every node to see it gone", || {
            nodes.iter().all(|n| !n.nodes().contains(&name))
        })
        .await;
        wait_for("its name to be freed everywhere", || {
            nodes
                .iter()
                .all(|n| n.global().whereis_any("tally").is_none())
        })
        .await;
        println!(
            "{name} shut down: the {} others see it gone, and its name freed",
            nodes.len()
        );
        for node in nodes {
            node.shutdown().await;
        }
        Ok(())
    })
}
