//! Chat rooms with presence, on PubSub and Presence: users on three nodes join rooms, a line
//! said in a room reaches every member on every node, each node lists who is online, a user
//! who leaves a room leaves every list, and a node killed (an OS process, SIGKILL) takes its
//! users out of every list.
//!
//! Run it with `cargo run --example chat`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actors_net::prelude::*;
use actors_net::presence::{Presence, PresenceChange};
use actors_net::pubsub::{Subscription, Topic};
use futures::StreamExt;

/// A line said in a room.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Line {
    from: String,
    text: String,
}

/// What a user's presence says: the node they are on.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Online {
    node: String,
}

fn lines(room: &str) -> Topic<Line> {
    Topic::new(format!("room:{room}"))
}

fn online(room: &str) -> Topic<Online> {
    Topic::new(format!("online:{room}"))
}

/// One user: hears the rooms they are in.
#[actor]
struct User {
    name: String,
    heard: Vec<String>,
    /// Print what is heard (the user of a node in another process tells its parent so).
    print: bool,
}

#[actor(local)]
impl User {
    #[handle(cast)]
    fn hear(&mut self, line: Line) {
        let said = format!("{}: {}", line.from, line.text);
        if self.print {
            println!("{} heard {said:?}", self.name);
        }
        self.heard.push(said);
    }

    #[handle]
    fn heard(&self) -> Vec<String> {
        self.heard.clone()
    }

    #[handle]
    fn listen(&mut self, sub: Subscription<Line>, ctx: &mut Ctx<Self>) {
        ctx.attach_stream(sub, |me, line| me.hear(line), |_| Ok(()));
    }
}

/// `name` joins `room` on `node`: subscribed to its lines, and present in it.
async fn join(
    node: &Node,
    user: &Pid<User>,
    name: &str,
    room: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let sub = node.pubsub().subscribe(&lines(room)).await?;
    user.listen(sub).await?;
    let presence = Presence::start(node).await?;
    let here = Online {
        node: node.name().to_string(),
    };
    presence.track(&online(room), name, user, here).await?;
    Ok(())
}

fn say(node: &Node, room: &str, from: &str, text: &str) -> Result<(), Box<dyn std::error::Error>> {
    let line = Line {
        from: from.into(),
        text: text.into(),
    };
    Ok(node.pubsub().broadcast(&lines(room), line)?)
}

/// Who is online in `room`, as `node` lists it.
fn who(node: &Node, room: &str) -> Vec<String> {
    Presence::of(node)
        .map(|p| p.list(&online(room)).into_keys().collect())
        .unwrap_or_default()
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        actors::rt::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Node c, in a process of its own: carol in the lobby, dan in games.
fn node_c(connect: &str) -> Result<(), Box<dyn std::error::Error>> {
    actors::rt::block_on(async {
        let c = Node::builder("c@127.0.0.1:0")
            .cookie("chat")
            .start()
            .await?;
        c.connect(connect).await?;
        for (name, room) in [("carol", "lobby"), ("dan", "games")] {
            let user = c.spawn(User {
                name: name.into(),
                heard: Vec::new(),
                print: true,
            });
            join(&c, &user, name, room).await?;
        }
        println!("READY {}", c.name());
        std::future::pending::<()>().await;
        Ok(())
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, connect] = args.as_slice()
        && flag == "--node-c"
    {
        return node_c(connect);
    }
    actors::rt::block_on(async {
        let a = Node::builder("a@127.0.0.1:0")
            .cookie("chat")
            .start()
            .await?;
        let b = Node::builder("b@127.0.0.1:0")
            .cookie("chat")
            .start()
            .await?;
        b.connect(a.name()).await?;

        println!(
            "1. alice (on a) joins the lobby, bob (on b) the lobby and games; c, in its own process, has carol in the lobby and dan in games"
        );
        let user = |node: &Node, name: &str| {
            node.spawn(User {
                name: name.into(),
                heard: Vec::new(),
                print: false,
            })
        };
        let alice = user(&a, "alice");
        join(&a, &alice, "alice", "lobby").await?;
        let bob = user(&b, "bob");
        join(&b, &bob, "bob", "lobby").await?;
        join(&b, &bob, "bob", "games").await?;
        let mut c = Command::new(std::env::current_exe()?)
            .args(["--node-c", a.name()])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut c_out = BufReader::new(c.stdout.take().ok_or("no stdout")?).lines();
        let ready = c_out.next().ok_or("c said nothing")??;
        let c_name = ready
            .strip_prefix("READY ")
            .ok_or("c did not start")?
            .to_string();
        for node in [&a, &b] {
            wait_for("everyone online", || {
                who(node, "lobby").len() == 3 && who(node, "games").len() == 2
            })
            .await?;
            println!(
                "    online, as {} lists it: lobby {:?}, games {:?}",
                &node.name()[..1],
                who(node, "lobby"),
                who(node, "games")
            );
        }

        println!("\n2. alice says hello in the lobby: it reaches bob and carol, not dan");
        // A broadcast from a goes to the nodes a knows have subscribers: b and c, once their
        // subscriptions have reached it.
        wait_for("a to know the lobby's nodes", || {
            a.pubsub().nodes(&lines("lobby")) == [b.name().to_string(), c_name.clone()]
        })
        .await?;
        say(&a, "lobby", "alice", "hello, lobby")?;
        let mut heard = bob.heard().await?;
        while heard.is_empty() {
            actors::rt::sleep(Duration::from_millis(5)).await;
            heard = bob.heard().await?;
        }
        println!("    bob heard {heard:?}");
        let carol = c_out.next().ok_or("c said nothing")??;
        println!("    {carol}");

        println!("\n3. bob leaves games; a sees him go");
        let mut games = Presence::start(&a).await?.subscribe(&online("games"));
        Presence::start(&b)
            .await?
            .untrack(&online("games"), "bob", &bob)
            .await?;
        if let Some(event) = games.next().await {
            println!("    {:?}: {} from games", event.change, event.key);
        }

        println!("\n4. c is killed (SIGKILL): carol and dan leave every list");
        let mut lobby = Presence::start(&a).await?.subscribe(&online("lobby"));
        let killed = Instant::now();
        c.kill()?;
        c.wait()?;
        for room in [&mut lobby, &mut games] {
            if let Some(event) = room.next().await
                && event.change == PresenceChange::Leave
            {
                println!(
                    "    {} left ({} lost), seen on a {:.0} ms after the kill",
                    event.key,
                    if event.meta.node == c_name {
                        "node c"
                    } else {
                        "?"
                    },
                    killed.elapsed().as_secs_f64() * 1e3
                );
            }
        }
        for node in [&a, &b] {
            wait_for("c's users to leave", || who(node, "lobby").len() == 2).await?;
            println!(
                "    online, as {} lists it: lobby {:?}, games {:?}",
                &node.name()[..1],
                who(node, "lobby"),
                who(node, "games")
            );
        }
        a.shutdown().await;
        b.shutdown().await;
        Ok(())
    })
}
