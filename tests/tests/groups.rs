//! Process groups: join, leave and members on every node; members that end or whose node is
//! lost (also a `SIGKILL`ed node process); partitions and heals; independent and late
//! scopes; monitors; and nothing left behind.

use std::collections::HashMap;
use std::time::Duration;

use actors::dist::Origin;
use actors::rt::block_on;
use actors_integration::child::ChildNode;
use actors_integration::*;
use actors_net::groups::{GroupError, GroupEvent, GroupEvents, Groups, server_name};
use actors_net::prelude::*;
use actors_net::testing::GroupServer;

const WAIT: Duration = Duration::from_secs(10);
const BIN: &str = env!("CARGO_BIN_EXE_testnode");

/// A pid as every node names it: (node, id).
type Key = (String, u64);

fn key(pid: &AnyPid) -> Key {
    (pid.node().to_string(), pid.id())
}

fn keys<'a>(pids: impl IntoIterator<Item = &'a AnyPid>) -> Vec<Key> {
    let mut keys: Vec<Key> = pids.into_iter().map(key).collect();
    keys.sort();
    keys
}

/// Waits until `scope` on every one of `nodes` lists exactly `want` in `group`.
async fn until_members(nodes: &[Node], scope: &str, group: &str, want: &[&AnyPid]) {
    let want = keys(want.iter().copied());
    let groups: Vec<Groups> = nodes.iter().map(|n| n.scope(scope)).collect();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let seen: Vec<Vec<Key>> = groups.iter().map(|g| keys(&g.members(group))).collect();
        if seen.iter().all(|s| *s == want) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{group}: wanted {want:?} on every node, saw {seen:?}"
        );
        actors::rt::sleep(Duration::from_millis(5)).await;
    }
}

async fn next(events: &mut GroupEvents) -> GroupEvent {
    actors::rt::timeout(WAIT, events.next())
        .await
        .expect("a group event in time")
        .expect("the scope is running")
}

fn counter(node: &Node) -> AnyPid {
    node.spawn(Counter { n: 0 }).any()
}

#[test]
fn join_leave_and_members_on_every_node() {
    block_on(async {
        let nodes = cluster(3).await;
        let a = counter(&nodes[1]);
        let b = counter(&nodes[2]);
        nodes[1].groups().join("g", &a).await.unwrap();
        nodes[2].groups().join("g", &b).await.unwrap();
        nodes[2].groups().join("g", &b).await.unwrap();
        nodes[2].groups().join("other", &b).await.unwrap();
        until_members(&nodes, "pg", "g", &[&a, &b, &b]).await;
        until_members(&nodes, "pg", "other", &[&b]).await;
        for n in &nodes {
            assert_eq!(n.groups().which_groups(), vec!["g", "other"]);
            assert!(n.groups().members("nobody joined").is_empty());
        }
        // Local reads only list this node's members, and are right as soon as join returns.
        assert_eq!(keys(&nodes[1].groups().local_members("g")), keys([&a]));
        assert_eq!(keys(&nodes[2].groups().local_members("g")), keys([&b, &b]));
        assert!(nodes[0].groups().local_members("g").is_empty());

        // Joined twice, so it leaves twice; a third time it is not a member.
        nodes[2].groups().leave("g", &b).await.unwrap();
        until_members(&nodes, "pg", "g", &[&a, &b]).await;
        nodes[2].groups().leave("g", &b).await.unwrap();
        until_members(&nodes, "pg", "g", &[&a]).await;
        assert_eq!(
            nodes[2].groups().leave("g", &b).await,
            Err(GroupError::NotJoined("g".into()))
        );
        // Only a node's own processes join and leave through it.
        assert!(matches!(
            nodes[0].groups().join("g", &a).await,
            Err(GroupError::NotLocal(_))
        ));
        assert!(matches!(
            nodes[0].groups().leave("g", &a).await,
            Err(GroupError::NotLocal(_))
        ));
        // Members are ordinary pids: a call through one crosses the network.
        let found = nodes[0].groups().members("g")[0].downcast::<Counter>();
        assert_eq!(found.expect("a Counter").add(5).await, Ok(5));

        nodes[1].groups().leave("g", &a).await.unwrap();
        until_members(&nodes, "pg", "g", &[]).await;
        for n in &nodes {
            assert_eq!(
                n.groups().which_groups(),
                vec!["other"],
                "an empty group is gone"
            );
        }
    });
}

#[test]
fn a_member_that_ends_leaves_every_group_everywhere() {
    block_on(async {
        let nodes = cluster(3).await;
        let a = counter(&nodes[0]);
        let stays = counter(&nodes[0]);
        for group in ["x", "y", "y"] {
            nodes[0].groups().join(group, &a).await.unwrap();
        }
        nodes[0].groups().join("y", &stays).await.unwrap();
        until_members(&nodes, "pg", "y", &[&a, &a, &stays]).await;
        nodes[0].stop(&a, ExitReason::Normal);
        until_members(&nodes, "pg", "x", &[]).await;
        until_members(&nodes, "pg", "y", &[&stays]).await;
        // A process that is already dead when it joins leaves at once.
        let dead = counter(&nodes[1]);
        nodes[1].kill(&dead);
        until("the process to end", WAIT, || {
            let (n, d) = (nodes[1].clone(), dead.clone());
            async move { !n.is_alive(&d) }
        })
        .await;
        nodes[1].groups().join("z", &dead).await.unwrap();
        until_members(&nodes, "pg", "z", &[]).await;
    });
}

#[test]
fn members_of_a_lost_node_are_removed_on_every_node() {
    block_on(async {
        let nodes = cluster(2).await;
        let mut child = ChildNode::start(
            BIN,
            "groups_child@127.0.0.1:0",
            &[nodes[0].name()],
            &["--join", "workers", "--join", "workers"],
        );
        let here = counter(&nodes[1]);
        nodes[1].groups().join("workers", &here).await.unwrap();
        until("both nodes to see the child's member twice", WAIT, || {
            let nodes = nodes.clone();
            let child = child.name.clone();
            async move {
                nodes.iter().all(|n| {
                    let members = n.groups().members("workers");
                    members.iter().filter(|p| p.node() == child).count() == 2 && members.len() == 3
                })
            }
        })
        .await;
        child.kill();
        until_members(&nodes, "pg", "workers", &[&here]).await;
    });
}

#[test]
fn partitions_see_their_own_members_and_heal_to_the_union() {
    block_on(async {
        let nodes = cluster(4).await;
        let pids: Vec<AnyPid> = nodes.iter().map(counter).collect();
        for (n, p) in nodes.iter().zip(&pids) {
            n.groups().join("room", p).await.unwrap();
        }
        until_members(&nodes, "pg", "room", &pids.iter().collect::<Vec<_>>()).await;

        let left = vec![nodes[0].clone(), nodes[1].clone()];
        let right = vec![nodes[2].clone(), nodes[3].clone()];
        partition(&[left.clone(), right.clone()]).await;
        until_members(&left, "pg", "room", &[&pids[0], &pids[1]]).await;
        until_members(&right, "pg", "room", &[&pids[2], &pids[3]]).await;

        // Each side changes while apart: one joins on the left, one leaves on the right.
        let late = counter(&nodes[1]);
        nodes[1].groups().join("room", &late).await.unwrap();
        nodes[3].groups().leave("room", &pids[3]).await.unwrap();
        until_members(&left, "pg", "room", &[&pids[0], &pids[1], &late]).await;
        until_members(&right, "pg", "room", &[&pids[2]]).await;

        heal(&[left, right]).await;
        until_members(&nodes, "pg", "room", &[&pids[0], &pids[1], &pids[2], &late]).await;
    });
}

#[test]
fn scopes_are_independent_and_a_scope_started_late_catches_up() {
    block_on(async {
        let nodes = cluster(3).await;
        let a = counter(&nodes[0]);
        nodes[0].scope("chat").join("lobby", &a).await.unwrap();
        nodes[2].scope("chat");
        until_members(&nodes[..1], "chat", "lobby", &[&a]).await;
        until_members(&nodes[2..], "chat", "lobby", &[&a]).await;
        // Node 1 starts the scope only now, and sees what the others joined before.
        let b = counter(&nodes[1]);
        nodes[1].scope("chat").join("lobby", &b).await.unwrap();
        until_members(&nodes, "chat", "lobby", &[&a, &b]).await;
        for n in &nodes {
            assert!(n.groups().members("lobby").is_empty(), "other scope");
        }
        // A node that connects later receives every scope's members.
        let late = start("late").await;
        late.connect(nodes[0].name()).await.unwrap();
        until_members(std::slice::from_ref(&late), "chat", "lobby", &[&a, &b]).await;
    });
}

#[test]
fn a_monitor_sees_the_members_then_every_change() {
    block_on(async {
        let nodes = cluster(2).await;
        let first = counter(&nodes[0]);
        nodes[0].groups().join("g", &first).await.unwrap();
        // Node 1 seeing it means the two scopes know each other: from now on each hears
        // every change of the other.
        until_members(&nodes, "pg", "g", &[&first]).await;
        let (now, mut events) = nodes[0].groups().monitor("g");
        assert_eq!(keys(&now), keys([&first]));
        let (scope_now, mut scope_events) = nodes[0].groups().monitor_scope();
        assert_eq!(
            scope_now
                .into_iter()
                .map(|(g, p)| (g, keys(&p)))
                .collect::<HashMap<_, _>>(),
            HashMap::from([("g".to_string(), keys([&first]))])
        );

        let remote = counter(&nodes[1]);
        nodes[1].groups().join("g", &remote).await.unwrap();
        nodes[1].groups().join("elsewhere", &remote).await.unwrap();
        nodes[1].stop(&remote, ExitReason::Normal);
        nodes[0].groups().leave("g", &first).await.unwrap();

        let joined = |pid: &AnyPid| GroupEvent::Joined {
            group: "g".into(),
            pids: vec![pid.clone()],
        };
        let left = |pid: &AnyPid| GroupEvent::Left {
            group: "g".into(),
            pids: vec![pid.clone()],
        };
        // The remote process's join and end come in order; the local leave may come before
        // or after them.
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(next(&mut events).await);
        }
        let remote_events: Vec<_> = seen.iter().filter(|e| **e != left(&first)).collect();
        assert_eq!(remote_events, vec![&joined(&remote), &left(&remote)]);
        assert!(seen.contains(&left(&first)));

        // The scope monitor sees the other group too.
        let mut groups = Vec::new();
        for _ in 0..5 {
            match next(&mut scope_events).await {
                GroupEvent::Joined { group, .. } | GroupEvent::Left { group, .. } => {
                    groups.push(group)
                }
            }
        }
        groups.sort();
        assert_eq!(groups, vec!["elsewhere", "elsewhere", "g", "g", "g"]);
    });
}

#[test]
fn join_and_leave_cycles_leave_nothing_behind() {
    block_on(async {
        let nodes = cluster(2).await;
        let server = nodes[0]
            .whereis_any(&server_name("pg"))
            .expect("the default scope runs");
        // The server monitors the other node's server, and nothing else when idle.
        let before = 1;
        for i in 0..1_000 {
            let p = counter(&nodes[0]);
            nodes[0].groups().join("cycle", &p).await.unwrap();
            if i % 2 == 0 {
                nodes[0].groups().leave("cycle", &p).await.unwrap();
            }
            nodes[0].stop(&p, ExitReason::Normal);
        }
        // Node 0's server has handled every join, leave and end once its own view is empty;
        // a join it sends after them reaching node 1 means node 1 has heard them all.
        until_members(&nodes[..1], "pg", "cycle", &[]).await;
        until(
            "the server to hold no monitor on former members",
            WAIT,
            || {
                let (n, s) = (nodes[0].clone(), server.clone());
                async move {
                    n.process_info(&s)
                        .await
                        .is_some_and(|i| i.monitors.len() == before)
                }
            },
        )
        .await;
        let marker = counter(&nodes[0]);
        nodes[0].groups().join("marker", &marker).await.unwrap();
        until_members(&nodes, "pg", "marker", &[&marker]).await;
        for n in &nodes {
            assert_eq!(n.groups().which_groups(), vec!["marker"]);
        }
    });
}

#[test]
fn a_scope_server_speaks_only_for_its_own_node() {
    block_on(async {
        let nodes = cluster(3).await;
        let name = server_name("pg");
        let target: Pid<GroupServer> = nodes[1].whereis_on(&name, nodes[0].name()).await.unwrap();
        let claimant: Pid<GroupServer> = nodes[1].whereis(&name).expect("the scope runs");
        let own = counter(&nodes[1]);
        let foreign = counter(&nodes[2]);
        // Asked straight, it refuses to speak for another node's process.
        assert!(matches!(
            target.join("g".into(), foreign.clone()).await,
            Ok(Err(GroupError::NotLocal(_)))
        ));
        // Node 1's server claims a member of its own node, and one of node 2.
        target
            .sync(
                Origin::local(),
                claimant.clone(),
                vec![("g".into(), vec![own.clone(), foreign.clone()])],
            )
            .unwrap();
        until_members(&nodes[..1], "pg", "g", &[&own]).await;
        // Node 1 speaks in the name of node 2's server: node 0 takes the connection's word,
        // not the message's. (The same sender's next sync, in order after it, shows it was
        // handled.)
        let third: Pid<GroupServer> = nodes[1].whereis_on(&name, nodes[2].name()).await.unwrap();
        target
            .sync(
                Origin::local(),
                third,
                vec![("forged".into(), vec![foreign.clone()])],
            )
            .unwrap();
        target
            .sync(
                Origin::local(),
                claimant,
                vec![("after".into(), vec![own.clone()])],
            )
            .unwrap();
        until_members(&nodes[..1], "pg", "after", &[&own]).await;
        assert!(nodes[0].groups().members("forged").is_empty());
    });
}

#[test]
fn synced_waits_until_a_newly_connected_node_s_members_are_known() {
    block_on(async {
        let (a, b) = (start("a").await, start("b").await);
        let members: Vec<_> = (0..50).map(|_| b.spawn(Counter { n: 0 })).collect();
        for m in &members {
            b.groups().join("crowd", m).await.unwrap();
        }
        a.connect(b.name()).await.unwrap();
        a.groups().synced(b.name(), WAIT).await.unwrap();
        assert_eq!(
            a.groups().members("crowd").len(),
            50,
            "all there, no polling"
        );
        // Known already: at once.
        a.groups().synced(b.name(), WAIT).await.unwrap();
        // A node that is not connected never syncs.
        assert_eq!(
            a.groups()
                .synced("nobody@127.0.0.1:1", Duration::from_millis(100))
                .await,
            Err(GroupError::NotSynced("nobody@127.0.0.1:1".into()))
        );
    });
}
