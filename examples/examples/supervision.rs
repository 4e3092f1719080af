//! Supervision: workers crash on purpose and come back.
//!
//! A top supervisor runs a `cache` (registered by name) and an inner supervisor with a
//! `flaky` worker. A client keeps calling the cache by name while it crashes every few
//! requests; then the flaky worker fails faster than its supervisor's intensity allows, the
//! inner supervisor gives up, and the top supervisor restarts it.
//!
//! Run it with `cargo run --example supervision`.

use std::time::Duration;

use actors::prelude::*;
use actors::supervisor::{ChildSpec, Strategy, Supervisor};

/// Answers lookups, and crashes every third one to show a restart.
#[actor]
struct Cache {
    served: u32,
}

#[actor]
impl Cache {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        println!("  [cache] started as {}", ctx.pid());
    }

    /// Looks a key up; every third lookup panics.
    #[handle]
    fn lookup(&mut self, key: String) -> String {
        self.served += 1;
        if self.served == 3 {
            panic!("cache corrupted on purpose");
        }
        format!("value of {key}")
    }
}

/// Fails when told to.
#[actor]
struct Flaky;

#[actor]
impl Flaky {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        println!("  [flaky] started as {}", ctx.pid());
    }

    /// Ends with an error.
    #[handle]
    fn fail(&mut self, ctx: &mut Ctx<Self>) {
        ctx.stop(ExitReason::Error("told to fail".into()));
    }
}

fn inner_supervisor() -> Supervisor {
    Supervisor::new(Strategy::OneForOne)
        .intensity(2, Duration::from_secs(10))
        .child(ChildSpec::new("flaky", || Flaky).name("flaky"))
}

async fn flaky(node: &Node) -> Pid<Flaky> {
    loop {
        if let Some(pid) = node.whereis("flaky") {
            return pid;
        }
        actors::rt::sleep(Duration::from_millis(5)).await;
    }
}

fn main() {
    actors_net::logs::init();
    // The crashes here are on purpose: one line each instead of the default panic report.
    std::panic::set_hook(Box::new(|info| eprintln!("  (panic: {info})")));
    actors::rt::block_on(async {
        let node = Node::local();
        println!("starting the supervision tree");
        let top = Supervisor::new(Strategy::OneForOne)
            .intensity(5, Duration::from_secs(10))
            .child(ChildSpec::new("cache", || Cache { served: 0 }).name("cache"))
            .child(ChildSpec::new("inner", inner_supervisor))
            .start(&node)
            .await
            .expect("the children start");

        println!("\na client calls the cache by name; it crashes every third request");
        for i in 1..=7 {
            let key = format!("k{i}");
            loop {
                let cache: Option<Pid<Cache>> = node.whereis("cache");
                let reply = match cache {
                    Some(cache) => cache.lookup(key.clone()).await,
                    None => Err(CallError::NoProc),
                };
                match reply {
                    Ok(value) => {
                        println!("  client: lookup({key}) -> {value}");
                        break;
                    }
                    Err(e) => {
                        println!("  client: lookup({key}) failed ({e}); retrying by name");
                        actors::rt::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }

        println!("\nthe flaky worker fails 3 times; its supervisor allows 2 restarts in 10 s");
        let inner = top.which_children().await.expect("top is alive")[1]
            .pid
            .clone()
            .expect("inner is running");
        let inner_down = node.monitor(&inner);
        for attempt in 1..=3 {
            let worker = flaky(&node).await;
            let down = node.monitor(&worker);
            let _ = worker.fail().await;
            println!("  failure {attempt}: {}", down.await.reason);
        }
        println!("  inner supervisor exited: {}", inner_down.await.reason);

        let children = top.which_children().await.expect("top is alive");
        let new_inner = children[1].pid.clone();
        println!(
            "  top supervisor restarted it: {} -> {}",
            inner,
            new_inner.map_or("nothing".to_string(), |p| p.to_string())
        );
        let worker = flaky(&node).await;
        println!("  and its flaky worker is back as {worker}");

        node.shutdown().await;
        println!("\nshut down; {} processes left", node.process_count());
    });
}
