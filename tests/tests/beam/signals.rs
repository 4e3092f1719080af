//! Monitors and links across the border, and nodes that die or freeze on either side.

use super::*;

#[test]
fn an_erlang_monitor_of_a_rust_process_fires_with_the_reason() {
    if !actors_integration::erlang::present(
        "an_erlang_monitor_of_a_rust_process_fires_with_the_reason",
    ) {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let erl = ErlNode::start("monitors", COOKIE, epmd, None);
        let counter = node.spawn(Counter { n: 0 });
        node.register("watched", &counter).unwrap();
        let wait = Term::tuple([a("monitor_wait"), rust_name("watched"), Term::Int(10_000)]);
        let beam = node.beam().unwrap();
        let driver = BeamDest::name("driver", &erl.name);
        let watching = beam.call_timeout::<Term>(driver.clone(), &wait, Duration::from_secs(15));
        let kill = async {
            // The monitor is in place once the process shows one more monitor.
            actors_integration::until("the Erlang monitor", Duration::from_secs(10), || async {
                let info = node.process_info(counter.any()).await;
                info.is_some_and(|i| i.monitored_by > 0)
            })
            .await;
            node.kill(&counter);
        };
        let (down, ()) = futures::join!(watching, kill);
        assert_eq!(down.unwrap(), Term::tuple([a("down"), a("killed")]));
        // A process that is already gone: noproc at once.
        let again = beam
            .call_timeout::<Term>(driver, &wait, Duration::from_secs(15))
            .await;
        assert_eq!(again.unwrap(), Term::tuple([a("down"), a("noproc")]));
    });
}

#[test]
fn a_rust_monitor_or_link_on_an_erlang_process_gets_its_reason() {
    if !actors_integration::erlang::present(
        "a_rust_monitor_or_link_on_an_erlang_process_gets_its_reason",
    ) {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let erl = ErlNode::start("watched", COOKIE, epmd, None);
        let beam = node.beam().unwrap();
        for (reason, expect) in [
            (a("normal"), ExitReason::Normal),
            (
                Term::tuple([a("shutdown"), a("asked")]),
                ExitReason::Shutdown,
            ),
            (a("boom"), ExitReason::Error("boom".into())),
        ] {
            let erl_pid = waiter(&node, &erl).await;
            let pid = beam.pid(&erl_pid).unwrap();
            let down = node.monitor(pid);
            // The monitor is in place before the exit: the control messages keep their order.
            beam.send(erl_pid, &Term::tuple([a("exit_with"), reason]))
                .await
                .unwrap();
            let down = actors::rt::timeout(Duration::from_secs(10), down)
                .await
                .unwrap();
            assert_eq!(down.reason, expect);
        }
        // Monitoring a process that is gone: noproc.
        let erl_pid = waiter(&node, &erl).await;
        beam.send(erl_pid.clone(), &Term::tuple([a("exit_with"), a("normal")]))
            .await
            .unwrap();
        let gone = beam.pid(&erl_pid).unwrap();
        actors_integration::until("the waiter gone", Duration::from_secs(10), || async {
            let probe = node.monitor(gone.clone());
            matches!(actors::rt::timeout(Duration::from_millis(200), probe).await, Ok(d) if d.reason == ExitReason::NoProc)
        })
        .await;

        // A link: the trapping Rust process gets the Erlang process's reason.
        let linker = node.spawn(Linker { exits: vec![] });
        let erl_pid = waiter(&node, &erl).await;
        assert_eq!(linker.link_to(erl_pid.clone()).await, Ok(true));
        let rust_pid = Term::Pid(beam.erl_pid(&linker.any()).unwrap());
        actors_integration::until(
            "the link on the Erlang side",
            Duration::from_secs(10),
            || {
                let check = Term::tuple([a("linked_to"), rust_pid.clone()]);
                let (node, erl) = (&node, &erl);
                async move { drive(node, erl, check).await == a("true") }
            },
        )
        .await;
        beam.send(erl_pid, &Term::tuple([a("exit_with"), a("boom")]))
            .await
            .unwrap();
        actors_integration::until("the exit signal", Duration::from_secs(10), || async {
            linker.exits().await == Ok(vec![ExitReason::Error("boom".into())])
        })
        .await;

        // Linked again and unlinked (UNLINK_ID): the Erlang side lets go too.
        let erl_pid = waiter(&node, &erl).await;
        assert_eq!(linker.link_to(erl_pid.clone()).await, Ok(true));
        let linked = |on: bool| {
            let check = Term::tuple([a("linked_to"), rust_pid.clone()]);
            let (node, erl) = (&node, &erl);
            async move { (drive(node, erl, check).await == a("true")) == on }
        };
        actors_integration::until("linked", Duration::from_secs(10), || linked(true)).await;
        linker.unlink_from(erl_pid).await.unwrap();
        actors_integration::until(
            "unlinked on the Erlang side",
            Duration::from_secs(10),
            || linked(false),
        )
        .await;
    });
}

#[test]
fn an_erlang_link_to_a_rust_process_brings_its_exit_reason() {
    if !actors_integration::erlang::present(
        "an_erlang_link_to_a_rust_process_brings_its_exit_reason",
    ) {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let erl = ErlNode::start("linking", COOKIE, epmd, None);
        let beam = node.beam().unwrap();
        let counter = node.spawn(Counter { n: 0 });
        let rust_pid = Term::Pid(beam.erl_pid(&counter.any()).unwrap());
        let wait = Term::tuple([a("link_and_wait"), rust_pid, Term::Int(10_000)]);
        let driver = BeamDest::name("driver", &erl.name);
        let linked = beam.call_timeout::<Term>(driver, &wait, Duration::from_secs(15));
        let exit = async {
            actors_integration::until("the Erlang link", Duration::from_secs(10), || async {
                let info = node.process_info(counter.any()).await;
                info.is_some_and(|i| !i.links.is_empty())
            })
            .await;
            node.exit(&counter, ExitReason::Error("worn out".into()));
        };
        let (got, ()) = futures::join!(linked, exit);
        assert_eq!(
            got.unwrap(),
            Term::tuple([
                a("exit"),
                Term::tuple([a("error"), Term::binary("worn out")])
            ])
        );
    });
}

#[test]
fn a_killed_erlang_node_breaks_monitors_and_links_with_noconnection() {
    if !actors_integration::erlang::present(
        "a_killed_erlang_node_breaks_monitors_and_links_with_noconnection",
    ) {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let mut erl = ErlNode::start("killed", COOKIE, epmd, None);
        let beam = node.beam().unwrap();
        let erl_pid = waiter(&node, &erl).await;
        let pid = beam.pid(&erl_pid).unwrap();
        let down = node.monitor(pid);
        let linker = node.spawn(Linker { exits: vec![] });
        let other = waiter(&node, &erl).await;
        assert_eq!(linker.link_to(other).await, Ok(true));
        let calling: Result<Term, _> = {
            let slow = beam.call_timeout::<Term>(
                BeamDest::name("kv", &erl.name),
                &Kv::Slow,
                Duration::from_secs(10),
            );
            let kill = async {
                // The call is on its way; the node dies under it.
                actors_integration::until("the link in place", Duration::from_secs(10), || async {
                    let info = node.process_info(linker.any()).await;
                    info.is_some_and(|i| !i.links.is_empty())
                })
                .await;
                erl.kill();
            };
            futures::join!(slow, kill).0
        };
        assert_eq!(calling, Err(BeamError::NoConnection));
        let down = actors::rt::timeout(Duration::from_secs(10), down)
            .await
            .unwrap();
        assert_eq!(down.reason, ExitReason::NoConnection);
        actors_integration::until("the link broken", Duration::from_secs(10), || async {
            linker.exits().await == Ok(vec![ExitReason::NoConnection])
        })
        .await;
        assert!(beam.nodes().is_empty());
    });
}

#[test]
fn a_killed_rust_node_is_seen_down_by_erlang() {
    if !actors_integration::erlang::present("a_killed_rust_node_is_seen_down_by_erlang") {
        return;
    }
    actors::rt::block_on(async {
        // This node serves the EPMD, so that it outlives the child that is killed.
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let child_name = "child@127.0.0.1";
        let mut child = actors_integration::child::ChildNode::start(
            env!("CARGO_BIN_EXE_testnode"),
            "child@127.0.0.1:0",
            &[],
            &[
                "--cookie",
                COOKIE,
                "--beam",
                child_name,
                "--epmd",
                &epmd.to_string(),
            ],
        );
        let erl = ErlNode::start("watcher", COOKIE, epmd, None);
        // Erlang calls the child's counter, then monitors it while the child is killed.
        let call = Term::tuple([
            a("call"),
            Term::tuple([a("counter"), a(child_name)]),
            Term::tuple([a("add"), Term::Int(2)]),
        ]);
        assert_eq!(drive(&node, &erl, call).await, Term::Int(2));
        let wait = Term::tuple([
            a("monitor_wait"),
            Term::tuple([a("counter"), a(child_name)]),
            Term::Int(10_000),
        ]);
        let beam = node.beam().unwrap();
        let watching = beam.call_timeout::<Term>(
            BeamDest::name("driver", &erl.name),
            &wait,
            Duration::from_secs(15),
        );
        let kill = async {
            // The connection is up (the call went over it). Whether the monitor reaches the
            // child before it dies or after, Erlang's answer is the same: noconnection.
            child.kill();
        };
        let (down, ()) = futures::join!(watching, kill);
        assert_eq!(down.unwrap(), Term::tuple([a("down"), a("noconnection")]));
    });
}

#[test]
fn a_frozen_erlang_node_is_seen_down_by_its_ticks() {
    if !actors_integration::erlang::present("a_frozen_erlang_node_is_seen_down_by_its_ticks") {
        return;
    }
    actors::rt::block_on(async {
        let node = Node::builder(&format!("{RUST}:0"))
            .cookie(COOKIE)
            .beam(RUST)
            .epmd_port(0)
            .beam_ticktime(Duration::from_secs(2))
            .start()
            .await
            .unwrap();
        let epmd = node.beam().unwrap().epmd_port();
        let mut erl = ErlNode::start_ticking("rust_peer", "frozen", COOKIE, epmd, None, 2);
        let beam = node.beam().unwrap();
        let erl_pid = waiter(&node, &erl).await;
        let down = node.monitor(beam.pid(&erl_pid).unwrap());
        let mut events = beam.monitor_nodes();
        erl.freeze();
        let frozen_at = std::time::Instant::now();
        let down = actors::rt::timeout(Duration::from_secs(10), down)
            .await
            .unwrap();
        assert_eq!(down.reason, ExitReason::NoConnection);
        let seen = frozen_at.elapsed();
        assert!(
            seen >= Duration::from_millis(1500),
            "seen down after {seen:?}: too soon for a tick time of 2 s"
        );
        let event = actors::rt::timeout(
            Duration::from_secs(5),
            futures::StreamExt::next(&mut events),
        )
        .await
        .unwrap();
        assert_eq!(
            event,
            Some(actors_net::beam::BeamNodeEvent::Down(erl.name.clone()))
        );
    });
}

#[test]
fn a_connection_replaced_by_its_node_goes_down_before_the_new_one_comes_up() {
    use actors_net::beam::BeamNodeEvent::{Down, Up};
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let beam = node.beam().unwrap();
        let mut events = beam.monitor_nodes();
        let port = beam.port();
        let name = "fake@127.0.0.1";
        let first = fake::connect(port, name, COOKIE).await.unwrap();
        // The same node again, as a restarted node would: the old connection is replaced.
        let second = fake::connect(port, name, COOKIE).await.unwrap();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let next = actors::rt::timeout(
                Duration::from_secs(5),
                futures::StreamExt::next(&mut events),
            );
            seen.push(next.await.expect("an event").expect("the stream goes on"));
        }
        assert_eq!(
            seen,
            vec![Up(name.into()), Down(name.into()), Up(name.into())]
        );
        assert_eq!(beam.nodes(), vec![name.to_string()]);
        drop((first, second));
    });
}
