//! A Rust node beside real Erlang nodes, each measured against Erlang doing the same:
//!
//! - a `gen_server:call` round trip from an Erlang node to a Rust actor, against the same
//!   call to an Erlang `gen_server` on another Erlang node;
//! - `Beam::call` from Rust to that Erlang `gen_server`;
//! - one-way sends, Erlang to Rust and Rust to Erlang, against Erlang to Erlang (each
//!   timed until a call behind the last message returns, so all have arrived);
//! - an `rpc:call` round trip from an Erlang node to a Rust function (`rust:add/2`), against
//!   the same call to an Erlang function on another Erlang node.
//!
//! `cargo bench -p actors-integration --bench beam` (Erlang/OTP needed: `apt-get install
//! erlang-base`); `BEAM_CALLS` and `BEAM_SENDS` set the counts, the median of 5 runs is shown.

use std::time::{Duration, Instant};

use actors::etf::{Atom, Term};
use actors_integration::erlang::ErlNode;
use actors_net::beam::BeamDest;
use actors_net::prelude::*;

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
    fn record(&mut self, _i: u64) {
        self.n += 1;
    }
}

fn count(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let calls = count("BEAM_CALLS", 20_000);
    let sends = count("BEAM_SENDS", 200_000);
    let cookie = "bench-cookie";
    actors::rt::block_on(async {
        let rust = "rust@127.0.0.1";
        let node = Node::builder(&format!("{rust}:0"))
            .cookie(cookie)
            .beam(rust)
            .epmd_port(0)
            .start()
            .await
            .expect("the node starts");
        let epmd = node.beam().expect("beam").epmd_port();
        let counter = node.spawn(Counter { n: 0 });
        node.register("counter", &counter).expect("free name");
        node.beam()
            .expect("beam")
            .register_fn("rust", "add", |(a, b): (i64, i64)| async move {
                Ok::<_, actors_net::beam::RpcError>(a + b)
            });
        let client = ErlNode::start_module("beam_bench", "client", cookie, epmd, None);
        let server = ErlNode::start_module("beam_bench", "server", cookie, epmd, None);
        let beam = node.beam().expect("beam");
        let driver = BeamDest::name("driver", &client.name);
        let dest = |name: &str, node: &str| Term::tuple([Term::atom(name), Term::atom(node)]);
        let to_erlang = dest("counter", &server.name);
        let to_rust = dest("counter", rust);
        let timed = |what: &str, to: &Term, k: u64| {
            Term::tuple([Term::atom(what), to.clone(), Term::Int(k as i128)])
        };
        let run = |request: Term| {
            let beam = beam.clone();
            let driver = driver.clone();
            async move {
                let us: u64 = beam
                    .call_timeout(driver, &request, Duration::from_secs(300))
                    .await
                    .expect("the driver answers");
                us as f64
            }
        };
        // Warm up both paths (connections, code loading).
        run(timed("calls", &to_erlang, 1000)).await;
        run(timed("calls", &to_rust, 1000)).await;

        let mut rows = Vec::new();
        let (mut ee, mut er, mut re) = (vec![], vec![], vec![]);
        for _ in 0..5 {
            ee.push(run(timed("calls", &to_erlang, calls)).await / calls as f64);
            er.push(run(timed("calls", &to_rust, calls)).await / calls as f64);
            let server_counter = BeamDest::name("counter", &server.name);
            let start = Instant::now();
            for _ in 0..calls {
                let _: u64 = beam
                    .call(server_counter.clone(), &(Atom::from("add"), 1))
                    .await
                    .expect("reply");
            }
            re.push(start.elapsed().as_secs_f64() * 1e6 / calls as f64);
        }
        rows.push((
            "gen_server:call, Erlang -> Erlang",
            format!("{:.1} us", median(ee)),
        ));
        rows.push((
            "gen_server:call, Erlang -> Rust actor",
            format!("{:.1} us", median(er)),
        ));
        rows.push((
            "Beam::call, Rust -> Erlang gen_server",
            format!("{:.1} us", median(re)),
        ));

        let rpcs = |node: &str, module: &str| {
            Term::tuple([
                Term::atom("rpcs"),
                Term::atom(node),
                Term::atom(module),
                Term::Int(calls as i128),
            ])
        };
        run(rpcs(&server.name, "beam_bench")).await;
        run(rpcs(rust, "rust")).await;
        let (mut pe, mut pr) = (vec![], vec![]);
        for _ in 0..5 {
            pe.push(run(rpcs(&server.name, "beam_bench")).await / calls as f64);
            pr.push(run(rpcs(rust, "rust")).await / calls as f64);
        }
        rows.push((
            "rpc:call, Erlang -> Erlang function",
            format!("{:.1} us", median(pe)),
        ));
        rows.push((
            "rpc:call, Erlang -> Rust function",
            format!("{:.1} us", median(pr)),
        ));

        let (mut see, mut ser, mut sre) = (vec![], vec![], vec![]);
        for _ in 0..5 {
            see.push(sends as f64 / (run(timed("sends", &to_erlang, sends)).await / 1e6));
            ser.push(sends as f64 / (run(timed("sends", &to_rust, sends)).await / 1e6));
            let server_counter = BeamDest::name("counter", &server.name);
            let record = Atom::from("record");
            let start = Instant::now();
            for i in 0..sends {
                beam.send(server_counter.clone(), &(record.clone(), i))
                    .await
                    .expect("sent");
            }
            let _: u64 = beam
                .call_timeout(server_counter, &Atom::from("get"), Duration::from_secs(300))
                .await
                .expect("reply");
            sre.push(sends as f64 / start.elapsed().as_secs_f64());
        }
        rows.push((
            "one-way sends, Erlang -> Erlang",
            format!("{:.2} M msgs/s", median(see) / 1e6),
        ));
        rows.push((
            "one-way sends, Erlang -> Rust actor",
            format!("{:.2} M msgs/s", median(ser) / 1e6),
        ));
        rows.push((
            "one-way sends, Rust -> Erlang",
            format!("{:.2} M msgs/s", median(sre) / 1e6),
        ));

        println!("BEAM interop, median of 5 ({calls} calls, {sends} sends per run):");
        for (what, figure) in rows {
            println!("  {what:<40} {figure}");
        }
        drop((client, server));
    });
}
