//! Nodes on the partial-view overlay in the simulation (`actors_net::sim`): real nodes over a
//! simulated network with latencies drawn from the seed, in virtual time. Global names and
//! process groups work across the overlay, and keep working when a tenth of the nodes are
//! killed at once (`SIM_SEEDS=<k>` runs more seeds, `SIM_SEED=<n>` one).

use std::time::Duration;

use actors::sim::Sim;
use actors_integration::Counter;
use actors_net::overlay::OverlayConfig;
use actors_net::prelude::*;
use actors_net::sim::{SimNodes, seeds};

fn names_and_groups_over_the_overlay(seed: u64, nodes: usize) {
    let sim = Sim::new(seed).nodes(nodes).configure(move |b| {
        b.heartbeat(Duration::from_millis(100), 5)
            .overlay(OverlayConfig::for_cluster(nodes))
    });
    sim.run(|cluster| async move {
        // Each joins through a node before it.
        for i in 1..nodes {
            let contact = cluster.name(i / 2);
            cluster
                .on(i, move |node| async move {
                    node.connect(&contact).await.expect("joins the overlay");
                })
                .await
                .expect("the node runs");
        }
        let all_reached = |want: usize| {
            let cluster = &cluster;
            move || {
                cluster
                    .up()
                    .iter()
                    .all(|&i| cluster.node(i).nodes().len() == want)
            }
        };
        assert!(
            cluster
                .until(Duration::from_secs(30), all_reached(nodes - 1))
                .await,
            "every node reaches every other over the overlay"
        );
        let most = OverlayConfig::for_cluster(nodes).active;
        assert!(
            cluster
                .until(Duration::from_secs(30), || {
                    cluster.up().iter().all(|&i| {
                        cluster
                            .node(i)
                            .overlay_info()
                            .is_some_and(|o| o.neighbours.len() <= most)
                    })
                })
                .await,
            "each node keeps at most {most} links once the views settle"
        );

        // A name on one node, a member on another, and one on a node about to be killed.
        // Kills below take every tenth node from the sixth on: the second node stays.
        let (keep, lose) = (1, 5);
        for (i, name) in [(keep, "kept"), (lose, "lost")] {
            cluster
                .on(i, move |node| async move {
                    let pid = node.spawn(Counter { n: 0 });
                    node.global().register(name, &pid).await.expect("registers");
                    node.groups().join(name, &pid).await.expect("joins");
                })
                .await
                .expect("the node runs");
        }
        let everywhere = |name: &'static str, members: usize, named: bool| {
            let cluster = &cluster;
            move || {
                cluster.up().iter().all(|&i| {
                    let node = cluster.node(i);
                    node.global().whereis_any(name).is_some() == named
                        && node.groups().members(name).len() == members
                })
            }
        };
        assert!(
            cluster
                .until(Duration::from_secs(10), everywhere("kept", 1, true))
                .await
                && cluster
                    .until(Duration::from_secs(10), everywhere("lost", 1, true))
                    .await,
            "the names and members are on every node"
        );

        // A tenth of the nodes killed at once, the holder of "lost" among them.
        for i in (lose..nodes).step_by(10) {
            cluster.kill(i);
        }
        let left = cluster.up().len();
        assert!(
            cluster
                .until(Duration::from_secs(30), all_reached(left - 1))
                .await,
            "the others see the killed nodes go and still reach each other"
        );
        assert!(
            cluster
                .until(Duration::from_secs(10), everywhere("lost", 0, false))
                .await,
            "the killed node's name and member are gone everywhere"
        );
        // The others' names and members stay (they travel in notes, not over sessions).
        assert!(
            cluster
                .until(Duration::from_secs(10), everywhere("kept", 1, true))
                .await,
            "the others' names and members are on every node"
        );
    });
}

#[test]
fn names_and_groups_work_over_a_simulated_overlay_and_outlive_killed_nodes() {
    for seed in seeds(1, 2) {
        names_and_groups_over_the_overlay(seed, 48);
    }
}

/// The same at 256 nodes (or `SIM_OVERLAY_NODES`): every join floods the routes and each
/// node searches its paths again, so the run grows faster than the square of the nodes
/// (about a minute of a release build at 256, on one core).
#[test]
#[ignore = "a minute in a release build: cargo test --release -p actors-integration --test sim_overlay -- --ignored"]
fn names_and_groups_work_over_a_simulated_overlay_of_256_nodes() {
    let nodes = std::env::var("SIM_OVERLAY_NODES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    names_and_groups_over_the_overlay(1, nodes);
}
