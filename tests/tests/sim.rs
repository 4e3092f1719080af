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
                    actors::dist::rt::fill_random(&mut pause).unwrap();
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
            .await
            .expect("the children start");
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

/// A child that notes each start, in order, and panics on request.
#[actor]
struct Noted {
    id: &'static str,
    log: std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>,
}

#[actor]
impl Noted {
    fn started(&mut self, _ctx: &mut Ctx<Self>) {
        self.log.lock().unwrap().push(self.id);
    }

    #[handle]
    fn crash(&mut self) -> u32 {
        panic!("crashed on request")
    }
}

/// Over many seeds, children crash at random times: a rest-for-one supervisor restarts the
/// crashed child and those after it, in order; it gives up exactly when more than its
/// intensity of restarts fall within its period.
#[test]
fn supervisors_restart_in_order_and_within_their_intensity_over_many_seeds() {
    use actors::supervisor::{ChildSpec, Strategy, Supervisor};
    use std::sync::{Arc, Mutex};
    const MAX: usize = 3;
    const PERIOD: Duration = Duration::from_secs(1);
    let (mut gave_up, mut lived) = (0, 0);
    for seed in actors_net::sim::seeds(600, 40) {
        let log: Arc<Mutex<Vec<&'static str>>> = Arc::default();
        let sim = Sim::new(seed);
        let (crashes, alive) = sim.run({
            let log = log.clone();
            async move {
                let node = Node::local();
                let mut sup = Supervisor::new(Strategy::RestForOne).intensity(MAX, PERIOD);
                for id in ["a", "b", "c"] {
                    let log = log.clone();
                    sup = sup.child(
                        ChildSpec::new(id, move || Noted {
                            id,
                            log: log.clone(),
                        })
                        .name(id),
                    );
                }
                let sup = sup.start(&node).await.expect("the children start");
                assert_eq!(*log.lock().unwrap(), ["a", "b", "c"], "started in order");
                let mut crashes: Vec<(Duration, &'static str)> = Vec::new();
                for _ in 0..12 {
                    let mut r = [0u8; 2];
                    actors::dist::rt::fill_random(&mut r).unwrap();
                    actors::rt::sleep(Duration::from_millis(u64::from(r[0]) * 4)).await;
                    let id = ["a", "b", "c"][usize::from(r[1]) % 3];
                    if !node.is_alive(&sup) {
                        break;
                    }
                    if let Some(pid) = node.whereis::<Noted>(id)
                        && pid.crash().await.is_err()
                    {
                        crashes.push((actors::sim::true_now(), id));
                    }
                    // Let the supervisor act on the crash.
                    actors::rt::sleep(Duration::from_millis(1)).await;
                }
                (crashes, node.is_alive(&sup))
            }
        });
        // Each crash restarts its child and the ones after it, in order.
        let log = log.lock().unwrap().clone();
        let mut expected = vec!["a", "b", "c"];
        for (_, id) in &crashes {
            let from = ["a", "b", "c"].iter().position(|c| c == id).unwrap();
            expected.extend(&["a", "b", "c"][from..]);
        }
        if alive {
            assert_eq!(log, expected, "seed {seed}: restarts in order");
        }
        // Most restarts in any one period, against the intensity.
        let busiest = (0..crashes.len())
            .map(|i| {
                crashes[i..]
                    .iter()
                    .take_while(|(t, _)| *t < crashes[i].0 + PERIOD)
                    .count()
            })
            .max()
            .unwrap_or(0);
        if alive {
            lived += 1;
            assert!(
                busiest <= MAX,
                "seed {seed}: {busiest} restarts in a period, alive"
            );
        } else {
            gave_up += 1;
            assert!(
                busiest > MAX,
                "seed {seed}: gave up after only {busiest} in a period"
            );
        }
    }
    assert!(
        gave_up > 0 && lived > 0,
        "both outcomes were seen ({gave_up} gave up)"
    );
}
