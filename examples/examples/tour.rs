//! A tour of distributed actors: three nodes over loopback, a remote call, a pid sent in a
//! message and used on the far side, a cluster-wide name, a process group, a supervised
//! worker on another node, and that node killed: seen down, the worker restarted on the next
//! node under the same name, the group shrunk.
//!
//! `cargo run` in the repository runs it. Nodes `a` and `b` run in this process; node `c` is
//! this same program started again as a child process, so that it can really be killed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actors::supervisor::{Strategy, Supervisor};
use actors_net::failover_child;
use actors_net::prelude::*;

const COOKIE: &str = "tour";

/// A counter: the state of one process (which crosses the wire when a supervisor starts it
/// on another node).
#[actor]
#[derive(serde::Serialize, serde::Deserialize)]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    /// Adds `by`; replies with the total.
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    /// Calls `other` (a pid that came in this message) and returns its answer.
    #[handle]
    async fn add_to(&self, other: Pid<Counter>, by: u64) -> Result<u64, CallError> {
        other.add(by).await
    }
}

/// Watches processes and reports their ends.
#[actor]
struct Watcher {
    downs: u32,
}

#[actor]
impl Watcher {
    fn on_down(&mut self, down: Down) {
        println!("    watcher on a: {} ended: {}", down.pid, down.reason);
        self.downs += 1;
    }

    /// How many watched processes have ended.
    #[handle]
    fn downs(&self) -> u32 {
        self.downs
    }

    /// Watches `pid`, wherever it lives.
    #[handle]
    fn watch(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) {
        ctx.monitor(pid);
    }
}

/// Node `c`, in a child process: a counter registered as "counter", then wait to be killed.
fn child(connect: &str) {
    actors::rt::block_on(async {
        let c = Node::builder("c@127.0.0.1:0")
            .cookie(COOKIE)
            .start()
            .await
            .expect("c starts");
        c.register("counter", c.spawn(Counter { n: 1000 }))
            .expect("free name");
        c.allow_spawn::<Counter>();
        c.connect(connect).await.expect("c connects to a");
        let member = c.spawn(Counter { n: 0 });
        c.groups().join("counters", &member).await.expect("joins");
        println!("{}", c.name());
        std::future::pending::<()>().await;
    })
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors_net::logs::init();
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, connect] = args.as_slice()
        && flag == "--child"
    {
        child(connect);
        return Ok(());
    }
    actors::rt::block_on(async {
        println!("1. three nodes over loopback");
        let a = Node::builder("a@127.0.0.1:0")
            .cookie(COOKIE)
            .start()
            .await?;
        let b = Node::builder("b@127.0.0.1:0")
            .cookie(COOKIE)
            .start()
            .await?;
        let mut events = a.monitor_nodes();
        b.connect(a.name()).await?;
        println!(
            "    {} and {} started; b connected to a",
            a.name(),
            b.name()
        );
        let mut proc = Command::new(std::env::current_exe()?)
            .args(["--child", a.name()])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(proc.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        let c_name = line.trim().to_string();
        println!(
            "    {c_name} started in its own OS process (pid {})",
            proc.id()
        );
        // c connected to a only; a told it about b, so c and b connected too: a full mesh.
        let deadline = Instant::now() + Duration::from_secs(5);
        while b.nodes().len() < 2 && Instant::now() < deadline {
            actors::rt::sleep(Duration::from_millis(10)).await;
        }
        println!("    a sees {:?}", a.nodes());
        println!("    b sees {:?}", b.nodes());

        println!("\n2. a remote call: the same call as a local one");
        let on_b = b.spawn(Counter { n: 0 });
        b.register("counter", &on_b)?;
        let remote: Pid<Counter> = a.whereis_on("counter", b.name()).await?;
        println!("    a found \"counter\" on b: {remote} (b's own view: {on_b})");
        println!("    remote.add(5) from a -> {}", remote.add(5).await?);

        println!("\n3. a pid sent in a message, used on the far side");
        let on_a = a.spawn(Counter { n: 40 });
        println!("    a asks b's counter to add 2 to {on_a}, a counter on a");
        println!(
            "    b called back across the network -> {:?}",
            remote.add_to(on_a.clone(), 2).await?
        );

        println!("\n4. a cluster-wide name and a process group");
        let total = b.spawn(Counter { n: 100 });
        b.global().register("total", &total).await?;
        let found: Pid<Counter> = a.global().whereis("total").ok_or("no \"total\"")?;
        println!(
            "    b registered \"total\"; a finds it by name -> add(1) = {}",
            found.add(1).await?
        );
        for n in [&a, &b] {
            let member = n.spawn(Counter { n: 0 });
            n.groups().join("counters", &member).await?;
        }
        for n in [b.name(), c_name.as_str()] {
            a.groups().synced(n, Duration::from_secs(5)).await?;
        }
        println!(
            "    a counter on each node joined \"counters\": a lists {} members",
            a.groups().members("counters").len()
        );

        println!("\n5. a supervised worker, on the first of c, b, a that can run it");
        b.allow_spawn::<Counter>();
        let sup = Supervisor::new(Strategy::OneForOne)
            .child(
                failover_child("worker", [c_name.as_str(), b.name(), a.name()], || {
                    Counter { n: 0 }
                })
                .global_name("worker"),
            )
            .start(&a)
            .await?;
        let worker: Pid<Counter> = a.global().whereis("worker").ok_or("no worker")?;
        println!(
            "    the supervisor on a started \"worker\" on {} -> add(7) = {}",
            if worker.node() == c_name {
                "c"
            } else {
                "another node"
            },
            worker.add(7).await?
        );

        println!("\n6. c killed");
        let on_c: Pid<Counter> = a.whereis_on("counter", &c_name).await?;
        println!("    c's counter answers: add(1) -> {}", on_c.add(1).await?);
        let watcher = a.spawn(Watcher { downs: 0 });
        watcher.watch(on_c.any()).await?;
        while let Ok(Some(event)) =
            actors::rt::timeout(Duration::from_millis(100), events.next()).await
        {
            let _ = event; // connection events so far: b and c coming up
        }
        let killed = Instant::now();
        proc.kill()?;
        proc.wait()?;
        println!("    SIGKILL sent to c");
        loop {
            match actors::rt::timeout(Duration::from_secs(5), events.next()).await {
                Ok(Some(NodeEvent::Down(name))) if name == c_name => {
                    println!(
                        "    a saw NodeDown({name}) after {:.1} ms",
                        killed.elapsed().as_secs_f64() * 1e3
                    );
                    break;
                }
                Ok(Some(_)) => continue,
                _ => return Err("no NodeDown for c".into()),
            }
        }
        println!("    a call to c's counter now -> {:?}", on_c.add(1).await);
        while watcher.downs().await? == 0 && killed.elapsed() < Duration::from_secs(5) {
            actors::rt::sleep(Duration::from_millis(5)).await;
        }
        let moved = loop {
            match a.global().whereis::<Counter>("worker") {
                Some(w) if w.node() != c_name => break w,
                _ if killed.elapsed() > Duration::from_secs(5) => return Err("no failover".into()),
                _ => actors::rt::sleep(Duration::from_millis(2)).await,
            }
        };
        println!(
            "    \"worker\" restarted on {} after {:.1} ms -> add(7) = {} (fresh state)",
            if moved.node() == b.name() { "b" } else { "a" },
            killed.elapsed().as_secs_f64() * 1e3,
            moved.add(7).await?
        );
        println!(
            "    \"counters\" now lists {} members",
            a.groups().members("counters").len()
        );
        a.stop(&sup, ExitReason::Shutdown);

        println!("\n7. shutting down");
        a.shutdown().await;
        b.shutdown().await;
        println!("    done");
        Ok(())
    })
}
