//! Whole clusters in the simulation (`actors_net::sim`): real nodes over a simulated network,
//! in virtual time, each run replayable from its seed (`SIM_SEED=<n>`; `SIM_SEEDS=<k>` runs
//! more seeds).

use std::time::Duration;

use actors::sim::Sim;
use actors_integration::Counter;
use actors_net::prelude::*;
use actors_net::sim::{SimNodes, seeds};

/// Three nodes; one calls a counter on another ten times. Returns (trace hash, steps, total).
fn three_nodes_call_each_other(seed: u64) -> (u64, u64, u64) {
    let sim = Sim::new(seed).nodes(3);
    let total = sim.run(|cluster| async move {
        cluster.connect_all().await;
        cluster
            .on(1, |n1| async move {
                let c = n1.spawn(Counter { n: 0 });
                n1.register("c", &c).unwrap();
            })
            .await
            .expect("node 1 runs");
        let name1 = cluster.name(1);
        cluster
            .on(2, move |n2| async move {
                let c: Pid<Counter> = n2.whereis_on("c", &name1).await.unwrap();
                let mut last = 0;
                for _ in 0..10 {
                    last = c.add(1).await.unwrap();
                }
                last
            })
            .await
            .expect("node 2 runs")
    });
    (sim.sim().trace_hash(), sim.sim().steps(), total)
}

#[test]
fn simulated_nodes_connect_and_call_and_one_seed_replays_event_for_event() {
    let (hash, steps, total) = three_nodes_call_each_other(1);
    assert_eq!(total, 10);
    assert_eq!(three_nodes_call_each_other(1), (hash, steps, total));
    assert_ne!(
        three_nodes_call_each_other(2).0,
        hash,
        "another seed, another interleaving"
    );
}

/// Five nodes under chaos for 30 virtual seconds; then the faults end. Returns the trace hash
/// and the number of faults.
fn chaos_then_mesh(seed: u64) -> (u64, u64) {
    let sim = Sim::new(seed).keep_events(500).nodes(5);
    let faults = sim.run(|cluster| async move {
        cluster.connect_all().await;
        let chaos = cluster.chaos(2.0);
        actors::rt::sleep(Duration::from_secs(30)).await;
        let faults = chaos.stop().await;
        let mesh = cluster
            .until(Duration::from_secs(30), || {
                cluster
                    .up()
                    .iter()
                    .all(|&i| cluster.node(i).nodes().len() == cluster.len() - 1)
            })
            .await;
        if !mesh {
            for i in cluster.up() {
                eprintln!("{} sees {:?}", cluster.name(i), cluster.node(i).nodes());
            }
        }
        assert!(
            mesh,
            "every node sees every other again after the faults end"
        );
        faults
    });
    (sim.sim().trace_hash(), faults)
}

#[test]
fn after_chaos_every_node_sees_every_other_again() {
    for seed in seeds(1, 20) {
        let (_, faults) = chaos_then_mesh(seed);
        assert!(
            faults > 20,
            "seed {seed}: the chaos did happen ({faults} faults)"
        );
    }
}

#[test]
fn a_chaos_run_replays_from_its_seed() {
    assert_eq!(chaos_then_mesh(77), chaos_then_mesh(77));
}

/// Each fault is seen as on real machines: a killed node at once (its connections reset), a
/// frozen one once its heartbeats are missed, a partition likewise; and each heals.
#[test]
fn faults_are_seen_as_on_real_machines_and_heal() {
    Sim::new(5).nodes(3).run(|cluster| async move {
        cluster.connect_all().await;
        let sees = |i: usize, j: usize| {
            cluster
                .try_node(i)
                .is_some_and(|n| n.nodes().contains(&cluster.name(j)))
        };
        // Killed: its peers see it go within a few latencies.
        let start = actors::sim::true_now();
        cluster.kill(2);
        assert!(
            cluster
                .until(Duration::from_secs(1), || !sees(0, 2) && !sees(1, 2))
                .await
        );
        assert!(actors::sim::true_now() - start < Duration::from_millis(100));
        // Restarted: a new creation, and its peers reach it again by themselves.
        let before = cluster.name(2);
        let n2 = cluster.restart(2).await;
        assert_eq!(n2.name(), before);
        assert!(
            cluster
                .until(Duration::from_secs(10), || sees(0, 2) && sees(1, 2))
                .await
        );
        // Frozen: seen down after the missed heartbeats (5 x 500 ms), back after the thaw.
        let start = actors::sim::true_now();
        cluster.freeze(1);
        assert!(cluster.until(Duration::from_secs(5), || !sees(0, 1)).await);
        let seen = actors::sim::true_now() - start;
        assert!(
            seen >= Duration::from_millis(2000) && seen < Duration::from_millis(3600),
            "{seen:?}"
        );
        cluster.thaw(1);
        assert!(
            cluster
                .until(Duration::from_secs(10), || sees(0, 1) && sees(1, 0))
                .await
        );
        // A partition: both sides see the other go; after the heal, all meet again.
        cluster.partition(&[0], &[1, 2]);
        assert!(
            cluster
                .until(Duration::from_secs(5), || !sees(0, 1) && !sees(2, 0))
                .await
        );
        cluster.heal();
        assert!(
            cluster
                .until(Duration::from_secs(10), || (0..3)
                    .all(|i| (0..3).all(|j| i == j || sees(i, j))))
                .await
        );
        // A node whose clock runs 10% fast measures ten seconds in about nine.
        cluster.drift(0, 100_000);
        let t = cluster
            .on(0, |_| async {
                let start = actors::sim::true_now();
                actors::rt::sleep(Duration::from_secs(10)).await;
                actors::sim::true_now() - start
            })
            .await
            .unwrap();
        assert!(
            t > Duration::from_millis(9000) && t < Duration::from_millis(9200),
            "{t:?}"
        );
    });
}
