//! Presence over loopback TCP: every node lists the same presences, a process's presence
//! ends with it, a node lost takes its presences out of every list (an OS process killed),
//! and after a partition heals every node lists the same again.

use std::collections::BTreeMap;
use std::time::Duration;

use actors::rt::block_on;
use actors_integration::child::ChildNode;
use actors_integration::*;
use actors_net::prelude::*;
use actors_net::presence::{Presence, PresenceChange};
use actors_net::pubsub::Topic;
use futures::StreamExt;

const WAIT: Duration = Duration::from_secs(10);
const BIN: &str = env!("CARGO_BIN_EXE_testnode");

/// What each node lists: key -> the nodes of its processes.
fn keys(presence: &Presence, topic: &Topic<String>) -> BTreeMap<String, Vec<String>> {
    presence
        .list(topic)
        .into_iter()
        .map(|(k, ps)| (k, ps.into_iter().map(|(_, meta)| meta).collect()))
        .collect()
}

/// Warnings in a failing test's output.
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("actors_net=warn")
        .with_test_writer()
        .try_init();
}

async fn presences(nodes: &[Node]) -> Vec<Presence> {
    logs();
    let mut all = Vec::new();
    for node in nodes {
        all.push(Presence::start(node).await.expect("the server starts"));
    }
    all
}

fn users(n: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
    n.iter()
        .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
        .collect()
}

#[test]
fn every_node_lists_the_same_presences_and_a_process_s_ends_with_it() {
    block_on(async {
        let nodes = cluster(3).await;
        let ps = presences(&nodes).await;
        let lobby: Topic<String> = Topic::new("room:lobby");
        let mut events = ps[0].subscribe(&lobby);
        let alice = nodes[1].spawn(Counter { n: 0 });
        let bob = nodes[2].spawn(Counter { n: 0 });
        ps[1]
            .track(&lobby, "alice", &alice, "n1".into())
            .await
            .unwrap();
        ps[2].track(&lobby, "bob", &bob, "n2".into()).await.unwrap();
        let both = users(&[("alice", "n1"), ("bob", "n2")]);
        until("every node to list alice and bob", WAIT, || async {
            ps.iter().all(|p| keys(p, &lobby) == both)
        })
        .await;
        // Node 0 saw both join.
        let mut joined = Vec::new();
        for _ in 0..2 {
            match events.next().await {
                Some(e) if e.change == PresenceChange::Join => joined.push(e.key),
                other => panic!("expected a join, got {other:?}"),
            }
        }
        joined.sort();
        assert_eq!(joined, ["alice", "bob"]);

        // An update is seen everywhere; a process that ends leaves everywhere.
        ps[1]
            .update(&lobby, "alice", &alice, "n1 away".into())
            .await
            .unwrap();
        let away = users(&[("alice", "n1 away"), ("bob", "n2")]);
        until("the update everywhere", WAIT, || async {
            ps.iter().all(|p| keys(p, &lobby) == away)
        })
        .await;
        nodes[2].stop(&bob, ExitReason::Shutdown);
        let alone = users(&[("alice", "n1 away")]);
        until("bob to leave everywhere", WAIT, || async {
            ps.iter().all(|p| keys(p, &lobby) == alone)
        })
        .await;
        ps[1].untrack(&lobby, "alice", &alice).await.unwrap();
        until("alice to leave everywhere", WAIT, || async {
            ps.iter().all(|p| keys(p, &lobby).is_empty())
        })
        .await;
        // A process of another node cannot be tracked here.
        let elsewhere = nodes[2].spawn(Counter { n: 0 });
        assert!(
            ps[0]
                .track(&lobby, "x", &elsewhere, "?".into())
                .await
                .is_err()
        );
    });
}

#[test]
fn after_a_partition_heals_every_node_lists_the_same_again() {
    block_on(async {
        let nodes = cluster(3).await;
        let ps = presences(&nodes).await;
        let topic: Topic<String> = Topic::new("room:split");
        let pids: Vec<_> = nodes.iter().map(|n| n.spawn(Counter { n: 0 })).collect();
        for (i, p) in ps.iter().enumerate() {
            p.track(&topic, &format!("u{i}"), &pids[i], format!("n{i}"))
                .await
                .unwrap();
        }
        let all = users(&[("u0", "n0"), ("u1", "n1"), ("u2", "n2")]);
        until("every node to list all three", WAIT, || async {
            ps.iter().all(|p| keys(p, &topic) == all)
        })
        .await;
        let (left, right) = (
            vec![nodes[0].clone()],
            vec![nodes[1].clone(), nodes[2].clone()],
        );
        partition(&[left.clone(), right.clone()]).await;
        // Each side loses the other's; meanwhile each side changes its own.
        until("each side to list its own", WAIT, || async {
            keys(&ps[0], &topic) == users(&[("u0", "n0")])
                && keys(&ps[1], &topic) == users(&[("u1", "n1"), ("u2", "n2")])
        })
        .await;
        ps[0]
            .update(&topic, "u0", &pids[0], "n0 again".into())
            .await
            .unwrap();
        nodes[2].stop(&pids[2], ExitReason::Shutdown);
        heal(&[left, right]).await;
        let after = users(&[("u0", "n0 again"), ("u1", "n1")]);
        until(
            "every node to list the same after the heal",
            WAIT,
            || async { ps.iter().all(|p| keys(p, &topic) == after) },
        )
        .await;
    });
}

#[test]
fn a_node_killed_takes_its_presences_out_of_every_list() {
    block_on(async {
        let nodes = cluster(2).await;
        let ps = presences(&nodes).await;
        let topic: Topic<String> = Topic::new("room:os");
        let mut child = ChildNode::start(
            BIN,
            "gone@127.0.0.1:0",
            &[nodes[0].name()],
            &["--track", "room:os=carol"],
        );
        let mine = nodes[0].spawn(Counter { n: 0 });
        ps[0]
            .track(&topic, "dave", &mine, "n0".into())
            .await
            .unwrap();
        let name = child.name.clone();
        until("both nodes to list carol and dave", WAIT, || async {
            ps.iter()
                .all(|p| keys(p, &topic) == users(&[("carol", &name), ("dave", "n0")]))
        })
        .await;
        child.kill();
        until("carol to leave every list", WAIT, || async {
            ps.iter()
                .all(|p| keys(p, &topic) == users(&[("dave", "n0")]))
        })
        .await;
    });
}

/// The presence server is killed and its supervisor restarts it: it takes its presences back
/// from the node's view, so every node lists them again, and still sees their processes end.
#[test]
fn a_restarted_server_keeps_its_node_s_presences() {
    block_on(async {
        let nodes = cluster(2).await;
        let ps = presences(&nodes).await;
        let topic: Topic<String> = Topic::new("room:restart");
        let erin = nodes[1].spawn(Counter { n: 0 });
        ps[1]
            .track(&topic, "erin", &erin, "n1".into())
            .await
            .unwrap();
        let listed = users(&[("erin", "n1")]);
        until("both nodes to list erin", WAIT, || async {
            ps.iter().all(|p| keys(p, &topic) == listed)
        })
        .await;
        let server = nodes[1].whereis_any("actors_net.presence").unwrap();
        nodes[1].kill(&server);
        until("a new server", WAIT, || async {
            nodes[1]
                .whereis_any("actors_net.presence")
                .is_some_and(|s| s != server)
        })
        .await;
        until("both nodes to list erin again", WAIT, || async {
            Presence::of(&nodes[0]).is_some_and(|p| keys(&p, &topic) == listed)
                && Presence::of(&nodes[1]).is_some_and(|p| keys(&p, &topic) == listed)
        })
        .await;
        // The new server watches erin's process: its end is seen everywhere.
        nodes[1].stop(&erin, ExitReason::Shutdown);
        until("erin to leave everywhere", WAIT, || async {
            nodes
                .iter()
                .all(|n| Presence::of(n).is_some_and(|p| keys(&p, &topic).is_empty()))
        })
        .await;
    });
}
