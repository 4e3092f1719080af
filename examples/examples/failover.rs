//! Supervised failover: a supervisor on node `a` keeps one `Worker` running on the first of
//! `c`, `b`, `a` that can start it, under the cluster-wide name "worker" (`global_name`);
//! a client calls it by that name. Node `c` runs in its own OS process and is killed: the
//! supervisor restarts the worker on `b`, the name moves with it, and the client's calls find
//! it there.
//!
//! Run it with `cargo run --example failover`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actors::supervisor::{Strategy, Supervisor};
use actors_net::failover_child;
use actors_net::prelude::*;

const COOKIE: &str = "failover";

/// A service that must run exactly once in the cluster. Its state crosses the wire when the
/// supervisor starts it on another node.
#[actor]
#[derive(serde::Serialize, serde::Deserialize)]
struct Worker {
    served: u64,
}

#[actor]
impl Worker {
    /// Serves one request: where it ran, and how many this process has served.
    #[handle]
    fn work(&mut self, ctx: &mut Ctx<Self>) -> (String, u64) {
        self.served += 1;
        (ctx.node().name().to_string(), self.served)
    }
}

/// Node `c`, in a child process: allows workers, connects, and waits to be killed.
fn child(connect: &str) {
    actors::rt::block_on(async {
        let c = Node::builder("c@127.0.0.1:0")
            .cookie(COOKIE)
            .start()
            .await
            .expect("c starts");
        c.allow_spawn::<Worker>();
        c.connect(connect).await.expect("c connects to a");
        println!("{}", c.name());
        std::future::pending::<()>().await;
    })
}

/// Calls the worker by its global name once: who answered, or why not.
async fn call(node: &Node) -> Result<(String, u64), String> {
    let worker: Pid<Worker> = node.global().send("worker").map_err(|e| e.to_string())?;
    worker
        .work()
        .timeout(Duration::from_millis(500))
        .await
        .map_err(|e| e.to_string())
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        actors::rt::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors_net::logs::init();
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, connect] = args.as_slice()
        && flag == "--child"
    {
        child(connect);
        return Ok(());
    }
    actors::rt::block_on(async {
        println!(
            "1. three nodes: a supervises, b stands by, c (its own OS process) runs the worker"
        );
        let a = Node::builder("a@127.0.0.1:0")
            .cookie(COOKIE)
            .start()
            .await?;
        let b = Node::builder("b@127.0.0.1:0")
            .cookie(COOKIE)
            .start()
            .await?;
        for node in [&a, &b] {
            node.allow_spawn::<Worker>();
        }
        b.connect(a.name()).await?;
        let mut proc = Command::new(std::env::current_exe()?)
            .args(["--child", a.name()])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(proc.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        let c_name = line.trim().to_string();
        wait_for("a full mesh", || b.nodes().len() == 2).await?;

        let sup = Supervisor::new(Strategy::OneForOne)
            .child(
                failover_child("worker", [c_name.as_str(), b.name(), a.name()], || Worker {
                    served: 0,
                })
                // Each start takes the name, from a predecessor whose node not every node has
                // seen go yet too.
                .global_name("worker"),
            )
            .start(&a)
            .await?;
        wait_for("the worker's name", || {
            a.global()
                .whereis::<Worker>("worker")
                .is_some_and(|w| w.node() == c_name)
        })
        .await?;
        for _ in 0..3 {
            let (node, served) = call(&a).await?;
            let on = if node == c_name { "c" } else { "elsewhere" };
            println!("    a calls \"worker\": served by {on}, request #{served} there");
        }

        println!("\n2. c is killed (SIGKILL); a keeps calling \"worker\"");
        let killed = Instant::now();
        proc.kill()?;
        proc.wait()?;
        let mut failed = 0;
        let (node, served) = loop {
            match call(&a).await {
                Ok((node, served)) if node != c_name => break (node, served),
                Ok(_) => {}
                Err(_) if killed.elapsed() < Duration::from_secs(10) => failed += 1,
                Err(e) => return Err(e.into()),
            }
            actors::rt::sleep(Duration::from_millis(2)).await;
        };
        let on = if node == b.name() { "b" } else { "a" };
        println!(
            "    served by {on} after {:.0} ms, request #{served} there (fresh state); calls failed meanwhile: {failed}",
            killed.elapsed().as_secs_f64() * 1e3
        );
        let children = sup.which_children().await?;
        let now = children[0].pid.as_ref().ok_or("no worker")?;
        println!(
            "    the supervisor's worker is now {now} on {}",
            if now.node() == b.name() { "b" } else { "a" }
        );

        println!("\n3. shutting down");
        a.stop(&sup, ExitReason::Shutdown);
        a.shutdown().await;
        b.shutdown().await;
        println!("    done");
        Ok(())
    })
}
