//! The local runtime: calls, casts, ordering, timeouts, dead pids, panics, names.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actors::prelude::*;
use actors::rt::block_on;

#[actor]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }
    #[handle]
    async fn get(&self) -> u64 {
        self.n
    }
    #[handle(cast)]
    fn reset(&mut self) {
        self.n = 0
    }
    #[handle(cast)]
    fn incr(&mut self) {
        self.n += 1
    }
    #[handle]
    async fn slow(&self, d: Duration) -> u64 {
        actors::rt::sleep(d).await;
        self.n
    }
    #[handle]
    fn boom(&mut self, msg: String) -> u64 {
        panic!("{msg}")
    }
    #[handle]
    fn quit(&mut self, reason: ExitReason, ctx: &mut Ctx<Self>) {
        ctx.stop(reason)
    }
}

/// Collects (sender, sequence) pairs and counts order violations per sender.
#[actor]
struct Collector {
    next: HashMap<u32, u64>,
    violations: u64,
}

#[actor]
impl Collector {
    #[handle(cast)]
    fn push(&mut self, sender: u32, seq: u64) {
        let next = self.next.entry(sender).or_insert(0);
        if *next != seq {
            self.violations += 1;
        }
        *next = seq + 1;
    }
    #[handle]
    fn report(&self) -> (u64, HashMap<u32, u64>) {
        (self.violations, self.next.clone())
    }
}

#[test]
fn call_and_cast() {
    block_on(async {
        let node = Node::local();
        let c = node.spawn(Counter { n: 0 });
        assert_eq!(c.add(5).await, Ok(5));
        assert_eq!(c.add(2).await, Ok(7));
        c.reset().expect("cast to a live local process");
        c.incr().expect("cast");
        assert_eq!(c.get().await, Ok(1));
    });
}

#[test]
fn each_senders_order_is_kept() {
    const SENDERS: u32 = 4;
    const EACH: u64 = 100_000;
    block_on(async {
        let node = Node::local();
        let collector = node.spawn(Collector {
            next: HashMap::new(),
            violations: 0,
        });
        let senders: Vec<_> = (0..SENDERS)
            .map(|id| {
                let c = collector.clone();
                actors::rt::spawn(async move {
                    for seq in 0..EACH {
                        c.push(id, seq).expect("cast");
                        if seq % 1000 == 0 {
                            // Interleave the senders.
                            actors::rt::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for s in senders {
            s.await;
        }
        let (violations, next) = collector.report().await.expect("report");
        assert_eq!(violations, 0);
        assert_eq!(next.len(), SENDERS as usize);
        assert!(next.values().all(|n| *n == EACH), "{next:?}");
    });
}

/// Reply slots are reused call after call: each call keeps its own deadline and its own
/// answer, whether the one before it was answered or timed out.
#[test]
fn every_call_keeps_its_own_deadline_and_answer() {
    block_on(async {
        let node = Node::local();
        let c = node.spawn(Counter { n: 0 });
        for round in 0..5u64 {
            for i in 1..=200u64 {
                let r = c.add(1).timeout(Duration::from_millis(500)).await;
                assert_eq!(r, Ok(round * 200 + i));
            }
            let r = c
                .slow(Duration::from_millis(60))
                .timeout(Duration::from_millis(15))
                .await;
            assert_eq!(r, Err(CallError::Timeout), "round {round}");
        }
        // The late answers of the slow calls reached none of the calls after them.
        assert_eq!(c.get().await, Ok(1000));
    });
}

#[test]
fn call_times_out_and_the_process_lives_on() {
    block_on(async {
        let node = Node::local();
        let c = node.spawn(Counter { n: 3 });
        let started = std::time::Instant::now();
        let r = c
            .slow(Duration::from_millis(400))
            .timeout(Duration::from_millis(50))
            .await;
        assert_eq!(r, Err(CallError::Timeout));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(50), "{waited:?}");
        assert!(waited < Duration::from_millis(1500), "{waited:?}");
        // The late reply is dropped; the process answers the next call.
        assert_eq!(c.add(1).timeout(Duration::from_secs(5)).await, Ok(4));
    });
}

#[test]
fn call_to_a_stopped_process_fails_at_once() {
    block_on(async {
        let node = Node::local();
        let c = node.spawn(Counter { n: 0 });
        let down = node.monitor(&c);
        assert_eq!(c.quit(ExitReason::Normal).await, Ok(()));
        assert_eq!(down.await.reason, ExitReason::Normal);
        let started = std::time::Instant::now();
        assert_eq!(c.add(1).await, Err(CallError::NoProc));
        assert!(started.elapsed() < Duration::from_secs(1));
        // A cast to a dead process is dropped silently, as an Erlang send is.
        assert_eq!(c.incr(), Ok(()));
        assert!(!node.is_alive(&c));
        assert_eq!(node.process_count(), 0);
    });
}

#[test]
fn calls_queued_behind_a_stop_learn_the_exit_reason() {
    block_on(async {
        let node = Node::local();
        let c = node.spawn(Counter { n: 0 });
        // `join` sends the calls in order on its first poll: slow, quit, then the rest, which
        // are queued behind the stop, never handled, and told why.
        let late = futures::future::join_all((0..10).map(|_| c.get().into_future()));
        let (slow, quit, late) = futures::join!(
            c.slow(Duration::from_millis(100)).into_future(),
            c.quit(ExitReason::Error("done".into())).into_future(),
            late
        );
        assert!(slow.is_ok());
        assert_eq!(quit, Ok(()));
        for r in late {
            assert_eq!(r, Err(CallError::Exited(ExitReason::Error("done".into()))));
        }
    });
}

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

/// Calls itself from a handler.
#[actor]
struct Narcissus;

#[actor]
impl Narcissus {
    #[handle]
    async fn ask_myself(&self, ctx: &mut Ctx<Self>) -> Result<u32, CallError> {
        ctx.pid().echo(1).await
    }

    #[handle]
    fn echo(&self, n: u32) -> u32 {
        n
    }
}

#[test]
fn a_process_calling_itself_fails_at_once_with_calling_self() {
    block_on(async {
        let node = Node::local();
        let pid = node.spawn(Narcissus);
        let start = std::time::Instant::now();
        assert_eq!(pid.ask_myself().await, Ok(Err(CallError::CallingSelf)));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "not after the timeout"
        );
        assert_eq!(pid.echo(3).await, Ok(3), "and it goes on serving");
    });
}

/// A shard that answers slowly.
#[actor]
struct SlowShard;

#[actor]
impl SlowShard {
    #[handle]
    async fn get(&self, key: u64) -> u64 {
        actors::rt::sleep(Duration::from_millis(2)).await;
        key * 2
    }
}

/// Forwards `get` to the shard and answers when it does, its mailbox free meanwhile.
#[actor]
struct Router {
    shard: Pid<SlowShard>,
    kept: Option<Reply<u64>>,
}

#[actor]
impl Router {
    #[handle]
    fn get(&self, key: u64, reply: Reply<u64>) {
        let shard = self.shard.clone();
        actors::rt::spawn(async move {
            match shard.get(key).timeout(Duration::from_secs(30)).await {
                Ok(v) => reply.send(v),
                Err(e) => reply.fail(e),
            }
        });
    }

    #[handle]
    fn quick(&self) -> u64 {
        7
    }

    /// Keeps the reply, to answer it with the next `release`.
    #[handle]
    fn hold(&mut self, reply: Reply<u64>) {
        self.kept = Some(reply);
    }

    #[handle]
    fn holding(&self) -> bool {
        self.kept.is_some()
    }

    #[handle(cast)]
    fn release(&mut self, value: u64) {
        if let Some(reply) = self.kept.take() {
            reply.send(value);
        }
    }

    /// Drops the reply unanswered.
    #[handle]
    fn forget(&self, reply: Reply<u64>) {
        drop(reply);
    }
}

#[test]
fn a_handler_that_defers_its_reply_keeps_its_mailbox_free() {
    block_on(async {
        let node = Node::local();
        let shard = node.spawn(SlowShard);
        let router = node.spawn(Router { shard, kept: None });
        let slow: Vec<_> = (0..1000u64)
            .map(|k| {
                let router = router.clone();
                actors::rt::spawn(
                    async move { router.get(k).timeout(Duration::from_secs(600)).await },
                )
            })
            .collect();
        // The shard takes 2 ms each, one at a time (2 s for all); the router answers a quick
        // call at once.
        let start = std::time::Instant::now();
        assert_eq!(router.quick().await, Ok(7));
        assert!(
            start.elapsed() < Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
        // A reply kept in the actor's state and answered by a later message.
        let held = {
            let router = router.clone();
            actors::rt::spawn(async move { router.hold().await })
        };
        for _ in 0..5000 {
            if router.holding().await.unwrap() {
                break;
            }
            actors::rt::sleep(Duration::from_millis(1)).await;
        }
        router.release(5).unwrap();
        assert_eq!(held.await, Ok(5));
        // Dropped unanswered: the caller learns it at once, not at its timeout.
        let start = std::time::Instant::now();
        assert_eq!(router.forget().await, Err(CallError::NoReply));
        assert!(start.elapsed() < Duration::from_secs(1));
        // Every slow call is answered, each with its own answer.
        for (k, call) in slow.into_iter().enumerate() {
            assert_eq!(call.await, Ok(k as u64 * 2));
        }
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

/// Answers calls it did not receive: the caller's `Reply` is handed to it in a cast.
#[actor]
struct Clerk;

#[actor(local)]
impl Clerk {
    #[handle(cast)]
    fn answer(&mut self, question: u64, reply: Reply<u64>) {
        reply.send(question + 1);
    }
}

/// Takes calls and hands each one's `Reply` to the clerk.
#[actor]
struct Desk {
    clerk: Pid<Clerk>,
}

#[actor(local)]
impl Desk {
    #[handle]
    fn ask(&self, question: u64, reply: Reply<u64>) {
        let _ = self.clerk.answer(question, reply);
    }
}

#[test]
fn a_reply_handed_to_another_process_answers_the_caller() {
    block_on(async {
        let node = Node::local();
        let clerk = node.spawn(Clerk);
        let desk = node.spawn(Desk { clerk });
        assert_eq!(desk.ask(41).await, Ok(42));
    });
}
