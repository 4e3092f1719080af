//! Cluster-wide names: register, whereis, unregister, re_register and send on every node;
//! racing registrations; names that follow their owners; healing with each resolver; late
//! joiners; cluster locks; clean partitions.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actors::rt::block_on;
use actors_integration::*;
use actors_net::global::{GlobalError, Resolver};
use actors_net::prelude::*;

const WAIT: Duration = Duration::from_secs(10);
const BIN: &str = env!("CARGO_BIN_EXE_testnode");

fn same_on_all(nodes: &[Node], name: &str) -> Vec<Option<AnyPid>> {
    nodes.iter().map(|n| n.global().whereis_any(name)).collect()
}

async fn until_all_see(nodes: &[Node], name: &str, pid: Option<&AnyPid>) {
    let nodes = nodes.to_vec();
    let name = name.to_string();
    let pid = pid.cloned();
    until(
        &format!("every node to see {name} as {pid:?}"),
        WAIT,
        || {
            let (nodes, name, pid) = (nodes.clone(), name.clone(), pid.clone());
            async move { same_on_all(&nodes, &name).iter().all(|p| *p == pid) }
        },
    )
    .await;
}

#[test]
fn register_whereis_unregister_and_send_on_every_node() {
    block_on(async {
        let nodes = cluster(3).await;
        let counter = nodes[1].spawn(Counter { n: 0 });
        nodes[2]
            .global()
            .register("counter", &counter)
            .await
            .expect("free");
        // Committed everywhere before register returns.
        for n in &nodes {
            let found: Pid<Counter> = n.global().whereis("counter").expect("visible");
            assert_eq!(found, counter);
            assert_eq!(found.add(1).await.map(|_| ()), Ok(()));
            assert!(n.global().whereis::<Other>("counter").is_none(), "typed");
        }
        let via_send: Pid<Counter> = nodes[0].global().send("counter").unwrap();
        assert_eq!(via_send.get().await, Ok(3));
        assert_eq!(
            nodes[0].global().send::<Counter>("nobody").err(),
            Some(GlobalError::NotRegistered("nobody".into()))
        );
        assert_eq!(
            nodes[0].global().registered_names(),
            vec!["counter".to_string()]
        );

        // A taken name, and a process that already has one.
        let other = nodes[0].spawn(Counter { n: 0 });
        assert_eq!(
            nodes[0].global().register("counter", &other).await,
            Err(GlobalError::NameTaken("counter".into()))
        );
        assert_eq!(
            nodes[0].global().register("alias", &counter).await,
            Err(GlobalError::AlreadyNamed("counter".into()))
        );

        // re_register moves the name atomically.
        nodes[0]
            .global()
            .re_register("counter", &other)
            .await
            .unwrap();
        for n in &nodes {
            assert_eq!(n.global().whereis_any("counter"), Some(other.any()));
        }
        nodes[1].global().unregister("counter").await.unwrap();
        assert_eq!(same_on_all(&nodes, "counter"), vec![None, None, None]);
    });
}

#[test]
fn racing_registrations_have_exactly_one_winner() {
    block_on(async {
        let nodes = cluster(3).await;
        for round in 0..20 {
            let name = format!("contested-{round}");
            let mine = nodes[1].spawn(Counter { n: 1 });
            let theirs = nodes[2].spawn(Counter { n: 2 });
            let (g1, g2) = (nodes[1].global(), nodes[2].global());
            let (r1, r2) = futures::join!(g1.register(&name, &mine), g2.register(&name, &theirs));
            let wins = [&r1, &r2].iter().filter(|r| r.is_ok()).count();
            assert_eq!(wins, 1, "round {round}: {r1:?} {r2:?}");
            let winner = if r1.is_ok() { mine.any() } else { theirs.any() };
            for r in [r1, r2] {
                assert!(matches!(r, Ok(()) | Err(GlobalError::NameTaken(_))));
            }
            assert_eq!(same_on_all(&nodes, &name), vec![Some(winner); 3]);
        }
    });
}

#[test]
fn a_name_goes_when_its_owner_ends() {
    block_on(async {
        let nodes = cluster(3).await;
        let owner = nodes[2].spawn(Counter { n: 0 });
        nodes[0]
            .global()
            .register("short-lived", &owner)
            .await
            .unwrap();
        owner.quit(ExitReason::Normal).await.unwrap();
        until_all_see(&nodes, "short-lived", None).await;
        // And it can be taken again.
        let next = nodes[0].spawn(Counter { n: 0 });
        nodes[1]
            .global()
            .register("short-lived", &next)
            .await
            .unwrap();
    });
}

#[test]
fn a_name_goes_when_its_node_is_lost() {
    block_on(async {
        let nodes = cluster(3).await;
        let owner = nodes[2].spawn(Counter { n: 0 });
        nodes[0].global().register("on-n2", &owner).await.unwrap();
        nodes[2].shutdown().await;
        until_all_see(&nodes[..2], "on-n2", None).await;
    });
}

#[test]
fn a_name_goes_when_its_node_process_is_killed() {
    block_on(async {
        let nodes = cluster(2).await;
        let mut child = join_child(BIN, "victim@127.0.0.1:0", &nodes[0]).await;
        let counter: Pid<Counter> = nodes[0].whereis_on("counter", &child.name).await.unwrap();
        nodes[1]
            .global()
            .register("remote", &counter)
            .await
            .unwrap();
        assert_eq!(same_on_all(&nodes, "remote"), vec![Some(counter.any()); 2]);
        child.kill();
        until_all_see(&nodes, "remote", None).await;
    });
}

#[test]
fn a_late_joiner_receives_the_whole_table() {
    block_on(async {
        let nodes = cluster(3).await;
        let mut names = Vec::new();
        for i in 0..5 {
            let pid = nodes[i % 3].spawn(Counter { n: i as u64 });
            let name = format!("name-{i}");
            nodes[0].global().register(&name, &pid).await.unwrap();
            names.push(name);
        }
        let late = start("late").await;
        late.connect(nodes[0].name()).await.unwrap();
        until("the late joiner to learn every name", WAIT, || async {
            late.global().registered_names() == names
        })
        .await;
        let p: Pid<Counter> = late.global().whereis("name-4").unwrap();
        assert_eq!(p.get().await, Ok(4));
    });
}

/// What a heal test looks at.
struct Healed {
    nodes: Vec<Node>,
    /// The process of the smaller node's side, and how it ended, if it did.
    first: Pid<Probe>,
    first_log: Log,
    first_down: actors::MonitorHandle,
    /// The other one.
    second: Pid<Probe>,
    second_log: Log,
    second_down: actors::MonitorHandle,
}

/// Two partitions each register `shared` to a process of their own, then heal.
async fn split_register_heal(resolver: impl Fn() -> Resolver, trap: bool) -> Healed {
    let nodes = cluster(4).await;
    for n in &nodes {
        n.global().set_resolver(resolver());
    }
    let left = vec![nodes[0].clone(), nodes[1].clone()];
    let right = vec![nodes[2].clone(), nodes[3].clone()];
    partition(&[left.clone(), right.clone()]).await;
    let (l, l_log) = probe(&nodes[1]);
    let (r, r_log) = probe(&nodes[3]);
    if trap {
        l.trap(true).await.unwrap();
        r.trap(true).await.unwrap();
    }
    nodes[0].global().register("shared", &l).await.unwrap();
    nodes[2].global().register("shared", &r).await.unwrap();
    assert_eq!(nodes[0].global().whereis_any("shared"), Some(l.any()));
    assert_eq!(nodes[2].global().whereis_any("shared"), Some(r.any()));
    let (l_down, r_down) = (nodes[1].monitor(&l), nodes[3].monitor(&r));
    heal(&[left, right]).await;
    Healed {
        nodes,
        first: l,
        first_log: l_log,
        first_down: l_down,
        second: r,
        second_log: r_log,
        second_down: r_down,
    }
}

fn decisions(nodes: &[Node]) -> u64 {
    nodes.iter().map(|n| n.global().decisions()).sum()
}

#[test]
fn healing_keeps_one_and_stops_the_other_by_default() {
    block_on(async {
        let h = split_register_heal(|| Resolver::StopLoser, false).await;
        assert_eq!(h.second_down.await.reason, ExitReason::NameConflict);
        until_all_see(&h.nodes, "shared", Some(&h.first.any())).await;
        assert_eq!(
            decisions(&h.nodes),
            1,
            "the resolver ran once for the cluster"
        );
        assert_eq!(h.first.ping().await, Ok(1));
        drop(h.first_down);
    });
}

#[test]
fn healing_can_keep_one_and_notify_the_other() {
    block_on(async {
        let h = split_register_heal(|| Resolver::NotifyLoser, true).await;
        until_all_see(&h.nodes, "shared", Some(&h.first.any())).await;
        let seen = events(&h.second_log, 1, WAIT).await;
        assert!(matches!(&seen[0], Event::Exit(e) if e.reason == ExitReason::NameConflict));
        assert_eq!(h.second.ping().await, Ok(1), "a trapping loser lives on");
        assert!(h.first_log.lock().unwrap().is_empty());
        assert_eq!(decisions(&h.nodes), 1);
    });
}

#[test]
fn healing_can_drop_the_name_and_notify_both() {
    block_on(async {
        let h = split_register_heal(|| Resolver::NotifyBoth, true).await;
        until_all_see(&h.nodes, "shared", None).await;
        for log in [&h.first_log, &h.second_log] {
            let seen = events(log, 1, WAIT).await;
            assert!(matches!(&seen[0], Event::Exit(e) if e.reason == ExitReason::NameConflict));
        }
        assert_eq!(
            (h.first.ping().await, h.second.ping().await),
            (Ok(1), Ok(1))
        );
        assert_eq!(decisions(&h.nodes), 1);
    });
}

#[test]
fn healing_with_a_custom_resolver_runs_it_once() {
    block_on(async {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let h = split_register_heal(
            move || {
                let counted = counted.clone();
                Resolver::custom(move |name, _first, second| {
                    assert_eq!(name, "shared");
                    counted.fetch_add(1, Ordering::SeqCst);
                    Some(second.clone())
                })
            },
            false,
        )
        .await;
        until_all_see(&h.nodes, "shared", Some(&h.second.any())).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn the_same_pid_on_both_sides_is_no_conflict() {
    block_on(async {
        let nodes = cluster(4).await;
        let left = vec![nodes[0].clone(), nodes[1].clone()];
        let right = vec![nodes[2].clone(), nodes[3].clone()];
        let pid = nodes[0].spawn(Counter { n: 0 });
        nodes[0].global().register("stable", &pid).await.unwrap();
        partition(&[left.clone(), right.clone()]).await;
        heal(&[left, right]).await;
        until_all_see(&nodes, "stable", Some(&pid.any())).await;
        assert_eq!(decisions(&nodes), 0);
    });
}

#[test]
fn cluster_locks_are_exclusive_and_freed_with_their_holder() {
    block_on(async {
        let nodes = cluster(3).await;
        let (holder, _) = probe(&nodes[0]);
        let (waiter, _) = probe(&nodes[2]);
        nodes[0]
            .global()
            .set_lock("resource", &holder)
            .await
            .unwrap();
        // Reentrant for its holder.
        nodes[0]
            .global()
            .set_lock("resource", &holder)
            .await
            .unwrap();
        // A node takes locks for its own processes only.
        assert!(matches!(
            nodes[1].global().set_lock("resource", &holder).await,
            Err(GlobalError::NotLocal(_))
        ));
        // Another holder waits...
        let g = nodes[2].global();
        let wait = g.set_lock("resource", &waiter);
        let mut wait = std::pin::pin!(wait);
        assert!(
            actors::rt::timeout(Duration::from_millis(300), wait.as_mut())
                .await
                .is_err(),
            "the lock is held"
        );
        // ...until the holder ends: its locks go with it.
        holder.stop_with(ExitReason::Normal).await.unwrap();
        actors::rt::timeout(WAIT, wait)
            .await
            .expect("taken")
            .unwrap();
        let ran = nodes[2]
            .global()
            .trans("other", &waiter, async { 42 })
            .await
            .unwrap();
        assert_eq!(ran, 42);
        nodes[2]
            .global()
            .del_lock("resource", &waiter)
            .await
            .unwrap();
    });
}

#[test]
fn a_cut_link_leaves_clean_partitions() {
    block_on(async {
        let nodes = cluster(3).await;
        let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
        until("a full mesh", WAIT, || async {
            c.nodes().len() == 2 && a.nodes().len() == 2
        })
        .await;
        // Only the a-b link is cut; c is connected to both.
        a.block(b.name());
        b.block(a.name());
        // c drops the greater of the two, so the parts are {a, c} and {b}, fully connected.
        let (small, great) = if a.name() < b.name() { (a, b) } else { (b, a) };
        until("clean partitions", WAIT, || async {
            c.nodes() == vec![small.name().to_string()] && great.nodes().is_empty()
        })
        .await;
        assert_eq!(small.nodes(), vec![c.name().to_string()]);
    });
}

#[test]
fn a_registration_asks_every_node_not_only_its_own_table() {
    block_on(async {
        // n1 and n2 cannot see each other; both see n0. Clean partitions off, so that the
        // cut n1-n2 link does not split them from n0.
        let mut nodes = Vec::new();
        for name in ["n0", "n1", "n2"] {
            let n = Node::builder(&format!("{name}@127.0.0.1:0"))
                .cookie(COOKIE)
                .clean_partitions(false)
                .start()
                .await
                .unwrap();
            nodes.push(n);
        }
        let (n0, n1, n2) = (&nodes[0], &nodes[1], &nodes[2]);
        n1.block(n2.name());
        n2.block(n1.name());
        n1.connect(n0.name()).await.unwrap();
        n2.connect(n0.name()).await.unwrap();
        until("n0 to see both", WAIT, || async { n0.nodes().len() == 2 }).await;
        let on_n1 = n1.spawn(Counter { n: 1 });
        let on_n2 = n2.spawn(Counter { n: 2 });
        n1.global().register("x", &on_n1).await.unwrap();
        assert!(
            n2.global().whereis_any("x").is_none(),
            "n2 has not heard of it"
        );
        // n2's own table says the name is free; n0's does not, and n0 is asked.
        assert_eq!(
            n2.global().register("x", &on_n2).await,
            Err(GlobalError::NameTaken("x".into()))
        );
        assert_eq!(n0.global().whereis_any("x"), Some(on_n1.any()));
    });
}

#[test]
fn a_registration_one_node_refuses_is_left_bound_on_none() {
    block_on(async {
        // n2 keeps one name; the lowest node, n0, and the registering n1 have room.
        let mut nodes = Vec::new();
        for (name, names) in [("n0", 100), ("n1", 100), ("n2", 1)] {
            let n = Node::builder(&format!("{name}@127.0.0.1:0"))
                .cookie(COOKIE)
                .global_limits(names, 100)
                .start()
                .await
                .unwrap();
            nodes.push(n);
        }
        for n in &nodes[1..] {
            n.connect(nodes[0].name()).await.unwrap();
        }
        until("a full mesh", WAIT, || async {
            nodes.iter().all(|n| n.nodes().len() == 2)
        })
        .await;
        let first = nodes[1].spawn(Counter { n: 1 });
        let second = nodes[1].spawn(Counter { n: 2 });
        nodes[1].global().register("first", &first).await.unwrap();
        // n0 binds "second" before n2 refuses it: it is unbound again, on every node.
        assert_eq!(
            nodes[1].global().register("second", &second).await,
            Err(GlobalError::TableFull(1))
        );
        assert_eq!(same_on_all(&nodes, "second"), vec![None; 3]);
        // Its locks went with it: once n2 has room, the name is free to take.
        nodes[1].global().unregister("first").await.unwrap();
        nodes[1].global().register("second", &second).await.unwrap();
        assert_eq!(same_on_all(&nodes, "second"), vec![Some(second.any()); 3]);
    });
}

#[test]
fn a_registration_given_up_midway_leaves_no_lock() {
    block_on(async {
        let nodes = cluster(3).await;
        let first = nodes[2].spawn(Counter { n: 1 });
        // Dropped while it waits for the lowest node, which takes its locks meanwhile.
        let given_up = actors::rt::timeout(
            Duration::from_micros(1),
            nodes[2].global().register("x", &first),
        )
        .await;
        assert!(
            given_up.is_err(),
            "given up before the lowest node answered"
        );
        // Neither the name nor the pid stays locked: a move of the name goes through (a
        // lock still held would fail it with `Busy` after ten seconds).
        let second = nodes[1].spawn(Counter { n: 2 });
        nodes[1]
            .global()
            .re_register("x", &second)
            .await
            .expect("nothing left locked");
        until_all_see(&nodes, "x", Some(&second.any())).await;
        nodes[2]
            .global()
            .register("y", &first)
            .await
            .expect("the pid is free to name");
    });
}

#[test]
fn a_lock_is_freed_when_its_holders_node_is_lost() {
    block_on(async {
        let nodes = cluster(3).await;
        let (holder, _) = probe(&nodes[2]);
        let (waiter, _) = probe(&nodes[0]);
        nodes[2]
            .global()
            .set_lock("resource", &holder)
            .await
            .unwrap();
        let g = nodes[0].global();
        let wait = g.set_lock("resource", &waiter);
        let mut wait = std::pin::pin!(wait);
        assert!(
            actors::rt::timeout(Duration::from_millis(300), wait.as_mut())
                .await
                .is_err(),
            "the lock is held"
        );
        // The holder's node is cut off: every other node frees its locks.
        for n in &nodes[..2] {
            n.block(nodes[2].name());
            nodes[2].block(n.name());
        }
        actors::rt::timeout(WAIT, wait)
            .await
            .expect("taken")
            .unwrap();
    });
}

#[test]
fn a_table_larger_than_a_frame_reaches_a_late_joiner() {
    block_on(async {
        let small = |name: &'static str| async move {
            Node::builder(&format!("{name}@127.0.0.1:0"))
                .cookie(COOKIE)
                .max_frame(64 * 1024)
                .start()
                .await
                .unwrap()
        };
        let a = small("a").await;
        let pid = a.spawn(Counter { n: 0 });
        let names: Vec<String> = (0..2_000)
            .map(|i| format!("a-rather-long-name-{i:05}"))
            .collect();
        for (i, name) in names.iter().enumerate() {
            // One process per name: a process holds at most one.
            let p = if i == 0 {
                pid.clone()
            } else {
                a.spawn(Counter { n: 0 })
            };
            a.global().register(name, &p).await.unwrap();
        }
        // About 150 KiB of table, more than two frames of this cluster: sent in parts.
        let late = small("late").await;
        late.connect(a.name()).await.unwrap();
        let mut want = names.clone();
        want.sort();
        until("the late joiner to learn every name", WAIT, || async {
            late.global().registered_names() == want
        })
        .await;
    });
}
