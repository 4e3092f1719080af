//! Processes and nodes: panics, names, hooks and timers, shutdown, streams, pids.

use super::*;

#[test]
fn a_panic_ends_only_that_process() {
    block_on(async {
        let node = Node::local();
        let victim = node.spawn(Counter { n: 0 });
        let bystander = node.spawn(Counter { n: 10 });
        let down = node.monitor(&victim);
        let r = victim.boom("kaboom".into()).await;
        assert_eq!(
            r,
            Err(CallError::Exited(ExitReason::Panic("kaboom".into())))
        );
        assert_eq!(down.await.reason, ExitReason::Panic("kaboom".into()));
        assert_eq!(bystander.add(1).await, Ok(11));
        assert_eq!(victim.get().await, Err(CallError::NoProc));
        assert_eq!(node.process_count(), 1);
    });
}

#[test]
fn names_are_freed_when_their_process_ends() {
    block_on(async {
        let node = Node::local();
        let first = node.spawn(Counter { n: 1 });
        node.register("counter", &first).expect("free name");
        let found: Pid<Counter> = node.whereis("counter").expect("registered");
        assert_eq!(found, first);
        assert_eq!(found.get().await, Ok(1));

        let second = node.spawn(Counter { n: 2 });
        assert_eq!(
            node.register("counter", &second),
            Err(RegisterError::NameTaken("counter".into()))
        );
        assert_eq!(
            node.register("other", &first),
            Err(RegisterError::AlreadyNamed("counter".into()))
        );

        let down = node.monitor(&first);
        first.quit(ExitReason::Normal).await.expect("stops");
        down.await;
        assert!(node.whereis_any("counter").is_none());
        node.register("counter", &second).expect("freed name");
        assert_eq!(node.registered(), vec!["counter".to_string()]);
        assert_eq!(node.register("again", &first), Err(RegisterError::NoProc));
        assert!(node.unregister("counter"));
        assert!(!node.unregister("counter"));
        // Unregistered, the process may take a name again.
        node.register("renamed", &second).expect("unnamed process");
    });
}

#[test]
fn whereis_checks_the_actor_type() {
    block_on(async {
        let node = Node::local();
        let c = node.spawn(Counter { n: 0 });
        node.register("c", &c).expect("free");
        assert!(node.whereis::<Collector>("c").is_none());
        assert!(node.whereis::<Counter>("c").is_some());
        assert!(c.any().downcast::<Collector>().is_none());
    });
}

#[test]
fn ten_thousand_processes_each_called_once() {
    block_on(async {
        let node = Node::local();
        let pids: Vec<Pid<Counter>> = (0..10_000).map(|i| node.spawn(Counter { n: i })).collect();
        assert_eq!(node.process_count(), 10_000);
        for (i, pid) in pids.iter().enumerate() {
            assert_eq!(pid.add(1).await, Ok(i as u64 + 1));
        }
        node.shutdown().await;
        assert_eq!(node.process_count(), 0);
        assert_eq!(pids[0].get().await, Err(CallError::NoProc));
    });
}

#[actor]
struct Lifecycle {
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

#[actor]
impl Lifecycle {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        self.log.lock().unwrap().push("started".into());
        ctx.send_after(Duration::from_millis(10), |me| me.tick());
    }
    async fn stopped(&mut self, reason: &ExitReason) {
        self.log.lock().unwrap().push(format!("stopped: {reason}"));
    }
    #[handle(cast)]
    fn tick(&mut self, ctx: &mut Ctx<Self>) {
        self.log.lock().unwrap().push("tick".into());
        ctx.stop(ExitReason::Normal);
    }
}

#[test]
fn hooks_and_timers_run_in_order() {
    block_on(async {
        let node = Node::local();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let pid = node.spawn(Lifecycle { log: log.clone() });
        let down = node.monitor(&pid);
        assert_eq!(down.await.reason, ExitReason::Normal);
        assert_eq!(
            *log.lock().unwrap(),
            vec!["started", "tick", "stopped: normal"]
        );
    });
}

#[test]
fn shutdown_stops_every_process_with_shutdown() {
    block_on(async {
        let node = Node::local();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stopped = Arc::new(AtomicUsize::new(0));
        let pids: Vec<_> = (0..100).map(|n| node.spawn(Counter { n })).collect();
        let lc = node.spawn(Lifecycle { log: log.clone() });
        let downs: Vec<_> = pids.iter().map(|p| node.monitor(p)).collect();
        node.shutdown().await;
        for d in downs {
            assert_eq!(d.await.reason, ExitReason::Shutdown);
            stopped.fetch_add(1, Ordering::Relaxed);
        }
        assert_eq!(stopped.load(Ordering::Relaxed), 100);
        assert!(
            log.lock()
                .unwrap()
                .contains(&"stopped: shutdown".to_string())
        );
        assert_eq!(node.process_count(), 0);
        // A node that has shut down starts nothing.
        let late = node.spawn(Counter { n: 0 });
        assert_eq!(late.get().await, Err(CallError::NoProc));
        assert!(!node.is_alive(&lc));
    });
}

#[test]
fn nodes_in_one_os_process_share_nothing() {
    block_on(async {
        let a = Node::local();
        let b = Node::local();
        let pa = a.spawn(Counter { n: 0 });
        a.register("x", &pa).expect("free on a");
        assert!(b.whereis_any("x").is_none());
        assert_eq!(b.process_count(), 0);
        assert_ne!(a.id(), b.id());
    });
}

#[test]
fn pids_print_like_erlang() {
    block_on(async {
        let node = Node::local();
        let p = node.spawn(Counter { n: 0 });
        let text = p.to_string();
        assert!(text.starts_with("#PID<0."), "{text}");
        assert!(text.ends_with(".0>"), "{text}");
        assert_eq!(p.any().to_string(), text);
    });
}

#[test]
fn pids_round_trip_through_the_wire_codec() {
    block_on(async {
        let node = Node::local();
        let p = node.spawn(Counter { n: 0 });
        let mut bytes = Vec::new();
        actors::dist::encode(&p, &mut bytes).expect("encodes");
        let back: Pid<Counter> = actors::dist::decode(&node, &bytes).expect("decodes");
        assert_eq!(back, p);
        assert_eq!(back.add(2).await, Ok(2));
        // The wrong type is refused, not decoded into it.
        let wrong: Result<Pid<Collector>, _> = actors::dist::decode(&node, &bytes);
        assert!(wrong.is_err());
        // Decoded on another node of the same name and a new creation, it is a dead pid.
        let other = Node::local();
        let stale: Pid<Counter> = actors::dist::decode(&other, &bytes).expect("decodes");
        assert_eq!(stale.get().await, Err(CallError::NoProc));
    });
}

/// Follows a stream: each item a message, its end a message.
#[actor]
#[derive(Default)]
struct Follower {
    seen: Vec<u32>,
    ended: bool,
}

#[actor(local)]
impl Follower {
    #[handle]
    fn follow(
        &mut self,
        items: futures::channel::mpsc::UnboundedReceiver<u32>,
        ctx: &mut Ctx<Self>,
    ) {
        ctx.attach_stream(items, |me, n| me.item(n), |me| me.end());
    }

    #[handle(cast)]
    fn item(&mut self, n: u32) {
        self.seen.push(n);
    }

    #[handle(cast)]
    fn end(&mut self) {
        self.ended = true;
    }

    #[handle]
    fn report(&self) -> (Vec<u32>, bool) {
        (self.seen.clone(), self.ended)
    }
}

#[test]
fn an_attached_stream_delivers_its_items_and_its_end_and_ends_with_the_process() {
    block_on(async {
        let node = Node::local();
        let follower = node.spawn(Follower::default());
        let (tx, rx) = futures::channel::mpsc::unbounded();
        follower.follow(rx).await.unwrap();
        for n in 0..100 {
            tx.unbounded_send(n).unwrap();
        }
        drop(tx);
        let mut report = (Vec::new(), false);
        for _ in 0..1000 {
            report = follower.report().await.unwrap();
            if report.1 {
                break;
            }
            actors::rt::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(
            report,
            ((0..100).collect(), true),
            "every item in order, then the end"
        );

        // A process that ends drops the stream it followed: its sender sees it closed.
        let (tx, rx) = futures::channel::mpsc::unbounded();
        follower.follow(rx).await.unwrap();
        node.stop(&follower, ExitReason::Normal);
        let mut closed = false;
        for _ in 0..1000 {
            if tx.is_closed() {
                closed = true;
                break;
            }
            actors::rt::sleep(Duration::from_millis(1)).await;
        }
        assert!(closed, "the stream went with the process");
    });
}
