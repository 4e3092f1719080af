//! How nodes connect, refuse, report and free each other.

use super::*;

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
