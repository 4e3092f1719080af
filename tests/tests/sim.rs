//! The simulated runtime (`actors::sim`): processes, calls, timers and supervisors run on one
//! thread in virtual time, each choice drawn from a seed, so a run replays step for step.

use std::time::{Duration, Instant};

use actors::sim::Sim;
use actors_integration::{Collector, Counter};
use actors_net::prelude::*;

#[test]
fn an_hour_of_timers_takes_milliseconds() {
    let started = Instant::now();
    let sim = Sim::new(1);
    let (late, timed_out) = sim.run(async {
        let node = Node::local();
        let counter = node.spawn(Counter { n: 5 });
        // A call whose handler takes 40 virtual minutes, with a timeout of 30.
        let before = actors::rt::now();
        let slow = counter
            .slow(40 * 60 * 1000)
            .timeout(Duration::from_secs(30 * 60))
            .await;
        let waited = actors::rt::elapsed(before);
        // And a plain hour of sleep.
        actors::rt::sleep(Duration::from_secs(3600)).await;
        (waited, slow)
    });
    assert_eq!(timed_out, Err(CallError::Timeout));
    // The timeout fires on its coarse sweep: never early, at most two sweeps late.
    assert!(late >= Duration::from_secs(30 * 60) && late < Duration::from_secs(30 * 60 + 1));
    assert!(sim.now() >= Duration::from_secs(30 * 60 + 3600));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "virtual time, not real: {:?}",
        started.elapsed()
    );
}

/// Five senders casting numbered messages to one collector, with random pauses between: the
/// interleaving depends on the seed.
fn scenario(seed: u64) -> (u64, u64, (u64, u64)) {
    let sim = Sim::new(seed);
    let report = sim.run(async {
        let node = Node::local();
        let collector = node.spawn(Collector::default());
        let mut senders = Vec::new();
        for sender in 0..5u32 {
            let collector = collector.clone();
            senders.push(actors::rt::spawn(async move {
                for seq in 0..50u64 {
                    collector.push(sender, seq).unwrap();
                    let mut pause = [0u8; 1];
                    actors::rt::fill_random(&mut pause).unwrap();
                    actors::rt::sleep(Duration::from_micros(u64::from(pause[0]))).await;
                }
            }));
        }
        for s in senders {
            s.await;
        }
        collector.report().await.unwrap()
    });
    (sim.trace_hash(), sim.steps(), report)
}

#[test]
fn the_same_seed_gives_the_same_run_step_for_step() {
    let (hash, steps, report) = scenario(42);
    assert_eq!(report, (0, 250), "each sender's order kept, nothing lost");
    assert_eq!(scenario(42), (hash, steps, report));
    let others: Vec<u64> = (43..47).map(|seed| scenario(seed).0).collect();
    assert!(
        others.iter().any(|h| *h != hash),
        "other seeds choose other interleavings"
    );
}

#[test]
fn a_supervisor_restarts_within_its_intensity_in_virtual_time() {
    use actors::supervisor::{ChildSpec, Strategy, Supervisor};
    let sim = Sim::new(9);
    let (first, second, alive) = sim.run(async {
        let node = Node::local();
        let sup = Supervisor::new(Strategy::OneForOne)
            .intensity(3, Duration::from_secs(5))
            .child(ChildSpec::new("c", || Counter { n: 0 }).name("c"))
            .start(&node)
            .await;
        let first: Pid<Counter> = node.whereis("c").unwrap();
        let _ = first.crash().await;
        // Restarted at once; a crash every two virtual seconds stays within 3 in 5 s.
        for _ in 0..5 {
            actors::rt::sleep(Duration::from_secs(2)).await;
            let current: Pid<Counter> = node.whereis("c").unwrap();
            let _ = current.crash().await;
        }
        actors::rt::sleep(Duration::from_millis(10)).await;
        let second: Pid<Counter> = node.whereis("c").unwrap();
        (first, second, node.is_alive(&sup))
    });
    assert_ne!(first, second);
    assert!(alive, "within its intensity, the supervisor lives on");
    assert!(sim.now() >= Duration::from_secs(10));
}
