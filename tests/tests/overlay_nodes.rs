//! Nodes running the partial-view overlay over loopback: each keeps a few direct links,
//! reaches every other node through sessions relayed along them, and calls, monitors,
//! global names and groups work across it; a node lost is seen down by the far side of the
//! cluster, and a node that leaves its neighbours gets repaired around.

use std::time::Duration;

use actors::rt::block_on;
use actors_integration::child::ChildNode;
use actors_integration::*;
use actors_net::overlay::OverlayConfig;
use actors_net::prelude::*;

const WAIT: Duration = Duration::from_secs(20);

async fn start_overlay(name: &str, size: usize) -> Node {
    Node::builder(&format!("{name}@127.0.0.1:0"))
        .cookie(COOKIE)
        .heartbeat(Duration::from_millis(100), 5)
        .overlay(OverlayConfig::for_cluster(size))
        .start()
        .await
        .expect("node starts")
}

/// `n` overlay nodes, each joined through a node before it; returns once every node has a
/// session to every other.
async fn overlay_cluster(n: usize) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..n {
        let node = start_overlay(&format!("o{i}"), n).await;
        if let Some(contact) = nodes.get(i / 2) {
            node.connect(contact.name())
                .await
                .expect("joins through a member");
        }
        nodes.push(node);
    }
    for node in &nodes {
        until(
            "every node to be connected to every other",
            WAIT,
            || async { node.nodes().len() == n - 1 },
        )
        .await;
    }
    nodes
}

fn neighbours(node: &Node) -> Vec<String> {
    node.overlay_info().expect("runs the overlay").neighbours
}

#[test]
fn nodes_keep_few_links_and_reach_every_other_node_through_them() {
    block_on(async {
        let nodes = overlay_cluster(12).await;
        let most = OverlayConfig::for_cluster(12).active;
        for node in &nodes {
            until("shuffle links to close", WAIT, || async {
                neighbours(node).len() <= most
            })
            .await;
            let info = node.overlay_info().expect("runs the overlay");
            assert_eq!(info.reachable.len(), 11, "{}: {info:?}", node.name());
            // Sessions are opened when something is sent, not to every node reached: here,
            // the contact each joined through and those that joined through it.
            assert!(info.sessions <= 4, "{}: {info:?}", node.name());
            assert_eq!(node.nodes().len(), 11, "every node reached counts as up");
        }
        // A node two or more hops away answers a call.
        let far = nodes
            .iter()
            .find(|n| !neighbours(&nodes[0]).contains(&n.name().to_string()) && n != &&nodes[0])
            .expect("a node that is not a neighbour of the first");
        far.register("counter", far.spawn(Counter { n: 0 }))
            .expect("registers");
        let counter: Pid<Counter> = nodes[0]
            .whereis_on("counter", far.name())
            .await
            .expect("found over the overlay");
        assert_eq!(counter.add(5).await, Ok(5));
        assert_eq!(counter.add(2).await, Ok(7));
    });
}

#[test]
fn global_names_and_groups_span_the_overlay() {
    block_on(async {
        let nodes = overlay_cluster(8).await;
        let pid = nodes[7].spawn(Counter { n: 1 });
        nodes[7]
            .global()
            .register("the-counter", pid.clone())
            .await
            .expect("registers");
        // On the overlay a name travels in its node's note: seen everywhere once it has.
        for node in &nodes {
            until("the name to be seen everywhere", WAIT, || async {
                node.global()
                    .whereis::<Counter>("the-counter")
                    .map(|p| p.id())
                    == Some(pid.id())
            })
            .await;
        }
        // Taken is taken, wherever it is asked for once seen.
        assert_eq!(
            nodes[2]
                .global()
                .register("the-counter", nodes[2].spawn(Counter { n: 0 }))
                .await,
            Err(actors_net::global::GlobalError::NameTaken(
                "the-counter".into()
            ))
        );
        // Unregistered from another node than the one that registered it: gone everywhere.
        nodes[4]
            .global()
            .unregister("the-counter")
            .await
            .expect("unregisters");
        for node in &nodes {
            until("the name to be gone everywhere", WAIT, || async {
                node.global().whereis_any("the-counter").is_none()
            })
            .await;
        }
        nodes[3]
            .groups()
            .join("workers", &nodes[3].spawn(Counter { n: 0 }))
            .await
            .expect("joins");
        for node in &nodes {
            until("the member to be seen everywhere", WAIT, || async {
                node.groups().members("workers").len() == 1
            })
            .await;
        }
    });
}

/// Two nodes register one name at once: both may succeed where they asked, and then the
/// cluster keeps one, the same everywhere (the smaller node name's, as a healed partition
/// would), and the loser's process is stopped.
#[test]
fn a_name_registered_on_two_nodes_at_once_is_kept_by_one_everywhere() {
    block_on(async {
        let nodes = overlay_cluster(8).await;
        let (a, b) = (&nodes[1], &nodes[6]);
        let (pa, pb) = (a.spawn(Counter { n: 0 }), b.spawn(Counter { n: 0 }));
        let (ga, gb) = (a.global(), b.global());
        let (ra, rb) = futures::join!(
            ga.register("contested", pa.clone()),
            gb.register("contested", pb.clone())
        );
        assert!(ra.is_ok() || rb.is_ok(), "{ra:?} {rb:?}");
        // Where both succeeded, the smaller node name's process keeps it ("o1" < "o6"); a
        // registration that saw the other's claim first was refused.
        let (winner, loser) = match ra.is_ok() {
            true => (&pa, &pb),
            false => (&pb, &pa),
        };
        for node in &nodes {
            until("one process to keep the name everywhere", WAIT, || async {
                node.global()
                    .whereis::<Counter>("contested")
                    .map(|p| p.id())
                    == Some(winner.id())
            })
            .await;
        }
        if ra.is_ok() && rb.is_ok() {
            until("the loser to be stopped", WAIT, || async {
                loser.add(1).await.is_err()
            })
            .await;
        }
        assert_eq!(winner.add(1).await, Ok(1), "the winner runs on");
    });
}

#[test]
fn a_node_lost_is_seen_down_across_the_overlay_and_its_names_freed() {
    block_on(async {
        let mut nodes = overlay_cluster(8).await;
        let lost = nodes.remove(5);
        let name = lost.name().to_string();
        lost.global()
            .register("on-the-lost", lost.spawn(Counter { n: 0 }))
            .await
            .expect("registers");
        until("the name to reach the first node", WAIT, || async {
            nodes[0].global().whereis_any("on-the-lost").is_some()
        })
        .await;
        let remote: Pid<Counter> = nodes[0]
            .global()
            .whereis("on-the-lost")
            .expect("seen on the first node");
        let mut events = nodes[0].monitor_nodes();
        // Its neighbours see its links close; the rest of the cluster sees no route lead
        // to it any more.
        lost.shutdown().await;
        until("the lost node to be down everywhere", WAIT, || async {
            nodes.iter().all(|n| !n.nodes().contains(&name))
        })
        .await;
        loop {
            if next_event(&mut events, WAIT).await == NodeEvent::Down(name.clone()) {
                break;
            }
        }
        for node in &nodes {
            until("its global name to be freed", WAIT, || async {
                node.global().whereis_any("on-the-lost").is_none()
            })
            .await;
        }
        assert!(remote.add(1).await.is_err());
        // The others reach each other: a session whose frames were being relayed through
        // the node that left may have lost some and been reset, and is made again.
        for node in &nodes {
            until("the others to reach each other", WAIT, || async {
                node.nodes().len() == nodes.len() - 1
            })
            .await;
        }
    });
}

const BIN: &str = env!("CARGO_BIN_EXE_testnode");

/// Whether every one of `nodes` has a session to `name` (or, with `false`, none has).
fn all_see(nodes: &[Node], name: &str, seen: bool) -> bool {
    nodes
        .iter()
        .all(|n| n.nodes().iter().any(|x| x == name) == seen)
}

#[test]
fn a_killed_node_process_is_seen_down_everywhere_and_a_frozen_one_is_back_after_the_thaw() {
    block_on(async {
        let nodes = overlay_cluster(6).await;
        let flags = ["--overlay", "8", "--heartbeat-ms", "100"];
        let mut victim = ChildNode::start(
            BIN,
            "victim@127.0.0.1:0",
            &[nodes[5].name()],
            &[&flags[..], &["--global", "victim"]].concat(),
        );
        let mut frozen = ChildNode::start(BIN, "frozen@127.0.0.1:0", &[nodes[2].name()], &flags);
        until(
            "both children to be reached by every node",
            WAIT,
            || async { all_see(&nodes, &victim.name, true) && all_see(&nodes, &frozen.name, true) },
        )
        .await;
        until("the victim's name to be everywhere", WAIT, || async {
            nodes
                .iter()
                .all(|n| n.global().whereis_any("victim").is_some())
        })
        .await;

        // Killed: its neighbours' heartbeats see its links go silent, and every other node
        // sees no route lead to it.
        victim.kill();
        until("the killed node to be down everywhere", WAIT, || async {
            all_see(&nodes, &victim.name, false)
        })
        .await;
        until("its name to be freed everywhere", WAIT, || async {
            nodes
                .iter()
                .all(|n| n.global().whereis_any("victim").is_none())
        })
        .await;

        // Frozen: seen down as a killed one is; after the thaw it finds its way back into
        // the overlay and every node reaches it again, with no `connect` from anyone.
        frozen.freeze();
        until("the frozen node to be down everywhere", WAIT, || async {
            all_see(&nodes, &frozen.name, false)
        })
        .await;
        frozen.thaw();
        until(
            "the thawed node to be reached by every node again",
            WAIT,
            || async { all_see(&nodes, &frozen.name, true) },
        )
        .await;
        for node in &nodes {
            until("every node to reach every other", WAIT, || async {
                node.nodes().len() == nodes.len()
            })
            .await;
        }
    });
}

#[test]
fn a_node_takes_no_more_links_than_its_limit() {
    block_on(async {
        let small = Node::builder("small@127.0.0.1:0")
            .cookie(COOKIE)
            .max_peers(1)
            .overlay(OverlayConfig::for_cluster(8))
            .start()
            .await
            .expect("starts");
        let first = start_overlay("first", 8).await;
        first
            .connect(small.name())
            .await
            .expect("the first link is taken");
        let second = Node::builder("second@127.0.0.1:0")
            .cookie(COOKIE)
            .handshake_timeout(Duration::from_millis(500))
            .overlay(OverlayConfig::for_cluster(8))
            .start()
            .await
            .expect("starts");
        assert!(
            second.connect(small.name()).await.is_err(),
            "a link past the limit is refused"
        );
        assert_eq!(neighbours(&small), vec![first.name().to_string()]);
    });
}

/// An overlay node's global and scope servers, killed, are restarted by its system
/// supervisor and take their state back: this node's claims and members from its own tables,
/// the other nodes' from their notes.
#[test]
fn killed_name_and_scope_servers_on_the_overlay_take_their_state_back() {
    use actors_net::global::SERVER_NAME;
    use actors_net::groups::server_name;
    use actors_net::testing::{GlobalServer, GroupServer};
    block_on(async {
        let nodes = overlay_cluster(6).await;
        let mut members = Vec::new();
        let mut names = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let pid = node.spawn(Counter { n: 0 });
            node.global()
                .register(&format!("name-{i}"), &pid)
                .await
                .expect("registers");
            node.groups().join("g", &pid).await.expect("joins");
            names.push(format!("name-{i}"));
            members.push(pid);
        }
        names.sort();
        let everywhere = |names: Vec<String>, count: usize| {
            let nodes = &nodes;
            move || {
                let names = names.clone();
                async move {
                    nodes.iter().all(|n| {
                        n.global().registered_names() == names
                            && n.groups().members("g").len() == count
                    })
                }
            }
        };
        until(
            "every name and member everywhere",
            WAIT,
            everywhere(names.clone(), 6),
        )
        .await;
        let (global, scope) = (
            nodes[2]
                .whereis::<GlobalServer>(SERVER_NAME)
                .expect("a global server"),
            nodes[2]
                .whereis::<GroupServer>(&server_name("pg"))
                .expect("a scope server"),
        );
        nodes[2].kill(&global);
        nodes[2].kill(&scope);
        until("new servers on the node", WAIT, || async {
            nodes[2]
                .whereis::<GlobalServer>(SERVER_NAME)
                .is_some_and(|s| s != global)
                && nodes[2]
                    .whereis::<GroupServer>(&server_name("pg"))
                    .is_some_and(|s| s != scope)
        })
        .await;
        until(
            "every name and member everywhere again",
            WAIT,
            everywhere(names.clone(), 6),
        )
        .await;
        // The new servers watch this node's claims and members: one that ends goes everywhere.
        nodes[2].stop(&members[2], ExitReason::Normal);
        names.retain(|n| n != "name-2");
        until(
            "the ended process's name and membership gone",
            WAIT,
            everywhere(names, 5),
        )
        .await;
    });
}
