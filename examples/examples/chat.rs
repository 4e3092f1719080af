//! A chat room on process groups: one member per node joins "lobby"; a line said on one node
//! reaches every member; a monitor shows who joins and leaves, including the member of a node
//! that is cut off, and that member coming back when its node reconnects.
//!
//! Run it with `cargo run --example chat`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actors_net::groups::{GroupEvent, GroupEvents};
use actors_net::prelude::*;

/// One person in the room.
#[actor]
struct Member {
    heard: Vec<String>,
}

#[actor]
impl Member {
    /// A line said in the room.
    #[handle(cast)]
    fn hear(&mut self, from: String, line: String) {
        self.heard.push(format!("{from}: {line}"));
    }

    /// Everything heard so far.
    #[handle]
    fn heard(&self) -> Vec<String> {
        self.heard.clone()
    }
}

const ROOM: &str = "lobby";

/// Sends `line` to every member of the room that `node` knows of, wherever it lives.
fn say(node: &Node, from: &str, line: &str) -> usize {
    let members = node.groups().members(ROOM);
    for member in &members {
        if let Some(member) = member.downcast::<Member>() {
            let _ = member.hear(from.to_string(), line.to_string());
        }
    }
    members.len()
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actors::rt::sleep(Duration::from_millis(10)).await;
    }
}

/// The next membership change, told with the members' names.
async fn next_change(events: &mut GroupEvents, names: &HashMap<AnyPid, String>) -> String {
    let event = actors::rt::timeout(Duration::from_secs(10), events.next())
        .await
        .ok()
        .flatten()
        .expect("a membership change in time");
    let (what, pids) = match event {
        GroupEvent::Joined { pids, .. } => ("joined", pids),
        GroupEvent::Left { pids, .. } => ("left", pids),
    };
    let who: Vec<&str> = pids
        .iter()
        .map(|p| names.get(p).map_or("someone", String::as_str))
        .collect();
    format!("{} {what}", who.join(", "))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors_net::logs::init();
    actors::rt::block_on(async {
        let mut nodes = Vec::new();
        for name in ["a", "b", "c"] {
            nodes.push(
                Node::builder(&format!("{name}@127.0.0.1:0"))
                    .cookie("chat")
                    .start()
                    .await?,
            );
        }
        let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
        b.connect(a.name()).await?;
        c.connect(a.name()).await?;
        wait_for("a full mesh", || nodes.iter().all(|n| n.nodes().len() == 2)).await;

        println!("1. one member per node joins \"{ROOM}\"");
        let mut names = HashMap::new();
        let mut members = Vec::new();
        for (node, name) in nodes.iter().zip(["alice", "bob", "carol"]) {
            let member = node.spawn(Member { heard: Vec::new() });
            node.groups().join(ROOM, &member).await?;
            names.insert(member.any(), name.to_string());
            members.push(member);
        }
        wait_for("every node to see three members", || {
            nodes.iter().all(|n| n.groups().members(ROOM).len() == 3)
        })
        .await;
        for n in &nodes {
            println!(
                "    {} sees {} members, {} of them local",
                n.name(),
                n.groups().members(ROOM).len(),
                n.groups().local_members(ROOM).len()
            );
        }

        println!("\n2. alice says hello on a; it reaches every node");
        let reached = say(a, "alice", "hello, room");
        println!("    sent to {reached} members");
        for member in &members {
            let mut heard = member.heard().await?;
            while heard.is_empty() {
                actors::rt::sleep(Duration::from_millis(5)).await;
                heard = member.heard().await?;
            }
            let name = &names[&member.any()];
            println!("    {name} on {} heard {heard:?}", member.node());
        }

        println!("\n3. a watches the room while bob leaves and c is cut off");
        let (now, mut events) = a.groups().monitor(ROOM);
        println!("    in the room now: {}", now.len());
        b.groups().leave(ROOM, &members[1]).await?;
        println!("    {}", next_change(&mut events, &names).await);
        a.block(c.name());
        println!(
            "    {}  (node c lost)",
            next_change(&mut events, &names).await
        );
        let reached = say(a, "alice", "anyone left?");
        println!("    alice's next line reaches {reached} member");

        println!("\n4. c reconnects, and carol is back without joining again");
        a.unblock(c.name());
        a.connect(c.name()).await?;
        println!("    {}", next_change(&mut events, &names).await);
        println!("    a sees {} members", a.groups().members(ROOM).len());

        for node in &nodes {
            node.shutdown().await;
        }
        Ok(())
    })
}
