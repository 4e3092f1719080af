//! Ping-pong between two nodes.
//!
//! `cargo run --example ping_pong` runs both nodes in this process. To run one node per terminal,
//! as with `iex --name a@host --cookie c`:
//!
//! ```text
//! cargo run --example ping_pong -- --name pong@127.0.0.1:4370 --cookie secret
//! cargo run --example ping_pong -- --name ping@127.0.0.1:0 --cookie secret --connect pong@127.0.0.1:4370
//! ```
//!
//! The first waits; the second plays against it and exits. Deployed, each node finds the
//! others itself with `--dns SERVICE` (every address of a Kubernetes headless service is a
//! node; docs/deployment.md):
//!
//! ```text
//! ping_pong --name pong@$POD_IP:4370 --cookie "$COOKIE" --dns pong.default.svc.cluster.local
//! ```

use std::time::{Duration, Instant};

use actors_net::prelude::*;
use actors_net::{Discovery, NodeBuilder};
use futures::channel::oneshot;

const ROUNDS: u64 = 10_000;

/// Answers each ping with a pong, to the pid the ping came with.
#[actor]
struct Pong {
    served: u64,
}

#[actor]
impl Pong {
    /// A ping from `from`: answer it.
    #[handle(cast)]
    fn ping(&mut self, round: u64, from: Pid<Ping>) {
        self.served += 1;
        if let Err(e) = from.pong(round) {
            eprintln!("cannot answer {from}: {e}");
        }
    }

    /// How many pings were served.
    #[handle]
    fn served(&self) -> u64 {
        self.served
    }
}

/// Plays rounds against a remote `Pong`, sending its own pid with each ping. Its messages
/// cross the wire (pongs come back from the other node); its state need not: `done` is where
/// the time taken goes when the game is over.
#[actor]
struct Ping {
    opponent: Option<Pid<Pong>>,
    rounds: u64,
    started: Option<Instant>,
    done: Option<oneshot::Sender<Duration>>,
}

#[actor]
impl Ping {
    /// Plays `rounds` rounds against `opponent`.
    #[handle(cast)]
    fn play(&mut self, opponent: Pid<Pong>, rounds: u64, ctx: &mut Ctx<Self>) {
        self.rounds = rounds;
        self.started = Some(Instant::now());
        if let Err(e) = opponent.ping(1, ctx.pid()) {
            eprintln!("cannot ping {opponent}: {e}");
        }
        self.opponent = Some(opponent);
    }

    /// A pong came back: ping again, or finish.
    #[handle(cast)]
    fn pong(&mut self, round: u64, ctx: &mut Ctx<Self>) {
        if round < self.rounds {
            if let Some(opponent) = &self.opponent
                && let Err(e) = opponent.ping(round + 1, ctx.pid())
            {
                eprintln!("cannot ping {opponent}: {e}");
            }
        } else if let (Some(done), Some(started)) = (self.done.take(), self.started) {
            let _ = done.send(started.elapsed());
        }
    }
}

struct Args {
    name: Option<String>,
    cookie: String,
    connect: Option<String>,
    dns: Option<String>,
}

fn args() -> Args {
    let mut args = Args {
        name: None,
        cookie: "ping-pong".into(),
        connect: None,
        dns: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--name" => args.name = Some(value),
            "--cookie" => args.cookie = value,
            "--connect" => args.connect = Some(value),
            "--dns" => args.dns = Some(value),
            other => panic!("unknown flag {other}: use --name, --cookie, --connect, --dns"),
        }
    }
    args
}

async fn play(ping_node: &Node, pong_node: &str) -> Result<(), Box<dyn std::error::Error>> {
    let pong: Pid<Pong> = ping_node.whereis_on("pong", pong_node).await?;
    let (done, elapsed) = oneshot::channel();
    let ping = ping_node.spawn(Ping {
        opponent: None,
        rounds: 0,
        started: None,
        done: Some(done),
    });
    println!("{ping} plays {ROUNDS} rounds against {pong} on {pong_node}");
    ping.play(pong.clone(), ROUNDS)?;
    let elapsed = elapsed.await?;
    println!(
        "{ROUNDS} ping-pongs in {:.1} ms: {:.1} us per round trip; pong served {}",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / ROUNDS as f64,
        pong.served().await?
    );
    Ok(())
}

/// The node `name`; with `--dns SERVICE`, it also joins every node that SERVICE's A/AAAA
/// records name (`short@<address>:port`, the short name and port its own), as deployed
/// behind a Kubernetes headless service (see docs/deployment.md).
fn builder(name: &str, args: &Args) -> NodeBuilder {
    let builder = Node::builder(name).cookie(&args.cookie);
    let Some(service) = &args.dns else {
        return builder;
    };
    let short = name.split('@').next().unwrap_or(name);
    let port = name
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!("--dns needs a fixed port in --name, as every node listens on one")
        });
    builder.discovery(Discovery::dns(service, short, port))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors_net::logs::init();
    let args = args();
    actors::rt::block_on(async move {
        match (args.name.clone(), args.connect.clone()) {
            (None, _) => {
                let pong_node = Node::builder("pong@127.0.0.1:0")
                    .cookie(&args.cookie)
                    .start()
                    .await?;
                let ping_node = Node::builder("ping@127.0.0.1:0")
                    .cookie(&args.cookie)
                    .start()
                    .await?;
                pong_node.register("pong", pong_node.spawn(Pong { served: 0 }))?;
                println!(
                    "two nodes in one process: {} and {}",
                    ping_node.name(),
                    pong_node.name()
                );
                play(&ping_node, pong_node.name()).await?;
                ping_node.shutdown().await;
                pong_node.shutdown().await;
            }
            (Some(name), None) => {
                let node = builder(&name, &args).start().await?;
                node.register("pong", node.spawn(Pong { served: 0 }))?;
                println!("{} waits for pings (Ctrl-C to stop)", node.name());
                std::future::pending::<()>().await;
            }
            (Some(name), Some(peer)) => {
                let node = builder(&name, &args).start().await?;
                node.connect(&peer).await?;
                play(&node, &peer).await?;
                node.shutdown().await;
            }
        }
        Ok(())
    })
}
