//! PubSub over loopback TCP: every subscriber on every node gets each broadcast once, the
//! wire carries one frame per node whatever its subscribers, a topic carries one type, and a
//! subscriber that ends is forgotten.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::rt::block_on;
use actors_integration::*;
use actors_net::prelude::*;
use actors_net::pubsub::{Subscription, Topic};
use futures::StreamExt;

const WAIT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Line(String);

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Other(u64);

/// What a listener received.
type Heard = Arc<Mutex<Vec<Line>>>;

/// A process that keeps what its subscription brings.
#[actor]
struct Listener {
    heard: Heard,
}

#[actor(local)]
impl Listener {
    #[handle(cast)]
    fn hear(&mut self, line: Line) {
        self.heard.lock().unwrap().push(line);
    }

    #[handle]
    fn attach(&mut self, sub: Subscription<Line>, ctx: &mut Ctx<Self>) {
        ctx.attach_stream(sub, |me, line| me.hear(line), |_| Ok(()));
    }
}

/// A listener on `node` subscribed to `topic`.
async fn listener(node: &Node, topic: &Topic<Line>) -> (Pid<Listener>, Heard) {
    let heard = Heard::default();
    let pid = node.spawn(Listener {
        heard: heard.clone(),
    });
    let sub = node.pubsub().subscribe(topic).await.unwrap();
    pid.attach(sub).await.unwrap();
    (pid, heard)
}

fn lines(heard: &Heard) -> Vec<Line> {
    heard.lock().unwrap().clone()
}

/// Frames `node` has received from `from` so far.
fn frames(node: &Node, from: &Node) -> u64 {
    node.connection_info(from.name()).map_or(0, |c| c.frames_in)
}

/// Waits until a broadcast from `from` reaches `heard` (the subscription is seen there).
async fn reached(from: &Node, topic: &Topic<Line>, heard: &[&Heard]) {
    until("the subscriptions to be seen", WAIT, || async {
        from.pubsub()
            .broadcast(topic, Line("probe".into()))
            .unwrap();
        actors::rt::sleep(Duration::from_millis(20)).await;
        heard
            .iter()
            .all(|h| lines(h).contains(&Line("probe".into())))
    })
    .await;
    for h in heard {
        h.lock().unwrap().clear();
    }
}

#[test]
fn a_broadcast_reaches_every_subscriber_on_every_node_once() {
    block_on(async {
        let nodes = cluster(3).await;
        let topic: Topic<Line> = Topic::new("room:lobby");
        let mut all = Vec::new();
        for node in &nodes {
            for _ in 0..2 {
                all.push(listener(node, &topic).await);
            }
        }
        let heard: Vec<&Heard> = all.iter().map(|(_, h)| h).collect();
        reached(&nodes[0], &topic, &heard).await;
        for i in 0..10 {
            nodes[0]
                .pubsub()
                .broadcast(&topic, Line(format!("#{i}")))
                .unwrap();
        }
        let want: Vec<Line> = (0..10).map(|i| Line(format!("#{i}"))).collect();
        until(
            "every subscriber to have all ten, in order",
            WAIT,
            || async { heard.iter().all(|h| lines(h) == want) },
        )
        .await;
        // Once each: nothing more comes.
        actors::rt::sleep(Duration::from_millis(100)).await;
        assert!(heard.iter().all(|h| lines(h) == want));
    });
}

#[test]
fn broadcast_from_leaves_out_the_sender_and_local_broadcast_stays_here() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let topic: Topic<Line> = Topic::new("room:echo");
        let mut mine = a.pubsub().subscribe(&topic).await.unwrap();
        let mut neighbour = a.pubsub().subscribe(&topic).await.unwrap();
        let (_far, far) = listener(b, &topic).await;
        until("b's subscription to be seen from a", WAIT, || async {
            a.pubsub().local_broadcast(&topic, Line("x".into()));
            a.pubsub()
                .broadcast_from(mine.id(), &topic, Line("probe".into()))
                .unwrap();
            actors::rt::sleep(Duration::from_millis(20)).await;
            lines(&far).contains(&Line("probe".into()))
        })
        .await;
        // Drain what the probing gave the two local subscriptions.
        while actors::rt::timeout(Duration::from_millis(50), mine.next())
            .await
            .is_ok()
        {}
        while actors::rt::timeout(Duration::from_millis(50), neighbour.next())
            .await
            .is_ok()
        {}
        far.lock().unwrap().clear();

        a.pubsub()
            .broadcast_from(mine.id(), &topic, Line("from me".into()))
            .unwrap();
        assert_eq!(neighbour.next().await, Some(Line("from me".into())));
        until("b to hear it", WAIT, || async {
            lines(&far) == vec![Line("from me".into())]
        })
        .await;
        assert_eq!(a.pubsub().local_broadcast(&topic, Line("here".into())), 2);
        assert_eq!(
            mine.next().await,
            Some(Line("here".into())),
            "not the one left out"
        );
        actors::rt::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            lines(&far),
            vec![Line("from me".into())],
            "not across the wire"
        );
    });
}

#[test]
fn one_frame_per_node_whatever_its_subscribers() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let topic: Topic<Line> = Topic::new("room:crowd");
        let mut crowd = Vec::new();
        for _ in 0..100 {
            crowd.push(listener(b, &topic).await);
        }
        let heard: Vec<&Heard> = crowd.iter().map(|(_, h)| h).collect();
        reached(a, &topic, &heard).await;
        let before = frames(b, a);
        for i in 0..200 {
            a.pubsub().broadcast(&topic, Line(format!("#{i}"))).unwrap();
        }
        until("all 100 to hear all 200", WAIT, || async {
            heard.iter().all(|h| lines(h).len() == 200)
        })
        .await;
        let sent = frames(b, a) - before;
        // 200 broadcasts, 20,000 deliveries: the wire carries the broadcasts (and a few
        // heartbeats), not the deliveries.
        assert!(
            (200..260).contains(&sent),
            "{sent} frames for 200 broadcasts to 100 subscribers"
        );
    });
}

#[test]
fn a_topic_carries_one_type_and_an_ended_subscriber_is_forgotten() {
    block_on(async {
        let nodes = cluster(3).await;
        let lines_topic: Topic<Line> = Topic::new("room:typed");
        let numbers: Topic<Other> = Topic::new("room:typed");
        let (listening, heard) = listener(&nodes[1], &lines_topic).await;
        let mut counting = nodes[2].pubsub().subscribe(&numbers).await.unwrap();
        reached(&nodes[0], &lines_topic, &[&heard]).await;
        let before = frames(&nodes[2], &nodes[0]);
        nodes[0]
            .pubsub()
            .broadcast(&lines_topic, Line("text".into()))
            .unwrap();
        until("the line to arrive", WAIT, || async {
            lines(&heard) == vec![Line("text".into())]
        })
        .await;
        // The same name with another type is another topic: nothing went to node 2.
        assert!(
            actors::rt::timeout(Duration::from_millis(100), counting.next())
                .await
                .is_err()
        );
        assert!(frames(&nodes[2], &nodes[0]) - before < 3, "only heartbeats");

        // The listener ends: its node leaves the topic, and broadcasts stop crossing to it.
        nodes[1].stop(&listening, ExitReason::Shutdown);
        let quiet = || async {
            let before = frames(&nodes[1], &nodes[0]);
            for _ in 0..50 {
                nodes[0]
                    .pubsub()
                    .broadcast(&lines_topic, Line("anyone?".into()))
                    .unwrap();
            }
            actors::rt::sleep(Duration::from_millis(50)).await;
            frames(&nodes[1], &nodes[0]) - before < 5
        };
        until("node 1 to leave the topic", WAIT, quiet).await;
    });
}

/// The PubSub server is killed and its supervisor restarts it: it joins its topics again
/// from the node's subscriptions, and broadcasts from other nodes arrive again.
#[test]
fn a_restarted_server_takes_its_node_s_topics_back() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let topic: Topic<Line> = Topic::new("room:restart");
        let (_pid, heard) = listener(b, &topic).await;
        reached(a, &topic, &[&heard]).await;
        let server = b.whereis_any("actors_net.pubsub").unwrap();
        b.kill(&server);
        until("a new server", WAIT, || async {
            b.whereis_any("actors_net.pubsub")
                .is_some_and(|s| s != server)
        })
        .await;
        reached(a, &topic, &[&heard]).await;
    });
}
