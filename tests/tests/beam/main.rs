//! A Rust node in a real Erlang cluster: `erl` nodes call Rust actors with `gen_server:call`,
//! Rust calls Erlang `gen_server`s, monitors cross the border, and a wrong cookie is refused
//! on both sides. Needs Erlang/OTP (`apt-get install erlang-base`).

use std::time::Duration;

use actors::etf::Term;
use actors::{Exit, ExitReason};
use actors_integration::erlang::ErlNode;
use actors_net::beam::{BeamDest, BeamError};
use actors_net::prelude::*;
use serde::{Deserialize, Serialize};

mod calls;
mod groups;
mod hostile;
mod peer;
mod signals;

const COOKIE: &str = "beam-test-cookie";
const RUST: &str = "rust@127.0.0.1";

#[actor]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }
    #[handle]
    fn get(&self) -> u64 {
        self.n
    }
    #[handle(cast)]
    fn bump(&mut self) {
        self.n += 1;
    }
    #[handle]
    fn describe(&self, label: String) -> (String, u64, bool) {
        (label, self.n, self.n > 0)
    }
}

/// A Rust node that speaks to BEAM nodes, registered with the EPMD on `epmd` (0: an EPMD of
/// its own on a free port, which `Beam::epmd_port` tells).
async fn rust_node(name: &str, epmd: u16, cookie: &str) -> Node {
    Node::builder(&format!("{name}:0"))
        .cookie(cookie)
        .beam(name)
        .epmd_port(epmd)
        .start()
        .await
        .expect("the node starts")
}

/// What the Erlang driver does on request: `{Command, ..}` to `{driver, Node}`.
async fn drive(node: &Node, erl: &ErlNode, command: Term) -> Term {
    node.beam()
        .unwrap()
        .call_timeout(
            BeamDest::name("driver", &erl.name),
            &command,
            Duration::from_secs(10),
        )
        .await
        .expect("the driver answers")
}

/// Evaluates `source` on the Erlang node, as typed in its shell; the value as the shell
/// prints it, on one line (`{caught, Class, Reason}` for an exception).
async fn eval(node: &Node, erl: &ErlNode, source: &str) -> String {
    let printed = drive(node, erl, Term::tuple([a("eval"), Term::binary(source)])).await;
    match printed {
        Term::Binary(b) => String::from_utf8(b).expect("printed as text"),
        other => panic!("the driver printed {other}"),
    }
}

/// A Rust node that joins BEAM nodes as a visible node, on ports of its own.
async fn visible_node() -> Node {
    Node::builder(&format!("{RUST}:0"))
        .cookie(COOKIE)
        .beam(RUST)
        .epmd_port(0)
        .beam_visible()
        .start()
        .await
        .expect("the node starts")
}

fn a(name: &str) -> Term {
    Term::atom(name)
}

fn rust_name(name: &str) -> Term {
    Term::tuple([a(name), a(RUST)])
}

#[derive(Serialize, Deserialize)]
enum Kv {
    Put(String, i64),
    Get(String),
    Stop,
    Slow,
}

/// Records the exit signals it traps.
#[actor]
struct Linker {
    exits: Vec<ExitReason>,
}

#[actor]
impl Linker {
    #[handle]
    fn link_to(&mut self, pid: actors::etf::ErlPid, ctx: &mut Ctx<Self>) -> bool {
        let Ok(beam) = ctx.node().beam() else {
            return false;
        };
        let Some(pid) = beam.pid(&pid) else {
            return false;
        };
        ctx.trap_exit(true);
        ctx.link(pid);
        true
    }
    #[handle]
    fn unlink_from(&mut self, pid: actors::etf::ErlPid, ctx: &mut Ctx<Self>) {
        if let Some(pid) = ctx.node().beam().ok().and_then(|b| b.pid(&pid)) {
            ctx.unlink(pid);
        }
    }
    #[handle]
    fn exits(&self) -> Vec<ExitReason> {
        self.exits.clone()
    }
    fn on_exit(&mut self, exit: Exit) {
        self.exits.push(exit.reason);
    }
}

async fn waiter(node: &Node, erl: &ErlNode) -> actors::etf::ErlPid {
    match drive(node, erl, a("spawn_waiter")).await {
        Term::Pid(p) => p,
        other => panic!("expected a pid, got {other}"),
    }
}

mod fake;

fn rust_linker_creation(beam: &actors_net::beam::Beam, pid: &Pid<Linker>) -> u32 {
    beam.erl_pid(&pid.any()).unwrap().creation
}
