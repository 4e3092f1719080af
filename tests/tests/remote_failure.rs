//! Failure across nodes: remote monitors and links with Erlang's reasons, remote spawn,
//! supervisors with children on other nodes, node monitors, and no leaks.

use std::future::IntoFuture;
use std::time::Duration;

use actors::rt::block_on;
use actors::supervisor::{Strategy, Supervisor};
use actors_integration::child::ChildNode;
use actors_integration::*;
use actors_net::prelude::*;
use actors_net::{SpawnError, failover_child, remote_child};

const WAIT: Duration = Duration::from_secs(10);
const BIN: &str = env!("CARGO_BIN_EXE_testnode");

fn down(e: &Event) -> &Down {
    match e {
        Event::Down(d) => d,
        other => panic!("expected a Down, got {other:?}"),
    }
}

fn exit(e: &Event) -> &Exit {
    match e {
        Event::Exit(x) => x,
        other => panic!("expected an Exit, got {other:?}"),
    }
}

#[test]
fn a_remote_monitor_reports_the_real_reason() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let (watcher, log) = probe(a);
        let (_, counter) = remote_counter(b, a, "c").await;
        let r = watcher.watch(counter.any()).await.unwrap();
        counter
            .quit(ExitReason::Error("remote failure".into()))
            .await
            .unwrap();
        let seen = events(&log, 1, WAIT).await;
        let d = down(&seen[0]);
        assert_eq!((d.monitor_ref, &d.pid), (r, &counter.any()));
        assert_eq!(d.reason, ExitReason::Error("remote failure".into()));
        // Exactly one, and nothing left behind on either side.
        until("the monitor to be released", WAIT, || async {
            a.connection_info(b.name()).unwrap().monitors_held == SYSTEM_MONITORS
                && b.connection_info(a.name()).unwrap().monitors_served == SYSTEM_MONITORS
        })
        .await;
        assert_eq!(watcher.ping().await, Ok(1));
        assert_eq!(log.lock().unwrap().len(), 1);
    });
}

#[test]
fn monitoring_a_dead_remote_process_gives_noproc() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let (watcher, log) = probe(a);
        let (_, counter) = remote_counter(b, a, "c").await;
        counter.quit(ExitReason::Normal).await.unwrap();
        watcher.watch(counter.any()).await.unwrap();
        assert_eq!(
            down(&events(&log, 1, WAIT).await[0]).reason,
            ExitReason::NoProc
        );
        // From outside an actor too.
        assert_eq!(a.monitor(&counter).await.reason, ExitReason::NoProc);
    });
}

#[test]
fn losing_the_node_gives_noconnection_and_demonitor_silences_it() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let (watcher, log) = probe(a);
        let (_, kept) = remote_counter(b, a, "kept").await;
        let (_, dropped) = remote_counter(b, a, "dropped").await;
        watcher.watch(kept.any()).await.unwrap();
        let cancelled = watcher.watch(dropped.any()).await.unwrap();
        assert!(watcher.unwatch(cancelled).await.unwrap());
        a.block(b.name());
        let seen = events(&log, 1, WAIT).await;
        assert_eq!(down(&seen[0]).pid, kept.any());
        assert_eq!(down(&seen[0]).reason, ExitReason::NoConnection);
        // The cancelled monitor gives nothing, even though its node died.
        assert_eq!(watcher.ping().await, Ok(1));
        assert_eq!(log.lock().unwrap().len(), 1);
        // Monitoring a process of a node that is already down: NoConnection at once.
        watcher.watch(kept.any()).await.unwrap();
        assert_eq!(
            down(&events(&log, 2, WAIT).await[1]).reason,
            ExitReason::NoConnection
        );
    });
}

#[test]
fn an_exit_crosses_a_link_between_nodes() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let (linked, _) = probe(a);
        let (_, counter) = remote_counter(b, a, "c").await;
        linked.link_to(counter.any()).await.unwrap();
        let gone = a.monitor(&linked);
        counter
            .quit(ExitReason::Error("shared fate".into()))
            .await
            .unwrap();
        assert_eq!(gone.await.reason, ExitReason::Error("shared fate".into()));
        until("the link to be released", WAIT, || async {
            a.connection_info(b.name()).unwrap().links == 0
                && b.connection_info(a.name()).unwrap().links == 0
        })
        .await;
    });
}

#[test]
fn an_exit_chain_crosses_two_nodes() {
    block_on(async {
        let nodes = cluster(2).await;
        let (n0, n1) = (&nodes[0], &nodes[1]);
        // first (n0) - middle (n1) - last (n0)
        let (first, _) = probe(n0);
        let middle_local = n1.spawn(Probe {
            log: Log::default(),
        });
        n1.register("middle", &middle_local).unwrap();
        let middle: Pid<Probe> = n0.whereis_on("middle", n1.name()).await.unwrap();
        let (last, _) = probe(n0);
        first.link_to(middle.any()).await.unwrap();
        middle.link_to(last.any()).await.unwrap();
        let downs = [n0.monitor(&first), n0.monitor(&middle), n0.monitor(&last)];
        last.stop_with(ExitReason::Error("end of the chain".into()))
            .await
            .unwrap();
        for d in downs {
            assert_eq!(d.await.reason, ExitReason::Error("end of the chain".into()));
        }
    });
}

#[test]
fn a_trapping_process_sees_noconnection_when_the_link_is_cut() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let (trapper, log) = probe(a);
        trapper.trap(true).await.unwrap();
        let (_, counter) = remote_counter(b, a, "c").await;
        trapper.link_to(counter.any()).await.unwrap();
        until("the link to reach b", WAIT, || async {
            b.connection_info(a.name()).is_some_and(|i| i.links == 1)
        })
        .await;
        b.block(a.name());
        let seen = events(&log, 1, WAIT).await;
        assert_eq!(exit(&seen[0]).from, counter.any());
        assert_eq!(exit(&seen[0]).reason, ExitReason::NoConnection);
        assert!(a.process_info(&trapper).await.unwrap().links.is_empty());
    });
}

#[test]
fn linking_to_a_dead_remote_process_gives_noproc_and_no_link() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let (trapper, log) = probe(a);
        trapper.trap(true).await.unwrap();
        let (_, counter) = remote_counter(b, a, "c").await;
        counter.quit(ExitReason::Normal).await.unwrap();
        trapper.link_to(counter.any()).await.unwrap();
        let seen = events(&log, 1, WAIT).await;
        assert_eq!(exit(&seen[0]).reason, ExitReason::NoProc);
        assert!(a.process_info(&trapper).await.unwrap().links.is_empty());
    });
}

#[test]
fn processes_are_spawned_on_other_nodes() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        assert!(matches!(
            a.spawn_on(b.name(), Counter { n: 5 }).await,
            Err(SpawnError::Refused(why)) if why.contains("allow_spawn")
        ));
        b.allow_spawn::<Counter>();
        let before = b.process_count();
        let counter = a
            .spawn_on(b.name(), Counter { n: 5 })
            .await
            .expect("spawned on b");
        assert_eq!(counter.node(), b.name());
        assert_eq!(counter.add(1).await, Ok(6), "its state came along");
        assert_eq!(b.process_count(), before + 1);
    });
}

#[test]
fn spawn_link_and_spawn_monitor_on_another_node() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        b.allow_spawn::<Counter>();
        let (parent, log) = probe(a);
        parent.trap(true).await.unwrap();
        let child = parent
            .spawn_linked_counter(b.name().to_string(), 1)
            .await
            .unwrap()
            .expect("spawned");
        assert_eq!(
            a.process_info(&parent).await.unwrap().links,
            vec![child.any()]
        );
        let _ = child.crash().await;
        let seen = events(&log, 1, WAIT).await;
        assert_eq!(exit(&seen[0]).from, child.any());
        assert_eq!(
            exit(&seen[0]).reason,
            ExitReason::Panic("counter crashed on request".into())
        );

        let (watched, r) = parent
            .spawn_monitored_counter(b.name().to_string(), 2)
            .await
            .unwrap()
            .expect("spawned");
        watched.quit(ExitReason::Error("bye".into())).await.unwrap();
        let seen = events(&log, 2, WAIT).await;
        assert_eq!(
            (down(&seen[1]).monitor_ref, &down(&seen[1]).reason),
            (r, &ExitReason::Error("bye".into()))
        );
    });
}

#[test]
fn a_supervisor_restarts_its_child_on_another_node() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        b.allow_spawn::<Counter>();
        let sup = Supervisor::new(Strategy::OneForOne)
            .child(remote_child("remote", b.name(), || Counter { n: 10 }))
            .start(&a.clone())
            .await
            .expect("the children start");
        let first: Pid<Counter> = sup.which_children().await.unwrap()[0]
            .pid
            .clone()
            .unwrap()
            .downcast()
            .unwrap();
        assert_eq!(first.node(), b.name());
        assert_eq!(first.add(1).await, Ok(11));
        let _ = first.crash().await;
        until("the child to be restarted on b", WAIT, || async {
            let c = sup.which_children().await.unwrap();
            c[0].pid
                .as_ref()
                .is_some_and(|p| *p != first.any() && p.node() == b.name())
        })
        .await;
        let second: Pid<Counter> = sup.which_children().await.unwrap()[0]
            .pid
            .clone()
            .unwrap()
            .downcast()
            .unwrap();
        assert_eq!(second.add(1).await, Ok(11), "fresh state");
        // Stopping the supervisor stops the remote child.
        let child_down = a.monitor(&second);
        a.stop(&sup, ExitReason::Shutdown);
        assert_eq!(child_down.await.reason, ExitReason::Shutdown);
    });
}

/// The supervisor's one child, typed.
async fn only_child(sup: &Pid<Supervisor>) -> Option<Pid<Counter>> {
    sup.which_children().await.ok()?[0].pid.as_ref()?.downcast()
}

#[test]
fn a_failover_child_restarts_on_the_next_node_when_its_node_is_killed() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        b.allow_spawn::<Counter>();
        let mut child = ChildNode::start(BIN, "preferred@127.0.0.1:0", &[a.name()], &[]);
        let preferred = child.name.clone();
        until("a to see the child node", WAIT, || async {
            a.nodes().contains(&preferred)
        })
        .await;
        let sup = Supervisor::new(Strategy::OneForOne)
            .child(
                failover_child(
                    "singleton",
                    [preferred.as_str(), "gone@127.0.0.1:1", b.name(), a.name()],
                    || Counter { n: 10 },
                )
                .global_name("the-singleton"),
            )
            .start(a)
            .await
            .expect("the children start");
        // On the first listed node whose member is up: the preferred node's member may be
        // seen a moment after its connection, and the child is then taken over by it.
        until("the child to run on the preferred node", WAIT, || async {
            only_child(&sup)
                .await
                .is_some_and(|c| c.node() == preferred)
        })
        .await;
        let first = only_child(&sup).await.expect("started");
        assert_eq!(first.add(1).await, Ok(11));
        // Found by its cluster-wide name, from any node.
        until("b to find it by its name", WAIT, || async {
            b.global().whereis::<Counter>("the-singleton") == Some(first.clone())
        })
        .await;

        child.kill();
        // The preferred node is gone and the next one cannot be reached: b takes it.
        until("the child to be restarted on b", WAIT, || async {
            only_child(&sup).await.is_some_and(|c| c.node() == b.name())
        })
        .await;
        let second = only_child(&sup).await.expect("restarted");
        assert_eq!(second.add(1).await, Ok(11), "fresh state");
        // The name moved with it, on every node.
        until("the name to move with it", WAIT, || async {
            [a, b]
                .iter()
                .all(|n| n.global().whereis::<Counter>("the-singleton") == Some(second.clone()))
        })
        .await;

        // Then on a itself, when b goes too.
        a.block(b.name());
        until("the child to be restarted on a", WAIT, || async {
            only_child(&sup).await.is_some_and(|c| c.node() == a.name())
        })
        .await;
        let counts = sup.count_children().await.unwrap();
        assert_eq!(counts.active, 1);
    });
}

/// The supervisor that added a failover child is on a node that is then killed (an OS
/// process): the nodes left, which never ran a supervisor of it, keep it running.
#[test]
fn a_failover_child_outlives_the_node_whose_supervisor_added_it() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        for n in [a, b] {
            n.allow_spawn::<Counter>();
        }
        let order = format!("solo={},{}", a.name(), b.name());
        let mut starter = ChildNode::start(
            BIN,
            "starter@127.0.0.1:0",
            &[a.name()],
            &["--failover", &order],
        );
        let on = |n: &Node, at: String| {
            let n = n.clone();
            async move {
                match n.global().whereis::<Counter>("solo") {
                    Some(c) => c.node() == at && c.add(0).await.is_ok(),
                    None => false,
                }
            }
        };
        until("the child to run on a, the first listed", WAIT, || {
            on(a, a.name().to_string())
        })
        .await;
        starter.kill();
        until("the child to answer again on a", WAIT, || {
            on(a, a.name().to_string())
        })
        .await;
        // Then a is cut off, and b, next on the list, runs it.
        a.block(b.name());
        until("the child to run on b", WAIT, || {
            on(b, b.name().to_string())
        })
        .await;
    });
}

#[test]
fn monitor_node_resolves_when_the_node_goes_down() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let watching = a.monitor_node(b.name());
        let mut watching = std::pin::pin!(watching);
        assert!(futures::poll!(watching.as_mut()).is_pending());
        b.disconnect(a.name());
        actors::rt::timeout(WAIT, watching).await.expect("resolved");
        // A node that cannot be reached: at once.
        actors::rt::timeout(WAIT, a.monitor_node("nobody@127.0.0.1:1"))
            .await
            .expect("resolved at once");
    });
}

#[test]
fn ten_thousand_monitor_and_link_cycles_leak_nothing() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        b.allow_spawn::<Counter>();
        let b_before = b.process_count();
        let (watcher, log) = probe(a);
        let (linker, _) = probe(a);
        linker.trap(true).await.unwrap();
        const BATCH: usize = 100;
        for round in 0..100 {
            let mut batch = Vec::new();
            for _ in 0..BATCH {
                let c = a.spawn_on(b.name(), Counter { n: 0 }).await.unwrap();
                watcher.watch(c.any()).await.unwrap();
                linker.link_to(c.any()).await.unwrap();
                batch.push(c);
            }
            for c in &batch {
                c.quit(ExitReason::Error("cycle".into())).await.unwrap();
            }
            events(&log, (round + 1) * BATCH, WAIT).await;
        }
        until("everything to be released", WAIT, || async {
            let ia = a.connection_info(b.name()).unwrap();
            let ib = b.connection_info(a.name()).unwrap();
            (
                ia.links,
                ia.monitors_held,
                ia.monitors_served,
                ia.pending_calls,
            ) == (0, SYSTEM_MONITORS, SYSTEM_MONITORS, 0)
                && (ib.links, ib.monitors_held, ib.monitors_served)
                    == (0, SYSTEM_MONITORS, SYSTEM_MONITORS)
        })
        .await;
        assert_eq!(b.process_count(), b_before);
        let info = a.process_info(&watcher).await.unwrap();
        assert!(info.monitors.is_empty());
        let info = a.process_info(&linker).await.unwrap();
        assert!(info.links.is_empty());
    });
}

#[test]
fn a_killed_node_process_ends_monitors_and_links_with_noconnection() {
    block_on(async {
        let a = start("a").await;
        let mut child = join_child(BIN, "doomed@127.0.0.1:0", &a).await;
        let counter: Pid<Counter> = a.whereis_on("counter", &child.name).await.unwrap();
        let (watcher, log) = probe(&a);
        watcher.watch(counter.any()).await.unwrap();
        let (linked, _) = probe(&a);
        linked.link_to(counter.any()).await.unwrap();
        let linked_down = a.monitor(&linked);
        child.kill();
        assert_eq!(
            down(&events(&log, 1, WAIT).await[0]).reason,
            ExitReason::NoConnection
        );
        assert_eq!(linked_down.await.reason, ExitReason::NoConnection);
    });
}

#[test]
fn a_frozen_node_process_ends_monitors_with_noconnection() {
    block_on(async {
        let a = start("a").await;
        let mut child = join_child(BIN, "stuck@127.0.0.1:0", &a).await;
        let counter: Pid<Counter> = a.whereis_on("counter", &child.name).await.unwrap();
        let (watcher, log) = probe(&a);
        watcher.watch(counter.any()).await.unwrap();
        child.freeze();
        assert_eq!(
            down(&events(&log, 1, WAIT).await[0]).reason,
            ExitReason::NoConnection
        );
        child.thaw();
    });
}

#[test]
fn a_monitor_of_a_pid_from_an_earlier_run_gives_noproc() {
    block_on(async {
        let a = start("a").await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let name = format!("again@127.0.0.1:{port}");
        let mut first = join_child(BIN, &name, &a).await;
        let old: Pid<Counter> = a.whereis_on("counter", &name).await.unwrap();
        let mut events_a = a.monitor_nodes();
        first.kill();
        assert_eq!(
            next_event(&mut events_a, WAIT).await,
            NodeEvent::Down(name.clone())
        );
        let _second = ChildNode::start(BIN, &name, &[a.name()], &[]);
        assert_eq!(
            next_event(&mut events_a, WAIT).await,
            NodeEvent::Up(name.clone())
        );
        let (watcher, log) = probe(&a);
        watcher.watch(old.any()).await.unwrap();
        assert_eq!(
            down(&events(&log, 1, WAIT).await[0]).reason,
            ExitReason::NoProc
        );
    });
}

#[test]
fn an_unlink_wins_over_an_exit_already_on_its_way() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let (survivor, _) = probe(a);
        let (_, counter) = remote_counter(b, a, "c").await;
        survivor.link_to(counter.any()).await.unwrap();
        // The survivor is busy; its unlink waits in its mailbox; then the linked process
        // ends, and its exit signal arrives behind the unlink.
        let mut nap = std::pin::pin!(survivor.nap(300).into_future());
        assert!(futures::poll!(nap.as_mut()).is_pending());
        let mut unlink = std::pin::pin!(survivor.unlink_from(counter.any()).into_future());
        assert!(futures::poll!(unlink.as_mut()).is_pending());
        counter
            .quit(ExitReason::Error("in flight".into()))
            .await
            .unwrap();
        assert_eq!(nap.await, Ok(()));
        assert_eq!(unlink.await, Ok(()));
        // Once unlinked, the exit that was on its way does not end the survivor.
        assert_eq!(survivor.ping().await, Ok(1));
        assert!(a.process_info(&survivor).await.unwrap().links.is_empty());
    });
}

#[test]
fn across_three_nodes_only_what_depended_on_the_lost_node_ends() {
    block_on(async {
        let nodes = cluster(3).await;
        let (n0, n1, n2) = (&nodes[0], &nodes[1], &nodes[2]);
        // A watcher on n0 and a linked process on n1 both depend on a process on n2, and on
        // one on n1.
        let (watcher, log) = probe(n0);
        let (trapper, trap_log) = probe(n1);
        trapper.trap(true).await.unwrap();
        let (_, on_n2) = remote_counter(n2, n0, "far").await;
        let (_, on_n1) = remote_counter(n1, n0, "near").await;
        watcher.watch(on_n2.any()).await.unwrap();
        watcher.watch(on_n1.any()).await.unwrap();
        let on_n2_from_n1: Pid<Counter> = n1.whereis_on("far", n2.name()).await.unwrap();
        trapper.link_to(on_n2_from_n1.any()).await.unwrap();
        // n2 is cut off from both.
        for n in [n0, n1] {
            n.block(n2.name());
            n2.block(n.name());
        }
        let seen = events(&log, 1, WAIT).await;
        assert_eq!(down(&seen[0]).pid, on_n2.any());
        assert_eq!(down(&seen[0]).reason, ExitReason::NoConnection);
        let seen = events(&trap_log, 1, WAIT).await;
        assert_eq!(exit(&seen[0]).reason, ExitReason::NoConnection);
        // What depends on n1 is untouched.
        assert_eq!(on_n1.add(1).await, Ok(1));
        assert_eq!(watcher.ping().await, Ok(1));
        assert_eq!(log.lock().unwrap().len(), 1);
    });
}
