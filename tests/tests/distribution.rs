//! Nodes over loopback TCP in one OS process: remote call and cast, pids in messages,
//! ordering, lazy and transitive connection, identity checks, node events.

use std::future::IntoFuture;
use std::time::Duration;

use actors::WireError;
use actors::rt::block_on;
use actors_integration::*;
use actors_net::prelude::*;
use actors_net::{ConnectError, LookupError};

const WAIT: Duration = Duration::from_secs(10);

/// A counter started on `on` and registered there as "c", as `from` finds it by name.
async fn counter_seen_from(from: &Node, on: &Node, n: u64) -> Pid<Counter> {
    on.register("c", on.spawn(Counter { n })).unwrap();
    from.whereis_on("c", on.name()).await.unwrap()
}

#[test]
fn remote_call_and_cast() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let counter = b.spawn(Counter { n: 0 });
        b.register("counter", &counter).unwrap();
        let remote: Pid<Counter> = a.whereis_on("counter", b.name()).await.expect("found");
        assert!(!remote.is_local());
        assert_eq!(remote.node(), b.name());
        assert_eq!(remote.add(5).await, Ok(5));
        remote.incr().expect("cast");
        assert_eq!(remote.get().await, Ok(6));
        assert_eq!(counter.get().await, Ok(6), "the same process, seen locally");
        for n in &nodes {
            n.shutdown().await;
        }
    });
}

#[test]
fn lookups_by_name_on_another_node() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        b.register("other", b.spawn(Other)).unwrap();
        assert_eq!(
            a.whereis_on::<Counter>("missing", b.name()).await,
            Err(LookupError::NotRegistered {
                name: "missing".into(),
                node: b.name().into()
            })
        );
        assert_eq!(
            a.whereis_on::<Counter>("other", b.name()).await,
            Err(LookupError::WrongType("other".into()))
        );
        assert!(a.whereis_on::<Other>("other", b.name()).await.is_ok());
    });
}

#[test]
fn pids_travel_in_messages_and_work_on_the_far_side() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let remote = counter_seen_from(a, b, 100).await;
        // The far process returns its own pid: it arrives as a pid of node b.
        let back = remote.me().await.unwrap();
        assert_eq!(back, remote);
        // A pid of node a, sent to node b, which calls it back across the network.
        let on_a = a.spawn(Counter { n: 0 });
        assert_eq!(remote.ask(on_a.clone(), 7).await, Ok(Ok(7)));
        assert_eq!(on_a.get().await, Ok(7));
        // A pid of node b sent to node b arrives as a local pid there.
        let second = b.spawn(Counter { n: 200 });
        b.register("second", &second).unwrap();
        let second: Pid<Counter> = a.whereis_on("second", b.name()).await.unwrap();
        assert_eq!(remote.ask(second, 1).await, Ok(Ok(201)));
    });
}

#[test]
fn each_senders_order_is_kept_across_nodes() {
    const SENDERS: u32 = 4;
    const EACH: u64 = 100_000;
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let collector = b.spawn(Collector::default());
        b.register("collector", &collector).unwrap();
        let remote: Pid<Collector> = a.whereis_on("collector", b.name()).await.unwrap();
        let senders: Vec<_> = (0..SENDERS)
            .map(|id| {
                let c = remote.clone();
                actors::rt::spawn(async move {
                    for seq in 0..EACH {
                        c.push(id, seq).expect("cast");
                        if seq % 512 == 0 {
                            actors::rt::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for s in senders {
            s.await;
        }
        until("every cast to arrive", Duration::from_secs(60), || async {
            collector.report().await.unwrap().1 == u64::from(SENDERS) * EACH
        })
        .await;
        assert_eq!(
            collector.report().await.unwrap(),
            (0, u64::from(SENDERS) * EACH)
        );
    });
}

#[test]
fn a_send_connects_lazily() {
    block_on(async {
        let a = start("a").await;
        let b = start("b").await;
        let counter = b.spawn(Counter { n: 1 });
        // A pid of b reaches a without any connection (here through the codec), and the
        // first call connects.
        let mut bytes = Vec::new();
        actors::dist::encode(&counter, &mut bytes).unwrap();
        let remote: Pid<Counter> = actors::dist::decode(&a, &bytes).unwrap();
        assert!(a.nodes().is_empty());
        assert_eq!(remote.add(1).await, Ok(2));
        assert_eq!(a.nodes(), vec![b.name().to_string()]);
    });
}

#[test]
fn connecting_is_transitive() {
    block_on(async {
        let nodes = cluster(4).await;
        for n in &nodes {
            let mut expected: Vec<String> = nodes
                .iter()
                .filter(|m| m.name() != n.name())
                .map(|m| m.name().to_string())
                .collect();
            expected.sort();
            let n = n.clone();
            until("a full mesh", WAIT, || {
                let (n, expected) = (n.clone(), expected.clone());
                async move { n.nodes() == expected }
            })
            .await;
        }
    });
}

#[test]
fn simultaneous_connects_end_with_one_connection() {
    logs();
    block_on(async {
        for _ in 0..10 {
            let a = start("a").await;
            let b = start("b").await;
            let mut events_a = a.monitor_nodes();
            let (ra, rb) = futures::join!(a.connect(b.name()), b.connect(a.name()));
            assert_eq!((ra, rb), (Ok(()), Ok(())));
            assert_eq!(
                next_event(&mut events_a, WAIT).await,
                NodeEvent::Up(b.name().into())
            );
            assert_eq!(a.nodes(), vec![b.name().to_string()]);
            assert_eq!(b.nodes(), vec![a.name().to_string()]);
            // It carries traffic both ways.
            let remote = counter_seen_from(&a, &b, 0).await;
            assert_eq!(remote.add(1).await, Ok(1));
            // And no second connection came up.
            assert!(
                actors::rt::timeout(Duration::from_millis(100), events_a.next())
                    .await
                    .is_err(),
                "no other event"
            );
            a.shutdown().await;
            b.shutdown().await;
        }
    });
}

#[test]
fn a_wrong_cookie_is_refused_and_others_keep_working() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let intruder = Node::builder("intruder@127.0.0.1:0")
            .cookie("wrong")
            .start()
            .await
            .unwrap();
        let refused = intruder.connect(a.name()).await;
        assert!(
            matches!(&refused, Err(ConnectError::Failed { reason, .. }) if reason.contains("the cookies differ")
                || reason.contains("read failed") || reason.contains("i/o")),
            "{refused:?}"
        );
        assert!(!a.nodes().contains(&intruder.name().to_string()));
        let counter = a.spawn(Counter { n: 0 });
        a.register("c", &counter).unwrap();
        let remote: Pid<Counter> = b.whereis_on("c", a.name()).await.unwrap();
        assert_eq!(remote.add(3).await, Ok(3));
    });
}

#[test]
fn an_identity_mismatch_is_a_typed_error() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let other = b.spawn(Other);
        // A pid of an `Other` that claims to be a `Counter`, as a peer built from another
        // version of the code would send: the far side refuses the call.
        #[derive(serde::Serialize)]
        struct WirePid<'a> {
            node: &'a str,
            creation: u32,
            id: u64,
            identity: u64,
        }
        let forged = WirePid {
            node: b.name(),
            creation: b.id().creation(),
            id: other.id(),
            identity: <Counter as Actor>::identity().hash,
        };
        let mut bytes = Vec::new();
        actors::dist::encode(&forged, &mut bytes).unwrap();
        let as_counter: Pid<Counter> = actors::dist::decode(a, &bytes).expect("decodes");
        match as_counter.add(1).await {
            Err(CallError::TypeMismatch(msg)) => assert!(msg.contains("Other"), "{msg}"),
            other => panic!("expected a type mismatch, got {other:?}"),
        }
        // The connection survives it.
        assert_eq!(a.nodes(), vec![b.name().to_string()]);
    });
}

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

#[test]
fn node_events_report_up_then_down() {
    block_on(async {
        let a = start("a").await;
        let b = start("b").await;
        let mut events = a.monitor_nodes();
        a.connect(b.name()).await.unwrap();
        assert_eq!(
            next_event(&mut events, WAIT).await,
            NodeEvent::Up(b.name().into())
        );
        assert!(a.disconnect(b.name()));
        assert_eq!(
            next_event(&mut events, WAIT).await,
            NodeEvent::Down(b.name().into())
        );
        a.connect(b.name()).await.unwrap();
        assert_eq!(
            next_event(&mut events, WAIT).await,
            NodeEvent::Up(b.name().into())
        );
    });
}

#[test]
fn blocked_nodes_are_refused_until_unblocked() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let mut events = b.monitor_nodes();
        a.block(b.name());
        assert_eq!(
            next_event(&mut events, WAIT).await,
            NodeEvent::Down(a.name().into())
        );
        assert!(a.connect(b.name()).await.is_err());
        assert!(
            b.connect(a.name()).await.is_err(),
            "refused from the other side too"
        );
        a.unblock(b.name());
        a.connect(b.name()).await.expect("connects again");
    });
}

#[allow(dead_code)]
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

#[test]
fn a_node_shut_down_and_dropped_is_freed() {
    block_on(async {
        let nodes = cluster(2).await;
        // Give its global server and a process-group scope something to hold.
        let counter = nodes[0].spawn(Counter { n: 0 });
        nodes[0].global().register("c", &counter).await.unwrap();
        nodes[0].groups().join("g", &counter).await.unwrap();
        nodes[0].scope("other").join("g", &counter).await.unwrap();
        drop(counter);
        let weak: Vec<_> = nodes.iter().map(Node::downgrade).collect();
        for n in &nodes {
            n.shutdown().await;
        }
        drop(nodes);
        until("both nodes to be freed", WAIT, || {
            let weak = weak.clone();
            async move { weak.iter().all(|w| w.upgrade().is_none()) }
        })
        .await;
    });
}

#[test]
fn a_message_too_large_for_the_wire_fails_alone() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let (_, remote) = remote_counter(b, a, "c").await;
        let (watcher, log) = probe(a);
        watcher.watch(remote.any()).await.unwrap();
        let huge = serde_bytes::ByteBuf::from(vec![0u8; 5 << 20]);
        // A call, a cast and a reply each larger than a frame (4 MiB) fail with TooLarge...
        assert!(matches!(
            remote.echo_bytes(huge.clone()).await,
            Err(CallError::Wire(WireError::TooLarge { max, .. })) if max == 4 << 20
        ));
        assert!(matches!(
            remote.absorb(huge),
            Err(SendError::Wire(WireError::TooLarge { .. }))
        ));
        assert!(matches!(
            remote.make_bytes(5 << 20).await,
            Err(CallError::Wire(WireError::TooLarge { .. }))
        ));
        // ...and alone: the connection, the monitor across it and the process carry on.
        assert_eq!(a.nodes(), vec![b.name().to_string()]);
        assert_eq!(remote.add(1).await, Ok(1));
        assert_eq!(
            a.connection_info(b.name()).unwrap().monitors_held,
            1 + SYSTEM_MONITORS
        );
        assert!(log.lock().unwrap().is_empty(), "no Down: nothing was lost");
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

/// Follows this node's node events and a group's changes, as messages.
#[actor]
#[derive(Default)]
struct Watcher {
    nodes: Vec<NodeEvent>,
    joined: usize,
}

#[actor(local)]
impl Watcher {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        let node = ctx.node();
        ctx.attach_stream(node.monitor_nodes(), |me, e| me.node_event(e), |_| Ok(()));
        let (_, changes) = node.groups().monitor("room");
        ctx.attach_stream(changes, |me, e| me.group_event(e), |_| Ok(()));
    }

    #[handle(cast)]
    fn node_event(&mut self, event: NodeEvent) {
        self.nodes.push(event);
    }

    #[handle(cast)]
    fn group_event(&mut self, event: actors_net::groups::GroupEvent) {
        if let actors_net::groups::GroupEvent::Joined { pids, .. } = event {
            self.joined += pids.len();
        }
    }

    #[handle]
    fn seen(&self) -> (Vec<NodeEvent>, usize) {
        (self.nodes.clone(), self.joined)
    }
}

#[test]
fn a_process_follows_node_events_and_a_group_as_messages() {
    block_on(async {
        let a = start("a").await;
        let watcher = a.spawn(Watcher::default());
        let b = start("b").await;
        b.connect(a.name()).await.unwrap();
        let member = b.spawn(Counter { n: 0 });
        b.groups().join("room", &member).await.unwrap();
        until("a to list b's member", WAIT, || async {
            a.groups().members("room").len() == 1
        })
        .await;
        b.shutdown().await;
        let want = vec![
            NodeEvent::Up(b.name().to_string()),
            NodeEvent::Down(b.name().to_string()),
        ];
        let mut seen = Err(CallError::Timeout);
        for _ in 0..500 {
            seen = watcher.seen().await;
            if seen == Ok((want.clone(), 1)) {
                break;
            }
            actors::rt::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(seen, Ok((want, 1)), "b came, its member joined, b went");
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

/// Says which node each message came from, as its receiving node saw it.
#[actor]
struct Whom {
    casts: Vec<String>,
}

#[actor]
impl Whom {
    #[handle]
    fn whom(&self, from: actors::dist::Origin) -> String {
        from.node().map_or("here".into(), |n| n.name().to_string())
    }

    #[handle(cast)]
    fn note(&mut self, from: actors::dist::Origin) {
        let name = from.node().map_or("here".into(), |n| n.name().to_string());
        self.casts.push(name);
    }

    #[handle]
    fn noted(&self) -> Vec<String> {
        self.casts.clone()
    }
}

/// Messages from two nodes interleave in one mailbox; each is decoded by the process with
/// the origin of the connection it came over, not of the one before it.
#[test]
fn each_message_from_another_node_carries_its_own_origin() {
    const EACH: usize = 2_000;
    block_on(async {
        let nodes = cluster(3).await;
        let whom = nodes[2].spawn(Whom { casts: Vec::new() });
        nodes[2].register("whom", &whom).unwrap();
        let mut senders = Vec::new();
        for n in &nodes[..2] {
            let remote: Pid<Whom> = n.whereis_on("whom", nodes[2].name()).await.unwrap();
            let name = n.name().to_string();
            senders.push(actors::rt::spawn(async move {
                for i in 0..EACH {
                    remote.note(actors::dist::Origin::local()).unwrap();
                    if i % 100 == 0 {
                        let seen = remote.whom(actors::dist::Origin::local()).await;
                        assert_eq!(seen.as_deref(), Ok(name.as_str()));
                        actors::rt::yield_now().await;
                    }
                }
            }));
        }
        for s in senders {
            s.await;
        }
        until("every cast to arrive", WAIT, || async {
            whom.noted().await.is_ok_and(|n| n.len() == 2 * EACH)
        })
        .await;
        let noted = whom.noted().await.unwrap();
        for n in &nodes[..2] {
            let from = noted.iter().filter(|x| x.as_str() == n.name()).count();
            assert_eq!(from, EACH, "casts noted as from {}", n.name());
        }
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

/// Counts casts; trapping exits, notes how many it had when an exit signal came.
#[actor]
struct Tally {
    seen: u64,
    at_exit: std::sync::Arc<std::sync::Mutex<Option<u64>>>,
}

#[actor]
impl Tally {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        ctx.trap_exit(true);
    }

    fn on_exit(&mut self, _exit: Exit) {
        *self.at_exit.lock().unwrap() = Some(self.seen);
    }

    #[handle(cast)]
    fn tick(&mut self) {
        self.seen += 1;
    }
}

/// Links to a tally, casts to it, and ends.
#[actor]
struct Burst;

#[actor]
impl Burst {
    #[handle]
    fn burst(&mut self, to: Pid<Tally>, n: u64, ctx: &mut Ctx<Self>) {
        ctx.link(to.any());
        for _ in 0..n {
            to.tick().expect("cast");
        }
        ctx.stop(ExitReason::Shutdown);
    }
}

/// A process's messages and its exit signal cross to another node in the order it sent
/// them: the link's exit comes after every cast before it.
#[test]
fn an_exit_signal_comes_after_the_messages_sent_before_it() {
    const N: u64 = 20_000;
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        for round in 0..3 {
            let at_exit = std::sync::Arc::new(std::sync::Mutex::new(None));
            let tally = b.spawn(Tally {
                seen: 0,
                at_exit: at_exit.clone(),
            });
            b.register("tally", &tally).unwrap();
            let remote: Pid<Tally> = a.whereis_on("tally", b.name()).await.unwrap();
            a.spawn(Burst).burst(remote, N).await.unwrap();
            until("the exit signal", WAIT, || async {
                at_exit.lock().unwrap().is_some()
            })
            .await;
            assert_eq!(*at_exit.lock().unwrap(), Some(N), "round {round}");
            b.unregister("tally");
        }
    });
}

/// Asks another node, which casts back before it answers; then checks, by a cast to
/// itself queued after the answer, that the casts back were queued first.
#[actor]
struct Asker {
    noted: u32,
    verdicts: std::sync::Arc<std::sync::Mutex<Vec<u32>>>,
}

#[actor]
impl Asker {
    #[handle(cast)]
    fn note(&mut self) {
        self.noted += 1;
    }

    #[handle(cast)]
    fn check(&mut self) {
        self.verdicts.lock().unwrap().push(self.noted);
        self.noted = 0;
    }

    #[handle]
    async fn ask(&mut self, there: Pid<Answerer>, ctx: &mut Ctx<Self>) {
        there.answer(ctx.pid()).await.expect("answer");
        ctx.pid().check().expect("cast to itself");
    }
}

/// Casts back before it answers.
#[actor]
struct Answerer;

/// Casts an answer sends back first: enough that they and the answer share a read.
const NOTES: u32 = 100;

#[actor]
impl Answerer {
    #[handle]
    fn answer(&self, back: Pid<Asker>) {
        for _ in 0..NOTES {
            back.note().expect("cast back");
        }
    }
}

/// A reply from another node comes after the messages its sender sent before it: a process
/// that casts to its caller and then answers has the casts queued before the caller goes on.
#[test]
fn a_reply_comes_after_the_messages_sent_before_it() {
    const ASKS: usize = 300;
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        b.register("answerer", b.spawn(Answerer)).unwrap();
        let there: Pid<Answerer> = a.whereis_on("answerer", b.name()).await.unwrap();
        let verdicts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let asker = a.spawn(Asker {
            noted: 0,
            verdicts: verdicts.clone(),
        });
        for _ in 0..ASKS {
            asker.ask(there.clone()).await.unwrap();
        }
        until("every check", WAIT, || async {
            verdicts.lock().unwrap().len() == ASKS
        })
        .await;
        let late = verdicts
            .lock()
            .unwrap()
            .iter()
            .filter(|n| **n != NOTES)
            .count();
        assert_eq!(late, 0, "casts queued after the reply that followed them");
    });
}
