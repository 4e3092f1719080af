//! Monitors, links and exit signals, with Erlang's rules.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actors::prelude::*;
use actors::rt::block_on;

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Down(Down),
    Exit(Exit),
}

type Log = Arc<Mutex<Vec<Event>>>;

/// A process that does what the test asks and records the signals it sees.
#[actor]
struct Probe {
    log: Log,
}

#[actor(local)]
impl Probe {
    fn on_down(&mut self, down: Down) {
        self.log.lock().unwrap().push(Event::Down(down));
    }
    fn on_exit(&mut self, exit: Exit) {
        self.log.lock().unwrap().push(Event::Exit(exit));
    }
    #[handle]
    fn watch(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) -> MonitorRef {
        ctx.monitor(pid)
    }
    #[handle]
    fn unwatch(&mut self, r: MonitorRef, ctx: &mut Ctx<Self>) -> bool {
        ctx.demonitor(r)
    }
    #[handle]
    fn link_to(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) {
        ctx.link(pid)
    }
    #[handle]
    fn unlink_from(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) {
        ctx.unlink(pid)
    }
    #[handle]
    fn trap(&mut self, on: bool, ctx: &mut Ctx<Self>) {
        ctx.trap_exit(on)
    }
    #[handle]
    fn stop_with(&mut self, reason: ExitReason, ctx: &mut Ctx<Self>) {
        ctx.stop(reason)
    }
    #[handle]
    fn explode(&mut self) {
        panic!("exploded")
    }
    #[handle]
    fn spawn_linked(&mut self, ctx: &mut Ctx<Self>) -> Pid<Probe> {
        ctx.spawn_link(Probe {
            log: Arc::new(Mutex::new(Vec::new())),
        })
    }
    #[handle]
    fn kill_it(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) {
        ctx.kill(pid)
    }
    #[handle]
    fn ping(&self) -> u32 {
        1
    }
}

fn probe(node: &Node) -> (Pid<Probe>, Log) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    (node.spawn(Probe { log: log.clone() }), log)
}

/// Waits, within a bound, until the log holds `n` events.
async fn events(log: &Log, n: usize) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = log.lock().unwrap().clone();
        if seen.len() >= n {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "waited 5 s for {n} events, saw {seen:?}"
        );
        actors::rt::sleep(Duration::from_millis(2)).await;
    }
}

fn down_reasons(events: &[Event]) -> Vec<ExitReason> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Down(d) => Some(d.reason.clone()),
            Event::Exit(_) => None,
        })
        .collect()
}

#[test]
fn down_carries_the_exit_reason() {
    block_on(async {
        let node = Node::local();
        let (watcher, log) = probe(&node);
        type End = fn(&Node, &Pid<Probe>);
        let cases: Vec<(ExitReason, End)> = vec![
            (ExitReason::Normal, |_, p| {
                let p = p.clone();
                actors::rt::spawn(async move { p.stop_with(ExitReason::Normal).await });
            }),
            (ExitReason::Panic("exploded".into()), |_, p| {
                let p = p.clone();
                actors::rt::spawn(async move { p.explode().await });
            }),
            (ExitReason::Killed, |n, p| n.kill(p)),
            (ExitReason::Error("bad".into()), |n, p| {
                n.exit(p, ExitReason::Error("bad".into()))
            }),
        ];
        let mut expected = Vec::new();
        for (i, (reason, end)) in cases.into_iter().enumerate() {
            let (target, _) = probe(&node);
            let r = watcher.watch(target.any()).await.expect("monitor");
            end(&node, &target);
            let seen = events(&log, i + 1).await;
            match &seen[i] {
                Event::Down(d) => {
                    assert_eq!(d.monitor_ref, r);
                    assert_eq!(d.pid, target.any());
                }
                other => panic!("expected a Down, got {other:?}"),
            }
            expected.push(reason);
        }
        assert_eq!(down_reasons(&events(&log, 4).await), expected);
    });
}

#[test]
fn monitoring_a_dead_process_gives_noproc_at_once() {
    block_on(async {
        let node = Node::local();
        let (watcher, log) = probe(&node);
        let (target, _) = probe(&node);
        let down = node.monitor(&target);
        node.kill(&target);
        down.await;
        watcher.watch(target.any()).await.expect("monitor");
        assert_eq!(
            down_reasons(&events(&log, 1).await),
            vec![ExitReason::NoProc]
        );
        // Outside an actor too.
        assert_eq!(node.monitor(&target).await.reason, ExitReason::NoProc);
    });
}

#[test]
fn each_monitor_is_independent_and_demonitor_silences_it() {
    block_on(async {
        let node = Node::local();
        let (watcher, log) = probe(&node);
        let (target, _) = probe(&node);
        let first = watcher.watch(target.any()).await.unwrap();
        let second = watcher.watch(target.any()).await.unwrap();
        let third = watcher.watch(target.any()).await.unwrap();
        assert_ne!(first, second);
        assert!(watcher.unwatch(second).await.unwrap());
        assert!(!watcher.unwatch(second).await.unwrap(), "already removed");
        let info = node.process_info(&target).await.expect("alive");
        assert_eq!(info.monitored_by, 2);
        let down = node.monitor(&target);
        target.stop_with(ExitReason::Normal).await.unwrap();
        down.await;
        let seen = events(&log, 2).await;
        let refs: Vec<MonitorRef> = seen
            .iter()
            .filter_map(|e| match e {
                Event::Down(d) => Some(d.monitor_ref),
                Event::Exit(_) => None,
            })
            .collect();
        assert_eq!(refs.len(), 2);
        assert!(refs.contains(&first) && refs.contains(&third));
        // Exactly once: nothing more arrives.
        assert_eq!(watcher.ping().await, Ok(1));
        assert_eq!(log.lock().unwrap().len(), 2);
        assert!(
            node.process_info(&watcher)
                .await
                .unwrap()
                .monitors
                .is_empty()
        );
    });
}

#[test]
fn demonitor_outside_an_actor() {
    block_on(async {
        let node = Node::local();
        let (target, _) = probe(&node);
        let handle = node.monitor(&target);
        handle.demonitor();
        let deadline = Instant::now() + Duration::from_secs(5);
        while node.process_info(&target).await.unwrap().monitored_by != 0 {
            assert!(Instant::now() < deadline);
            actors::rt::sleep(Duration::from_millis(2)).await;
        }
    });
}

#[test]
fn an_exit_travels_down_a_chain_of_links() {
    block_on(async {
        let node = Node::local();
        let (a, _) = probe(&node);
        let (b, _) = probe(&node);
        let (c, _) = probe(&node);
        a.link_to(b.any()).await.unwrap();
        b.link_to(c.any()).await.unwrap();
        let downs = [node.monitor(&a), node.monitor(&b), node.monitor(&c)];
        c.stop_with(ExitReason::Error("c failed".into()))
            .await
            .unwrap();
        for d in downs {
            assert_eq!(d.await.reason, ExitReason::Error("c failed".into()));
        }
        assert_eq!(node.process_count(), 0);
    });
}

#[test]
fn a_normal_exit_does_not_travel_a_link() {
    block_on(async {
        let node = Node::local();
        let (a, _) = probe(&node);
        let (b, _) = probe(&node);
        a.link_to(b.any()).await.unwrap();
        let down = node.monitor(&b);
        b.stop_with(ExitReason::Normal).await.unwrap();
        down.await;
        assert_eq!(a.ping().await, Ok(1));
        assert!(node.process_info(&a).await.unwrap().links.is_empty());
    });
}

#[test]
fn trapping_turns_an_exit_signal_into_a_message() {
    block_on(async {
        let node = Node::local();
        let (a, log) = probe(&node);
        let (b, _) = probe(&node);
        a.trap(true).await.unwrap();
        a.link_to(b.any()).await.unwrap();
        let down = node.monitor(&b);
        let _ = b.explode().await;
        down.await;
        let seen = events(&log, 1).await;
        assert_eq!(
            seen[0],
            Event::Exit(Exit {
                from: b.any(),
                reason: ExitReason::Panic("exploded".into())
            })
        );
        assert_eq!(a.ping().await, Ok(1), "a trapping process survives");
        // A normal exit reaches a trapping process too.
        let (c, _) = probe(&node);
        a.link_to(c.any()).await.unwrap();
        c.stop_with(ExitReason::Normal).await.unwrap();
        let seen = events(&log, 2).await;
        assert_eq!(
            seen[1],
            Event::Exit(Exit {
                from: c.any(),
                reason: ExitReason::Normal
            })
        );
    });
}

#[test]
fn kill_cannot_be_trapped_but_killed_can() {
    block_on(async {
        let node = Node::local();
        let (a, _) = probe(&node);
        let (partner, log) = probe(&node);
        a.trap(true).await.unwrap();
        partner.trap(true).await.unwrap();
        partner.link_to(a.any()).await.unwrap();
        let down = node.monitor(&a);
        partner.kill_it(a.any()).await.unwrap();
        assert_eq!(down.await.reason, ExitReason::Killed);
        // The linked partner gets `Killed` as an ordinary, trappable exit reason.
        let seen = events(&log, 1).await;
        assert_eq!(
            seen[0],
            Event::Exit(Exit {
                from: a.any(),
                reason: ExitReason::Killed
            })
        );
        assert_eq!(partner.ping().await, Ok(1));
    });
}

#[test]
fn linking_to_a_dead_process_gives_noproc_and_no_link() {
    block_on(async {
        let node = Node::local();
        let (dead, _) = probe(&node);
        let down = node.monitor(&dead);
        node.kill(&dead);
        down.await;

        let (trapper, log) = probe(&node);
        trapper.trap(true).await.unwrap();
        trapper.link_to(dead.any()).await.unwrap();
        let seen = events(&log, 1).await;
        assert_eq!(
            seen[0],
            Event::Exit(Exit {
                from: dead.any(),
                reason: ExitReason::NoProc
            })
        );
        assert!(node.process_info(&trapper).await.unwrap().links.is_empty());

        let (plain, _) = probe(&node);
        let down = node.monitor(&plain);
        plain.link_to(dead.any()).await.unwrap();
        assert_eq!(down.await.reason, ExitReason::NoProc);
    });
}

#[test]
fn unlink_removes_the_link_on_both_sides() {
    block_on(async {
        let node = Node::local();
        let (a, _) = probe(&node);
        let (b, _) = probe(&node);
        a.link_to(b.any()).await.unwrap();
        assert_eq!(node.process_info(&b).await.unwrap().links, vec![a.any()]);
        a.unlink_from(b.any()).await.unwrap();
        assert!(node.process_info(&a).await.unwrap().links.is_empty());
        assert!(node.process_info(&b).await.unwrap().links.is_empty());
        let down = node.monitor(&b);
        let _ = b.explode().await;
        down.await;
        assert_eq!(a.ping().await, Ok(1));
    });
}

#[test]
fn spawn_link_links_before_the_child_runs() {
    block_on(async {
        let node = Node::local();
        let (parent, _) = probe(&node);
        let child = parent.spawn_linked().await.unwrap();
        assert_eq!(
            node.process_info(&child).await.unwrap().links,
            vec![parent.any()]
        );
        assert_eq!(
            node.process_info(&parent).await.unwrap().links,
            vec![child.any()]
        );
        let down = node.monitor(&parent);
        node.exit(&child, ExitReason::Error("child".into()));
        assert_eq!(down.await.reason, ExitReason::Error("child".into()));
    });
}

#[test]
fn process_info_of_a_dead_process_is_none() {
    block_on(async {
        let node = Node::local();
        let (p, _) = probe(&node);
        let down = node.monitor(&p);
        node.kill(&p);
        down.await;
        assert_eq!(node.process_info(&p).await, None);
    });
}

/// A counter whose state a test reads and changes from outside.
#[actor]
struct Tally {
    n: u64,
}

#[actor(local)]
impl Tally {
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    #[handle(cast)]
    fn bump(&mut self) {
        self.n += 1;
    }
}

#[test]
fn with_state_reads_and_changes_a_process_between_its_messages() {
    block_on(async {
        let node = Node::local();
        let tally = node.spawn(Tally { n: 0 });
        tally.bump().unwrap();
        tally.bump().unwrap();
        // Behind the casts in the mailbox: the state it sees has their effect.
        assert_eq!(node.with_state(&tally, |t| t.n).await, Some(2));
        assert_eq!(node.with_state(&tally, |t| t.n = 40).await, Some(()));
        assert_eq!(tally.add(2).await, Ok(42));
        // Of a type known at run time, then stopping the process before its next message.
        let read = node
            .with_state_then(tally.any(), true, |s| {
                s.downcast_mut::<Tally>().map(|t| t.n)
            })
            .await;
        assert_eq!(read, Some(Some(42)));
        // Ended before its next message: a call finds it ending, or gone.
        assert!(matches!(
            tally.add(1).await,
            Err(CallError::NoProc | CallError::Exited(ExitReason::Shutdown))
        ));
        assert_eq!(
            node.with_state(&tally, |t| t.n).await,
            None,
            "a dead process"
        );
    });
}
