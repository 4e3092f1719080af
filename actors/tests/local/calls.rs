//! Calls and casts on one node: order, deadlines, timeouts, dead and self callees, deferred replies.

use super::*;

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
