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
