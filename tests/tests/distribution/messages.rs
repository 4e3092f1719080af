//! Calls, casts, names and pids across nodes, and the order messages keep.

use super::*;

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
