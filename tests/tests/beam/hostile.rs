//! BEAM peers that lie or flood: cut off without harm, held to their limits, never speaking for another node.

use super::*;

#[test]
fn a_hostile_beam_peer_is_cut_off_without_harm() {
    use actors::etf::{Atom, ErlPid, encode};
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let counter = node.spawn(Counter { n: 0 });
        node.register("counter", &counter).unwrap();
        let port = node.beam().unwrap().port();
        let limit = Duration::from_secs(5);

        // A wrong cookie: no connection.
        assert!(
            fake::connect(port, "liar@127.0.0.1", "wrong")
                .await
                .is_none()
        );
        // A name packet claiming more than a name can be: cut off before the challenge.
        let mut s = actors::dist::rt::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        actors::dist::rt::io::WriteExt::write_all(&mut s, &[0xff, 0xff, b'N'])
            .await
            .unwrap();
        assert!(fake::closed(&mut s, limit).await);

        let me = ErlPid {
            node: Atom::from("fake@127.0.0.1"),
            id: 1,
            serial: 0,
            creation: 7,
        };
        let reg_send = |message: &[u8]| {
            let control = Term::tuple([Term::Int(6), Term::Pid(me.clone()), a(""), a("counter")]);
            let mut p = vec![112];
            p.extend_from_slice(&encode(&control));
            p.extend_from_slice(message);
            p
        };
        // A packet claiming 4 GiB: cut off, nothing allocated for it.
        let mut s = fake::connect(port, "fake@127.0.0.1", COOKIE).await.unwrap();
        actors::dist::rt::io::WriteExt::write_all(&mut s, &[0xff, 0xff, 0xff, 0xff])
            .await
            .unwrap();
        assert!(fake::closed(&mut s, limit).await);
        // A control message that is not a term: cut off.
        let mut s = fake::connect(port, "fake@127.0.0.1", COOKIE).await.unwrap();
        fake::send4(&mut s, &[112, 131, 108, 255, 255, 255, 255]).await;
        assert!(fake::closed(&mut s, limit).await);
        // A message nested far too deep, then a good one: the first dropped, the second
        // delivered, the connection kept.
        let mut s = fake::connect(port, "fake@127.0.0.1", COOKIE).await.unwrap();
        let mut deep = vec![131];
        for _ in 0..50_000 {
            deep.extend_from_slice(&[104, 1]);
        }
        deep.push(106);
        fake::send4(&mut s, &reg_send(&deep)).await;
        fake::send4(&mut s, &reg_send(&encode(&a("bump")))).await;
        actors_integration::until("the good cast", limit, || async {
            counter.get().await == Ok(1)
        })
        .await;
        assert!(!fake::closed(&mut s, Duration::from_millis(100)).await);
        assert_eq!(
            node.beam().unwrap().nodes(),
            vec!["fake@127.0.0.1".to_string()]
        );
    });
}

#[test]
fn a_beam_peer_holds_at_most_its_limit_of_monitors() {
    use actors::etf::{Atom, ErlPid, ErlRef, encode};
    const LIMIT: u32 = 100_000;
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let counter = node.spawn(Counter { n: 0 });
        node.register("counter", &counter).unwrap();
        let port = node.beam().unwrap().port();
        let mut s = fake::connect(port, "fake@127.0.0.1", COOKIE).await.unwrap();
        let me = ErlPid {
            node: Atom::from("fake@127.0.0.1"),
            id: 1,
            serial: 0,
            creation: 7,
        };
        // One more monitor than a peer may hold, all on the same process, in one write.
        let mut all = Vec::new();
        for i in 0..=LIMIT {
            let r = ErlRef {
                node: Atom::from("fake@127.0.0.1"),
                creation: 7,
                ids: vec![i, 0, 0],
            };
            let control = Term::tuple([
                Term::Int(19),
                Term::Pid(me.clone()),
                a("counter"),
                Term::Ref(r),
            ]);
            let mut p = vec![112];
            p.extend_from_slice(&encode(&control));
            all.extend_from_slice(&(p.len() as u32).to_be_bytes());
            all.extend_from_slice(&p);
        }
        let _writing = fake::write_while_reading(&s, all);
        // The only monitor exit: the last one failed at once, with system_limit (the node's
        // pg scope also says hello, with a discover).
        let items = actors::rt::timeout(Duration::from_secs(30), async {
            loop {
                let (items, _) = fake::next_packet(&mut s).await;
                if items[0] == Term::Int(21) {
                    return items;
                }
            }
        })
        .await
        .expect("an answer");
        assert_eq!(
            items[3],
            Term::Ref(ErlRef {
                node: Atom::from("fake@127.0.0.1"),
                creation: 7,
                ids: vec![LIMIT, 0, 0]
            })
        );
        assert_eq!(items[4], a("system_limit"));
        // The ones within the limit are held.
        let info = node.process_info(counter.any()).await.unwrap();
        assert_eq!(info.monitored_by, LIMIT as usize);
    });
}

#[test]
fn a_peer_cannot_speak_for_another_nodes_processes() {
    if !actors_integration::erlang::present("a_peer_cannot_speak_for_another_nodes_processes") {
        return;
    }
    use actors::etf::{Atom, ErlRef, encode};
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let erl = ErlNode::start("honest", COOKIE, epmd, None);
        let beam = node.beam().unwrap();
        // A monitor and a link on processes of the honest node.
        let watched = waiter(&node, &erl).await;
        let down = node.monitor(beam.pid(&watched).unwrap());
        let monitor_ref = down.monitor_ref().as_raw();
        let linker = node.spawn(Linker { exits: vec![] });
        let linked = waiter(&node, &erl).await;
        assert_eq!(linker.link_to(linked.clone()).await, Ok(true));
        let rust_linker = beam.erl_pid(&linker.any()).unwrap();

        // A liar claims both ended: an exit from the linked process, and the monitor's
        // MONITOR_P_EXIT with its reference (which it guessed).
        let mut liar = fake::connect(beam.port(), "liar@127.0.0.1", COOKIE)
            .await
            .unwrap();
        let packet = |control: Term| {
            let mut p = vec![112];
            p.extend_from_slice(&encode(&control));
            p
        };
        let exit = Term::tuple([
            Term::Int(3),
            Term::Pid(linked.clone()),
            Term::Pid(rust_linker),
            a("lie"),
        ]);
        fake::send4(&mut liar, &packet(exit)).await;
        let reference = ErlRef {
            node: Atom::from(RUST),
            creation: rust_linker_creation(&beam, &linker),
            ids: vec![
                (monitor_ref & 0x3_ffff) as u32,
                (monitor_ref >> 18) as u32,
                (monitor_ref >> 50) as u32,
            ],
        };
        let caller = beam.erl_pid(&actors::dist::pid_of(&node, 0)).unwrap();
        let monitor_exit = Term::tuple([
            Term::Int(21),
            Term::Pid(watched.clone()),
            Term::Pid(caller),
            Term::Ref(reference),
            a("lie"),
        ]);
        fake::send4(&mut liar, &packet(monitor_exit)).await;
        // Then something observable on the same connection: once it has landed, the lies
        // before it have been read.
        let counter = node.spawn(Counter { n: 0 });
        node.register("counter", &counter).unwrap();
        let liar_pid = actors::etf::ErlPid {
            node: Atom::from("liar@127.0.0.1"),
            id: 1,
            serial: 0,
            creation: 7,
        };
        let mut cast = packet(Term::tuple([
            Term::Int(6),
            Term::Pid(liar_pid),
            a(""),
            a("counter"),
        ]));
        cast.extend_from_slice(&encode(&a("bump")));
        fake::send4(&mut liar, &cast).await;
        actors_integration::until(
            "the liar's messages read",
            Duration::from_secs(10),
            || async { counter.get().await == Ok(1) },
        )
        .await;

        // The honest node's processes end: only their own reasons arrive.
        beam.send(&watched, &Term::tuple([a("exit_with"), a("normal")]))
            .await
            .unwrap();
        beam.send(&linked, &Term::tuple([a("exit_with"), a("boom")]))
            .await
            .unwrap();
        let down = actors::rt::timeout(Duration::from_secs(10), down)
            .await
            .unwrap();
        assert_eq!(down.reason, ExitReason::Normal);
        actors_integration::until("the real exit signal", Duration::from_secs(10), || async {
            !linker.exits().await.unwrap().is_empty()
        })
        .await;
        assert_eq!(
            linker.exits().await,
            Ok(vec![ExitReason::Error("boom".into())])
        );
        // And the liar is still connected: it was not believed, not cut off.
        assert!(beam.nodes().contains(&"liar@127.0.0.1".to_string()));
    });
}

#[test]
fn a_beam_peer_runs_at_most_its_limit_of_spawn_requests_at_once() {
    use actors::etf::{Atom, ErlPid, ErlRef, encode};
    use actors_net::beam::RpcError;
    const LIMIT: u32 = 10_000;
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        // A function that never returns: each request holds its process.
        node.beam()
            .unwrap()
            .register_fn("rust", "hang", |()| async {
                futures::future::pending::<Result<(), RpcError>>().await
            });
        let before = node.process_count();
        let port = node.beam().unwrap().port();
        let mut s = fake::connect(port, "fake@127.0.0.1", COOKIE).await.unwrap();
        let me = ErlPid {
            node: Atom::from("fake@127.0.0.1"),
            id: 1,
            serial: 0,
            creation: 7,
        };
        let request = |i: u32| ErlRef {
            node: Atom::from("fake@127.0.0.1"),
            creation: 7,
            ids: vec![i, 0, 0],
        };
        // One more spawn request than a peer may run at once, in one write.
        let mut all = Vec::new();
        for i in 0..=LIMIT {
            let control = Term::tuple([
                Term::Int(29),
                Term::Ref(request(i)),
                Term::Pid(me.clone()),
                Term::Pid(me.clone()),
                Term::tuple([a("rust"), a("hang"), Term::Int(0)]),
                Term::List(vec![a("monitor")]),
            ]);
            let mut p = vec![112];
            p.extend_from_slice(&encode(&control));
            p.extend_from_slice(&encode(&Term::List(Vec::new())));
            all.extend_from_slice(&(p.len() as u32).to_be_bytes());
            all.extend_from_slice(&p);
        }
        let _writing = fake::write_while_reading(&s, all);
        // Every request is answered; all but the last with a pid, the last refused.
        let mut pids = 0;
        let refused = actors::rt::timeout(Duration::from_secs(60), async {
            loop {
                let (items, _) = fake::next_packet(&mut s).await;
                if items[0] != Term::Int(31) {
                    continue;
                }
                match &items[4] {
                    Term::Pid(_) => pids += 1,
                    _ => return items,
                }
            }
        })
        .await
        .expect("an answer to every request");
        assert_eq!(refused[1], Term::Ref(request(LIMIT)));
        assert_eq!(refused[4], a("system_limit"));
        assert_eq!(pids, LIMIT);
        assert_eq!(node.process_count(), before + LIMIT as usize);
    });
}

#[test]
fn a_beam_peer_holds_at_most_its_limits_of_global_names_and_locks() {
    use actors::etf::{Atom, ErlFun, ErlPid, ErlRef};
    const LIMIT: u32 = 100_000;
    actors::rt::block_on(async {
        let node = visible_node().await;
        let port = node.beam().unwrap().port();
        let mut s = fake::connect(port, "fake@127.0.0.1", COOKIE).await.unwrap();
        let pid = |id: u32| ErlPid {
            node: Atom::from("fake@127.0.0.1"),
            id,
            serial: 0,
            creation: 7,
        };
        let tag = |i: u32| ErlRef {
            node: Atom::from("fake@127.0.0.1"),
            creation: 7,
            ids: vec![i, 0, 0],
        };
        // A call to the global server from fake process `from`, with reference `i`.
        let call = |from: u32, i: u32, request: Term| {
            let message = Term::tuple([
                a("$gen_call"),
                Term::tuple([Term::Pid(pid(from)), Term::Ref(tag(i))]),
                request,
            ]);
            fake::reg_send(&pid(from), "global_name_server", &message)
        };
        // The reply to call `i`, reading past everything else the node sends.
        async fn reply(s: &mut actors::dist::rt::net::TcpStream, want: &Term) -> Term {
            loop {
                let (items, message) = fake::next_packet(s).await;
                if items[0] != Term::Int(2) {
                    continue;
                }
                if let Some(message) = message
                    && let Some([t, answer]) = message.as_tuple()
                    && t == want
                {
                    return answer.clone();
                }
            }
        }
        let method = Term::Fun(ErlFun::Export {
            module: Atom::from("global"),
            function: Atom::from("random_exit_name"),
            arity: 3,
        });
        // One more name than a peer may register here, in one write.
        let mut all = Vec::new();
        for i in 0..=LIMIT {
            let register = Term::tuple([
                a("register"),
                a(&format!("n{i}")),
                Term::Pid(pid(i + 1)),
                method.clone(),
            ]);
            all.extend_from_slice(&call(1, i, register));
        }
        let _writing = fake::write_while_reading(&s, all);
        let last = actors::rt::timeout(
            Duration::from_secs(60),
            reply(&mut s, &Term::Ref(tag(LIMIT))),
        )
        .await
        .expect("every call answered");
        assert_eq!(last, a("yes"), "global answers yes, and keeps what it may");
        let names = node.global().registered_names();
        assert_eq!(names.len(), LIMIT as usize);
        assert!(node.global().whereis_any("n0").is_some());
        assert!(node.global().whereis_any(&format!("n{LIMIT}")).is_none());

        // One more lock than BEAM processes may hold here, each of its own holder.
        let mut all = Vec::new();
        for i in 0..=LIMIT {
            let id = Term::tuple([a(&format!("r{i}")), a("req")]);
            all.extend_from_slice(&call(
                i + 1,
                LIMIT + 1 + i,
                Term::tuple([a("set_lock"), id]),
            ));
        }
        let _writing = fake::write_while_reading(&s, all);
        let last = actors::rt::timeout(
            Duration::from_secs(60),
            reply(&mut s, &Term::Ref(tag(2 * LIMIT + 1))),
        )
        .await
        .expect("every call answered");
        assert_eq!(last, a("false"), "the lock past the limit is refused");
    });
}
