//! Three nodes under some load, seen in the browser: the observer page of node a shows
//! every node, its connections, supervision trees and processes, the global names and the
//! groups; a process in full, with its state; kill a worker from the page and watch its
//! supervisor restart it. Node a also serves its metrics to Prometheus.
//!
//! Run it with `cargo run --example observer` and open the URL it prints; it runs until
//! Ctrl-C, or for a while with `--for 30s`.

use std::time::Duration;

use actors::supervisor::{ChildSpec, Strategy, Supervisor};
use actors_net::prelude::*;

/// Takes what pumps send it, and counts.
#[actor]
#[derive(Debug)]
struct Sink {
    taken: u64,
}

#[actor(debug)]
impl Sink {
    #[handle(cast)]
    fn take(&mut self, n: u64) {
        self.taken += n;
    }

    #[handle]
    fn taken(&self) -> u64 {
        self.taken
    }
}

/// Sends a burst to a sink, on another node, every few milliseconds.
#[actor]
#[derive(Debug)]
struct Pump {
    to: Pid<Sink>,
    sent: u64,
}

#[actor(local, debug)]
impl Pump {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        ctx.send_after(Duration::from_millis(5), |me| me.tick());
    }

    #[handle(cast)]
    fn tick(&mut self, ctx: &mut Ctx<Self>) {
        for _ in 0..20 {
            let _ = self.to.take(1);
        }
        self.sent += 20;
        ctx.send_after(Duration::from_millis(5), |me| me.tick());
    }
}

/// Gives up now and then, on purpose, so that restarts show.
#[actor]
#[derive(Debug)]
struct Flaky {
    beats: u32,
}

#[actor(debug)]
impl Flaky {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        ctx.send_after(Duration::from_millis(100), |me| me.beat());
    }

    #[handle(cast)]
    fn beat(&mut self, ctx: &mut Ctx<Self>) {
        self.beats += 1;
        if self.beats == 150 {
            ctx.stop(ExitReason::Error("gives up every 15 s, on purpose".into()));
            return;
        }
        ctx.send_after(Duration::from_millis(100), |me| me.beat());
    }
}

/// How long to run: `--for 30s` (or `500ms`, `2m`); until Ctrl-C without it.
fn run_for() -> Result<Option<Duration>, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(None),
        [flag, value] if flag == "--for" => {
            let (n, unit) = value.split_at(
                value
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(value.len()),
            );
            let n: u64 = n
                .parse()
                .map_err(|_| format!("--for takes 30s, 500ms or 2m, not {value}"))?;
            match unit {
                "ms" => Ok(Some(Duration::from_millis(n))),
                "s" | "" => Ok(Some(Duration::from_secs(n))),
                "m" => Ok(Some(Duration::from_secs(n * 60))),
                _ => Err(format!("--for takes 30s, 500ms or 2m, not {value}")),
            }
        }
        _ => Err("usage: observer [--for 30s]".into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors_net::logs::init();
    let run_for = run_for()?;
    actors::rt::block_on(async {
        let mut nodes = Vec::new();
        for name in ["a", "b", "c"] {
            let node = Node::builder(&format!("{name}@127.0.0.1:0"))
                .cookie("observer")
                .start()
                .await?;
            if let Some(first) = nodes.first() {
                let first: &Node = first;
                node.connect(first.name()).await?;
            }
            nodes.push(node);
        }
        // On each node: a supervisor with a sink and a flaky worker, in the group "sinks".
        for node in &nodes {
            let sup = Supervisor::new(Strategy::OneForOne)
                .intensity(10, Duration::from_secs(60))
                .child(ChildSpec::new("sink", || Sink { taken: 0 }).name("sink"))
                .child(ChildSpec::new("flaky", || Flaky { beats: 0 }).name("flaky"))
                .start(node)
                .await?;
            node.register("app", &sup)?;
            let sink: Pid<Sink> = node.whereis("sink").ok_or("the sink runs")?;
            node.groups().join("sinks", &sink).await?;
        }
        // Each node pumps into the next node's sink.
        for (i, node) in nodes.iter().enumerate() {
            let next = &nodes[(i + 1) % nodes.len()];
            let to: Pid<Sink> = node.whereis_on("sink", next.name()).await?;
            node.spawn(Pump { to, sent: 0 });
        }
        let a = &nodes[0];
        let billing: Pid<Sink> = a.whereis_on("sink", nodes[2].name()).await?;
        a.global().register("billing", &billing).await?;
        for node in &nodes[1..] {
            a.ping(node.name()).await?;
        }

        let observer = a.observer("127.0.0.1:0").actions(true).start().await?;
        let metrics = a.prometheus("127.0.0.1:0").start().await?;
        println!(
            "three nodes: {}",
            nodes
                .iter()
                .map(|n| n.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("observer at {}", observer.url());
        println!("metrics at http://{}/metrics", metrics.addr());
        match run_for {
            None => {
                println!("open the observer in a browser; Ctrl-C to stop");
                futures::future::pending::<()>().await;
            }
            Some(d) => actors::rt::sleep(d).await,
        }

        // What the page would show now, told as text.
        for seen in a.introspect().cluster().await {
            println!(
                "{}: {} processes, {} messages handled, {} restarts, {} connections",
                seen.name,
                seen.load.processes,
                seen.load.messages_handled,
                seen.load.restarts,
                seen.connections.len()
            );
        }
        let taken = billing.taken().await?;
        println!(
            "the global name billing is a sink on {} that has taken {taken} messages",
            billing.node()
        );
        for node in &nodes {
            node.shutdown().await;
        }
        Ok(())
    })
}
