//! Replies that fail fast, are deferred, or are answered from a third node.

use super::*;

#[test]
fn calls_fail_fast_when_the_node_is_gone() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let remote = counter_seen_from(a, b, 0).await;
        let mut events = a.monitor_nodes();
        // A call in flight when the connection is lost fails with NoConnection, not a timeout.
        let mut call = std::pin::pin!(
            remote
                .slow(10_000)
                .timeout(Duration::from_secs(30))
                .into_future()
        );
        assert!(
            futures::poll!(call.as_mut()).is_pending(),
            "sent, not answered"
        );
        b.block(a.name());
        assert_eq!(
            next_event(&mut events, WAIT).await,
            NodeEvent::Down(b.name().into())
        );
        let started = std::time::Instant::now();
        assert_eq!(call.await, Err(CallError::NoConnection));
        assert!(started.elapsed() < Duration::from_secs(5));
        // And a new call fails at once too.
        assert_eq!(remote.get().await, Err(CallError::NoConnection));
    });
}

#[test]
fn a_call_to_a_dead_remote_process_is_noproc() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let remote = counter_seen_from(a, b, 0).await;
        assert_eq!(
            remote.crash().await,
            Err(CallError::Exited(ExitReason::Panic(
                "counter crashed on request".into()
            )))
        );
        assert_eq!(remote.get().await, Err(CallError::NoProc));
        assert_eq!(
            remote.incr(),
            Ok(()),
            "a cast to a dead process is dropped silently"
        );
    });
}

/// Forwards `slow` to a counter and answers when it does; `quick` answers at once.
#[actor]
struct Router {
    to: Pid<Counter>,
}

#[actor]
impl Router {
    #[handle]
    fn slow(&self, ms: u64, reply: Reply<u64>) {
        let to = self.to.clone();
        actors::rt::spawn(async move {
            match to.slow(ms).timeout(Duration::from_secs(60)).await {
                Ok(v) => reply.send(v),
                Err(e) => reply.fail(e),
            }
        });
    }

    #[handle]
    fn quick(&self) -> u64 {
        1
    }

    #[handle]
    fn forget(&self, reply: Reply<u64>) {
        drop(reply);
    }
}

#[test]
fn a_deferred_reply_answers_a_caller_on_another_node_while_the_mailbox_goes_on() {
    block_on(async {
        let nodes = cluster(2).await;
        let counter = nodes[0].spawn(Counter { n: 3 });
        let router = nodes[0].spawn(Router { to: counter });
        nodes[0].register("router", &router).unwrap();
        let far: Pid<Router> = nodes[1]
            .whereis_on("router", nodes[0].name())
            .await
            .unwrap();
        let slow: Vec<_> = (0..1000)
            .map(|_| {
                let far = far.clone();
                actors::rt::spawn(async move { far.slow(2).timeout(Duration::from_secs(60)).await })
            })
            .collect();
        let start = std::time::Instant::now();
        assert_eq!(far.quick().await, Ok(1));
        assert!(
            start.elapsed() < Duration::from_millis(150),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(far.forget().await, Err(CallError::NoReply));
        // The counter serves one at a time, 2 ms each: every caller is answered.
        for call in slow {
            assert_eq!(call.await, Ok(3));
        }
    });
}

/// Answers, on its own node, calls another node took: their `Reply` comes in a cast.
#[actor]
struct FarClerk;

#[actor]
impl FarClerk {
    #[handle(cast)]
    fn answer(&mut self, question: u64, reply: Reply<u64>) {
        if question == 0 {
            drop(reply);
        } else {
            reply.send(question + 1);
        }
    }
}

/// Takes calls and hands each one's `Reply` to a clerk on another node.
#[actor]
struct FarDesk {
    clerk: Pid<FarClerk>,
}

#[actor]
impl FarDesk {
    #[handle]
    fn ask(&self, question: u64, reply: Reply<u64>) {
        let _ = self.clerk.answer(question, reply);
    }
}

#[test]
fn a_reply_handed_to_a_process_on_another_node_answers_the_caller_on_a_third() {
    block_on(async {
        let nodes = cluster(3).await;
        let clerk = nodes[2].spawn(FarClerk);
        nodes[2].register("clerk", &clerk).unwrap();
        let clerk: Pid<FarClerk> = nodes[0].whereis_on("clerk", nodes[2].name()).await.unwrap();
        let desk = nodes[0].spawn(FarDesk { clerk });
        nodes[0].register("desk", &desk).unwrap();
        let desk: Pid<FarDesk> = nodes[1].whereis_on("desk", nodes[0].name()).await.unwrap();
        let before = nodes[0].process_count();
        // Caller on n1, the call taken on n0, answered on n2.
        assert_eq!(desk.ask(41).await, Ok(42));
        for q in 1..=100 {
            assert_eq!(desk.ask(q).await, Ok(q + 1));
        }
        // Dropped on n2: the caller learns it at once.
        let start = std::time::Instant::now();
        assert_eq!(desk.ask(0).await, Err(CallError::NoReply));
        assert!(start.elapsed() < Duration::from_secs(2));
        // Nothing left behind on n0: the lent replies ended once answered.
        until("the lent replies to end", WAIT, || async {
            nodes[0].process_count() == before
        })
        .await;
    });
}

/// Calls from another node queued behind one that ends the process learn why it ended.
#[test]
fn calls_queued_behind_a_crash_learn_why_it_ended() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let remote = counter_seen_from(a, b, 0).await;
        let busy = remote.slow(200).into_future();
        let crash = remote.crash().into_future();
        let queued: Vec<_> = (0..5).map(|_| remote.get().into_future()).collect();
        let (busy, crash, queued) = futures::join!(busy, crash, futures::future::join_all(queued));
        assert_eq!(busy, Ok(0));
        let why = ExitReason::Panic("counter crashed on request".into());
        assert_eq!(crash, Err(CallError::Exited(why.clone())));
        for r in queued {
            assert_eq!(r, Err(CallError::Exited(why.clone())));
        }
    });
}
