//! A Rust node in an Erlang cluster: starts a real `erl` node (Erlang/OTP must be installed:
//! `apt-get install erlang-base`), and then
//!
//! - Erlang calls a Rust actor with `gen_server:call({counter, RustNode}, {add, 5})`;
//! - Rust calls an Erlang `gen_server` with typed requests and replies;
//! - Rust monitors an Erlang process and sees it end with its reason;
//! - a Rust process joins a `pg` group, and Erlang's `pg:get_members` lists it.
//!
//! `cargo run --example beam` runs it all and ends by itself. `cargo run --example beam -- --serve`
//! only starts the Rust node (`rust@<host>`, cookie `c`, visible) for an `erl -sname a
//! -setcookie c` or `iex --sname a --cookie c` of your own: it answers `net_adm:ping`, runs
//! `rust:add/2` and `rust:global_whereis/1` for `rpc:call`, serves a counter registered as
//! `counter` (`sys:get_state` shows it) and globally as `rust_counter`, a process `echo`
//! that sends `Msg` back to `Pid` for `{Pid, Msg}`, and puts the counter in group
//! `rust_workers` of scopes `pg` and `rust_scope`. See the README, "Joining an Erlang or
//! Elixir cluster".

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use actors::etf::{Atom, Term};
use actors_net::beam::{BeamDest, BeamNode, RpcError};
use actors_net::prelude::*;
use serde::{Deserialize, Serialize};

/// A counter that shows its state to `sys:get_state`.
#[actor]
#[derive(Debug, Serialize)]
struct Counter {
    n: u64,
}

#[actor(debug)]
impl Counter {
    /// `gen_server:call({counter, Node}, {add, N})` from Erlang lands here.
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    /// `gen_server:call({counter, Node}, get)`.
    #[handle]
    fn get(&self) -> u64 {
        self.n
    }
}

/// Sends `Msg` back to `Pid` for each `{Pid, Msg}` it is sent, as an Erlang echo server.
#[actor]
struct Echo;

#[actor]
impl Echo {
    /// Whatever fits no other handler: here, every message (Erlang's `handle_info`).
    #[handle(info)]
    fn info(&mut self, message: Term, ctx: &mut Ctx<Self>) {
        if let Some([Term::Pid(to), msg]) = message.as_tuple() {
            let (node, to, msg) = (ctx.node(), to.clone(), msg.clone());
            actors::rt::spawn(async move {
                if let Ok(beam) = node.beam() {
                    let _ = beam.send(to, &msg).await;
                }
            });
        }
    }
}

/// The requests the Erlang `greeter` takes, as Rust types: `Hello(name)` is `{hello, Name}`.
#[derive(Serialize, Deserialize)]
enum Greeter {
    Hello(String),
    AddOn(Atom, u64),
    SpawnWorker,
    Members(Atom),
}

const ERLANG_SOURCE: &str = include_str!("../erlang/demo.erl");

fn main() {
    actors_net::logs::init();
    if std::env::args().any(|a| a == "--serve") {
        return actors::rt::block_on(serve());
    }
    actors::rt::block_on(demo());
}

/// The short host name, as `erl -sname` uses it.
fn short_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| {
            h.trim()
                .split('.')
                .next()
                .unwrap_or("localhost")
                .to_string()
        })
        .unwrap_or_else(|_| "localhost".into())
}

async fn serve() {
    let name = format!("rust@{}", short_host());
    let node = Node::builder(&format!("{name}:0"))
        .cookie("c")
        .beam(&name)
        .beam_visible()
        .start()
        .await
        .expect("the node starts");
    let counter = node.spawn(Counter { n: 0 });
    node.register("counter", &counter)
        .expect("the name is free");
    node.global()
        .register("rust_counter", &counter)
        .await
        .expect("the global name is free");
    node.register("echo", node.spawn(Echo))
        .expect("the name is free");
    let beam = node.beam().expect("the node speaks to BEAM nodes");
    beam.register_fn("rust", "add", |(a, b): (i64, i64)| async move {
        Ok::<_, RpcError>(a + b)
    });
    let names = node.clone();
    beam.register_fn("rust", "global_whereis", move |(global,): (String,)| {
        let found = names.global().whereis_any(&global);
        async move { Ok::<_, RpcError>(found) }
    });
    let workers = Atom::from("rust_workers");
    beam.groups()
        .expect("the default scope")
        .join(&workers, &counter)
        .await
        .expect("joined");
    beam.scope("rust_scope")
        .await
        .expect("a scope of its own")
        .join(&workers, &counter)
        .await
        .expect("joined");
    println!("{name} is up, with cookie c; in `erl -sname a -setcookie c` try:");
    println!("  net_adm:ping('{name}').");
    println!("  gen_server:call({{counter, '{name}'}}, {{add, 5}}).");
    println!("  rpc:call('{name}', rust, add, [1, 2]).");
    println!("  global:whereis_name(rust_counter).");
    println!("  sys:get_state({{counter, '{name}'}}).");
    println!("Ctrl-C ends it.");
    futures::future::pending::<()>().await;
}

async fn demo() {
    // Compile the Erlang side and start it on a node of its own.
    let dir = std::env::temp_dir().join(format!("actors-beam-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    std::fs::write(dir.join("demo.erl"), ERLANG_SOURCE).expect("the Erlang source is written");
    let compiled = Command::new("erlc")
        .arg("-o")
        .arg(&dir)
        .arg(dir.join("demo.erl"))
        .status();
    if !compiled.is_ok_and(|s| s.success()) {
        eprintln!("this example needs Erlang/OTP: apt-get install erlang-base");
        std::process::exit(1);
    }

    // The Rust node first: if no EPMD runs on this host, it serves one, and erl uses it.
    let rust = "rust_demo@127.0.0.1";
    let node = Node::builder(&format!("{rust}:0"))
        .cookie("demo-cookie")
        .beam(rust)
        .start()
        .await
        .expect("the Rust node starts");
    let counter = node.spawn(Counter { n: 0 });
    node.register("counter", &counter)
        .expect("the name is free");
    let beam = node.beam().expect("the node speaks to BEAM nodes");
    println!(
        "rust: {rust} is up (BEAM port {}), counter registered",
        beam.port()
    );

    let erl_name = "erl_demo@127.0.0.1";
    let mut erl = Command::new("erl")
        .args([
            "-noshell",
            "-start_epmd",
            "false",
            "-name",
            erl_name,
            "-setcookie",
            "demo-cookie",
        ])
        .arg("-pa")
        .arg(&dir)
        .args(["-eval", "demo:start()."])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("erl starts");
    let mut lines = BufReader::new(erl.stdout.take().expect("piped")).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"));
    println!("erlang: {erl_name} is up");

    let greeter = BeamDest::name("greeter", erl_name);

    // Erlang calls the Rust actor (the greeter makes the gen_server:call on our behalf).
    let five: u64 = beam
        .call(greeter.clone(), &Greeter::AddOn(Atom::from(rust), 5))
        .await
        .expect("the greeter answers");
    println!("erlang -> rust: gen_server:call({{counter, '{rust}'}}, {{add, 5}}) -> {five}");

    // Rust calls the Erlang gen_server.
    let hello: String = beam
        .call(greeter.clone(), &Greeter::Hello("rust".into()))
        .await
        .expect("the greeter answers");
    println!("rust -> erlang: gen_server:call(greeter, {{hello, <<\"rust\">>}}) -> {hello:?}");

    // Rust monitors an Erlang process, which ends with {shutdown, done}.
    let worker: actors::etf::ErlPid = beam
        .call(greeter.clone(), &Greeter::SpawnWorker)
        .await
        .expect("a worker");
    let down = node.monitor(beam.pid(&worker).expect("a pid"));
    let stop = Term::tuple([
        Term::atom("stop"),
        Term::tuple([Term::atom("shutdown"), Term::atom("done")]),
    ]);
    beam.send(&worker, &stop).await.expect("sent");
    let down = actors::rt::timeout(Duration::from_secs(5), down)
        .await
        .expect("a Down");
    println!("rust saw the Erlang worker {worker:?} end: {}", down.reason);

    // A Rust process joins a pg group; Erlang lists it.
    let group = Atom::from("rust_workers");
    beam.groups()
        .expect("groups")
        .join(&group, &counter)
        .await
        .expect("joined");
    let mine = beam.erl_pid(&counter.any()).expect("an Erlang pid");
    for _ in 0..500 {
        let members: Vec<actors::etf::ErlPid> = beam
            .call(greeter.clone(), &Greeter::Members(group.clone()))
            .await
            .expect("the greeter answers");
        if members.contains(&mine) {
            println!("erlang: pg:get_members(rust_workers) -> {members:?}");
            break;
        }
        actors::rt::sleep(Duration::from_millis(10)).await;
    }

    let _ = erl.kill();
    let _ = erl.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!("done");
}
