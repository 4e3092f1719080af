//! Failover without a special node: nodes `a`, `b` and `c` each run a member of the
//! distributed supervisor "workers"; `c` adds the `Worker`, which runs on the member that
//! placement names and takes the cluster-wide name "worker"; a client calls it by that name.
//! `b` and `c` run in OS processes of their own. First `c`, the node that added the worker,
//! is killed (SIGKILL); then the node the worker runs on, if it is still one of the two: each
//! time the worker answers again from a survivor. Then a job that must never run twice,
//! under a consistent supervisor of five nodes: the cluster is split 3/2 with the job's node
//! in the minority, which stops its copy before the majority starts one.
//!
//! Run it with `cargo run --example failover`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A member's OS process, killed when dropped: one the example did not get to kill (it
/// ended early with an error) does not outlive it.
struct Member(Child);

impl Member {
    fn kill(&mut self) -> std::io::Result<()> {
        self.0.kill()?;
        self.0.wait().map(|_| ())
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
use std::time::{Duration, Instant};

use actors_net::distributed::{
    ChildDef, DEFAULT_MAX_CHILDREN, DistributedSupervisor, FencingToken, Mode,
};
use actors_net::prelude::*;

#[path = "common/copies.rs"]
mod copies;

const COOKIE: &str = "failover";

/// A service that must keep running somewhere in the cluster. Its state crosses the wire
/// to whichever member starts it.
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

/// A job that must never run twice at once: a consistent supervisor's child.
#[actor]
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct PayRun {
    token: FencingToken,
}

#[actor]
impl PayRun {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        copies::started(ctx.node().name(), self.token);
    }

    fn stopped(&mut self, _reason: &ExitReason, ctx: &mut Ctx<Self>) {
        copies::stopped(ctx.node().name());
    }
}

/// Five nodes here run a consistent supervisor with one `PayRun`; the cluster is split 3/2
/// with the run's node in the minority, then healed.
async fn never_twice() -> Result<(), Box<dyn std::error::Error>> {
    let mut nodes = Vec::new();
    for i in 0..5 {
        let node = Node::builder(&format!("p{i}@127.0.0.1:0"))
            .cookie(COOKIE)
            .start()
            .await?;
        node.allow_spawn::<PayRun>();
        nodes.push(node);
    }
    for node in &nodes[1..] {
        node.connect(nodes[0].name()).await?;
    }
    copies::wait("a full mesh", || nodes.iter().all(|n| n.nodes().len() == 4)).await?;
    let voters: Vec<String> = nodes.iter().map(|n| n.name().to_string()).collect();
    let short = |name: &str| {
        let i = voters.iter().position(|v| v == name).unwrap_or(usize::MAX);
        format!("p{i}")
    };
    let mut sups = Vec::new();
    for node in &nodes {
        let mode = Mode::Consistent(voters.clone());
        sups.push(
            DistributedSupervisor::start_with(node, "payroll", mode, DEFAULT_MAX_CHILDREN).await?,
        );
    }
    let since = Instant::now();
    while sups[0]
        .start_child(ChildDef::new("payrun", &PayRun::default())?)
        .await
        .is_err()
    {
        if since.elapsed() > Duration::from_secs(20) {
            return Err("no leader was elected".into());
        }
    }
    copies::wait("the pay run to start", || copies::running().len() == 1).await?;
    let home = copies::running().remove(0);
    println!("    the pay run runs on {}, the log's leader", short(&home));
    let hi = voters.iter().position(|v| *v == home).ok_or("no home")?;
    copies::split(&nodes, &[hi, (hi + 1) % 5]);
    let split_at = Instant::now();
    copies::wait("the pay run to move to the majority", || {
        copies::running().len() == 1 && copies::running()[0] != home
    })
    .await?;
    let (stopped, started, new_node, old_token, new_token) =
        copies::moved_from(&home).ok_or("the old copy did not stop")?;
    println!(
        "    split 3/2: the minority stopped its copy {:.0} ms after the split, the majority started one on {} {:.0} ms after it",
        stopped.saturating_duration_since(split_at).as_secs_f64() * 1e3,
        short(&new_node),
        started.saturating_duration_since(split_at).as_secs_f64() * 1e3
    );
    println!("    the stop came first: {}", stopped <= started);
    println!(
        "    its fencing token went from {:#x} to {:#x}",
        old_token.get(),
        new_token.get()
    );
    copies::heal(&nodes).await;
    copies::wait("one copy after the heal", || copies::running().len() == 1).await?;
    println!(
        "    healed: one copy, on {}; the most that ever ran at once: {}",
        short(&copies::running()[0]),
        copies::most_at_once()
    );
    for node in &nodes {
        node.shutdown().await;
    }
    Ok(())
}

/// A member node in a child process: allows workers, joins the supervisor, maybe adds the
/// worker, and waits to be killed.
fn member(name: &str, connect: &str, add: bool) {
    actors::rt::block_on(async {
        let node = Node::builder(&format!("{name}@127.0.0.1:0"))
            .cookie(COOKIE)
            .start()
            .await
            .expect("the node starts");
        node.allow_spawn::<Worker>();
        node.connect(connect).await.expect("it connects to a");
        let sup = DistributedSupervisor::start(&node, "workers")
            .await
            .expect("the member starts");
        if add {
            let worker = ChildDef::new("worker", &Worker { served: 0 })
                .expect("the state encodes")
                .global_name("worker");
            sup.start_child(worker).await.expect("the worker is added");
        }
        println!("{}", node.name());
        std::future::pending::<()>().await;
    })
}

/// Starts a member node in a child process; its name once it is up.
fn spawn_member(
    name: &str,
    connect: &str,
    add: bool,
) -> Result<(Member, String), Box<dyn std::error::Error>> {
    let mut args = vec!["--member", name, connect];
    if add {
        args.push("--add");
    }
    let mut member = Member(
        Command::new(std::env::current_exe()?)
            .args(&args)
            .stdout(Stdio::piped())
            .spawn()?,
    );
    let mut line = String::new();
    BufReader::new(member.0.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    Ok((member, line.trim().to_string()))
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

/// Calls until a node other than `gone` answers: that node, how long it took, and how many
/// calls failed meanwhile.
async fn answered_without(a: &Node, gone: &str) -> Result<(String, u64, Duration, u32), String> {
    let since = Instant::now();
    let mut failed = 0;
    loop {
        match call(a).await {
            Ok((node, served)) if node != gone => {
                return Ok((node, served, since.elapsed(), failed));
            }
            Ok(_) => {}
            Err(_) if since.elapsed() < Duration::from_secs(15) => failed += 1,
            Err(e) => return Err(e),
        }
        actors::rt::sleep(Duration::from_millis(2)).await;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors_net::logs::init();
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, name, connect, rest @ ..] = args.as_slice()
        && flag == "--member"
    {
        member(name, connect, rest.iter().any(|a| a == "--add"));
        return Ok(());
    }
    actors::rt::block_on(async {
        println!(
            "1. three members of \"workers\": a here, b and c in OS processes; c adds the worker"
        );
        let a = Node::builder("a@127.0.0.1:0")
            .cookie(COOKIE)
            .start()
            .await?;
        a.allow_spawn::<Worker>();
        let sup = DistributedSupervisor::start(&a, "workers").await?;
        let (mut b, b_name) = spawn_member("b", a.name(), false)?;
        let (mut c, c_name) = spawn_member("c", a.name(), true)?;
        let short = |n: &str| {
            if n == a.name() {
                "a"
            } else if n == b_name {
                "b"
            } else if n == c_name {
                "c"
            } else {
                "?"
            }
        };
        // While the members find each other, the worker may start on one and move to the
        // one placement names over all three (an available supervisor hands it over as each
        // member's view grows): a client retries through that, as here, until the worker
        // answers three times in a row from one node.
        let since = Instant::now();
        let mut answers: Vec<(String, u64)> = Vec::new();
        while answers.len() < 3 {
            if since.elapsed() > Duration::from_secs(15) {
                return Err("the worker did not answer steadily".into());
            }
            let answer = match sup.members().await?.len() {
                3 => call(&a).await.ok(),
                _ => None,
            };
            match answer {
                Some(answer) if answers.iter().all(|(node, _)| *node == answer.0) => {
                    answers.push(answer);
                }
                Some(answer) => answers = vec![answer],
                None => {
                    answers.clear();
                    actors::rt::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        for (node, served) in answers {
            println!(
                "    a calls \"worker\": served by {}, request #{served} there",
                short(&node)
            );
        }

        println!("\n2. c, the node that added the worker, is killed (SIGKILL)");
        c.kill()?;
        let (node, served, took, failed) = answered_without(&a, &c_name).await?;
        println!(
            "    served by {} {:.0} ms later, request #{served} there; calls failed meanwhile: {failed}",
            short(&node),
            took.as_secs_f64() * 1e3
        );

        let since = Instant::now();
        let mut members = sup.members().await?;
        while members.len() > 2 && since.elapsed() < Duration::from_secs(10) {
            actors::rt::sleep(Duration::from_millis(5)).await;
            members = sup.members().await?;
        }
        println!(
            "    members now: {:?}",
            members.iter().map(|m| short(m)).collect::<Vec<_>>()
        );

        if node == b_name {
            println!("\n3. b, where the worker runs now, is killed too");
            b.kill()?;
            let (node, served, took, failed) = answered_without(&a, &b_name).await?;
            println!(
                "    served by {} {:.0} ms later, request #{served} there (fresh state); calls failed meanwhile: {failed}",
                short(&node),
                took.as_secs_f64() * 1e3
            );
        } else {
            println!(
                "\n3. the worker runs on {}, so b stays; it is stopped",
                short(&node)
            );
            b.kill()?;
        }
        a.shutdown().await;

        println!("\n4. a job that must never run twice: five nodes here, a consistent supervisor");
        never_twice().await?;
        println!("\n5. shutting down");
        println!("    done");
        Ok(())
    })
}
