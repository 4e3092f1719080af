//! Every example runs to the end by itself and tells its story: the README's `cargo run` and
//! the programs it points to stay true.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Where cargo put example `name`: `cargo test` builds every example before the tests run,
/// into `examples/` beside the `deps/` folder that holds this test.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from cargo's target directory")
        .join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "no example {name} at {}: build them first (`cargo build --examples`), as `cargo test` does",
        path.display()
    );
    path
}

/// Runs an example to completion (within a minute) and returns its standard output.
fn run(name: &str) -> String {
    run_with(name, &[])
}

/// As [`run`], with arguments.
fn run_with(name: &str, args: &[&str]) -> String {
    let path = example(name);
    let child = Command::new(&path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the example starts");
    let (status, out) = finish(child, &path.display().to_string());
    assert!(status.success(), "{} failed: {out}", path.display());
    out
}

/// Waits for `child` (its standard output piped) within a minute and returns how it ended
/// and what it wrote; one that hangs is killed and fails the test rather than the whole run.
fn finish(mut child: Child, what: &str) -> (ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("waits") {
            let out = child.wait_with_output().expect("output");
            return (status, String::from_utf8_lossy(&out.stdout).into_owned());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what} did not finish within a minute; it wrote: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tour() {
    let out = run("tour");
    assert!(out.contains("remote.add(5) from a -> 5"), "{out}");
    assert!(
        out.contains("b called back across the network -> Ok(42)"),
        "{out}"
    );
    assert!(out.contains("a saw NodeDown(c@"), "{out}");
    assert!(out.contains("a finds it by name -> add(1) = 101"), "{out}");
    assert!(out.contains("a lists 3 members"), "{out}");
    assert!(
        out.contains("started \"worker\" on c -> add(7) = 7"),
        "{out}"
    );
    assert!(out.contains("\"worker\" restarted on b after"), "{out}");
    assert!(out.contains("\"counters\" now lists 2 members"), "{out}");
    assert!(out.contains("ended: noconnection"), "{out}");
    assert!(out.contains("Err(NoConnection)"), "{out}");
}

#[test]
fn counter() {
    let out = run("counter");
    assert!(out.contains("call add(10)       -> 15"), "{out}");
    assert!(out.contains("-> Err(Timeout)"), "{out}");
    assert!(out.contains("Down reason: error: done"), "{out}");
}

#[test]
fn supervision() {
    let out = run("supervision");
    assert!(out.contains("retrying by name"), "{out}");
    assert!(out.contains("lookup(k7) -> value of k7"), "{out}");
    assert!(out.contains("restart intensity exceeded"), "{out}");
    assert!(out.contains("0 processes left"), "{out}");
}

#[test]
fn registry() {
    let out = run("registry");
    assert!(out.contains("after the service stopped: []"), "{out}");
    assert!(out.contains("b calls it: hello from a's service"), "{out}");
    assert!(out.contains("decisions made in the cluster: 1"), "{out}");
}

#[test]
fn ping_pong() {
    let out = run("ping_pong");
    assert!(out.contains("pong served 10000"), "{out}");
}

#[test]
fn chat() {
    let out = run("chat");
    assert!(
        out.contains(
            "as a lists it: lobby [\"alice\", \"bob\", \"carol\"], games [\"bob\", \"dan\"]"
        ),
        "{out}"
    );
    assert!(out.contains("bob heard [\"alice: hello, lobby\"]"), "{out}");
    assert!(out.contains("carol heard \"alice: hello, lobby\""), "{out}");
    assert!(out.contains("Leave: bob from games"), "{out}");
    assert!(out.contains("carol left (node c lost)"), "{out}");
    assert!(
        out.contains("as b lists it: lobby [\"alice\", \"bob\"], games []"),
        "{out}"
    );
}

#[test]
fn failover() {
    let out = run("failover");
    // Where the worker runs first depends on the ports the nodes got; that it answers again
    // from a survivor after each kill does not.
    assert!(out.contains("request #3 there"), "{out}");
    assert!(out.contains("the stop came first: true"), "{out}");
    assert!(out.contains("the most that ever ran at once: 1"), "{out}");
    let after_c = out
        .split("2. c, the node that added the worker, is killed")
        .nth(1)
        .expect("c was killed");
    assert!(
        after_c.contains("served by a ") || after_c.contains("served by b "),
        "{out}"
    );
    assert!(out.contains("members now: [\"a\", \"b\"]"), "{out}");
    assert!(out.contains("5. shutting down"), "{out}");
}

#[test]
fn quorum() {
    let out = run("quorum");
    assert!(out.contains("the stop came first: true"), "{out}");
    assert!(
        out.contains("the ledger refuses the old copy's late write: true"),
        "{out}"
    );
    assert!(
        out.contains("the minority asks for the name: no majority"),
        "{out}"
    );
    assert!(out.contains("the most that ever ran at once: 1"), "{out}");
}

#[test]
fn tls() {
    let out = run("tls");
    assert!(out.contains("b calls add(5) on a's counter -> 5"), "{out}");
    assert!(out.contains("stranger -> cannot connect to a@"), "{out}");
    assert!(out.contains("invalid peer certificate"), "{out}");
}

#[test]
fn simulate() {
    let out = run("simulate");
    assert!(out.contains("race found: seed"), "{out}");
    assert!(
        out.contains("the same run fails the same way: true"),
        "{out}"
    );
    assert!(
        out.contains("logs out\n") && out.contains("no race in"),
        "{out}"
    );
}

#[test]
fn router() {
    let out = run("router");
    assert!(out.contains("follows the group: 2 shards"), "{out}");
    assert!(
        out.contains("with 8 gets routed and waiting on 2 shards"),
        "{out}"
    );
    assert!(out.contains("value 3 from c"), "{out}");
    assert!(
        out.contains("shards now: 1") && out.contains("value 9 from b"),
        "{out}"
    );
}

#[test]
fn overlay() {
    let out = run("overlay");
    assert!(out.contains("24 nodes, each reaching every other"), "{out}");
    assert!(out.contains("(a full mesh would need 23)"), "{out}");
    assert!(out.contains("and again: 42"), "{out}");
    assert!(out.contains("those it has spoken to"), "{out}");
    assert!(
        out.contains("the 23 others see it gone, and its name freed"),
        "{out}"
    );
}

#[test]
fn beam() {
    if !actors_integration::erlang::present("the beam example") {
        return;
    }
    let out = run("beam");
    assert!(
        out.contains(
            "erlang -> rust: gen_server:call({counter, 'rust_demo@127.0.0.1'}, {add, 5}) -> 5"
        ),
        "{out}"
    );
    assert!(out.contains("-> \"hello, rust\""), "{out}");
    assert!(out.contains("end: shutdown"), "{out}");
    assert!(
        out.contains("erlang: pg:get_members(rust_workers) -> [<'rust_demo@127.0.0.1'."),
        "{out}"
    );
    assert!(out.contains("done"), "{out}");
}

/// The `beam` example's `--serve` mode, asked by a real `erl` and a real `elixir` what an
/// Erlang or Elixir user asks of a node: ping, rpc, global names, sys, a plain message, pg.
#[test]
fn beam_serve_answers_erlang_and_elixir() {
    if !actors_integration::erlang::elixir_present("the beam example's --serve mode") {
        return;
    }
    // An EPMD of the example's own (it serves one on this port, as none answers there).
    let epmd = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
        .to_string();
    let mut serve = Command::new(example("beam"))
        .arg("--serve")
        .env("ERL_EPMD_PORT", &epmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the example starts");
    let stdout = serve.stdout.take().expect("piped");
    let serve = KillOnDrop(serve);
    let lines = actors_integration::child::lines(stdout);
    let first = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("the node says it is up");
    let node = first
        .split_whitespace()
        .next()
        .expect("its name")
        .to_string();
    assert!(node.starts_with("rust@"), "{first}");
    let erlang = format!(
        "R = '{node}', P = net_adm:ping(R), ok = global:sync(), \
         Add = rpc:call(R, rust, add, [1, 2]), G = global:whereis_name(rust_counter), \
         W = rpc:call(R, rust, global_whereis, [rust_counter]), \
         N = gen_server:call({{counter, R}}, {{add, 5}}), S = sys:get_state({{counter, R}}), \
         {{echo, R}} ! {{self(), hello}}, E = receive hello -> echoed after 5000 -> timeout end, \
         {{ok, _}} = pg:start(pg), {{ok, _}} = pg:start(rust_scope), \
         Wait = fun Wait(0) -> gone; Wait(K) -> case {{pg:get_members(rust_workers), pg:get_members(rust_scope, rust_workers)}} of {{[_], [_]}} = M -> M; _ -> timer:sleep(20), Wait(K - 1) end end, \
         {{M1, M2}} = Wait(250), \
         io:format(\"~p~n\", [{{P, Add, is_pid(G) andalso node(G) =:= R, W =:= G, N, S, E, M1 =:= [G], M2 =:= [G]}}]), \
         halt()."
    );
    let erl = Command::new("erl")
        .args([
            "-sname",
            "check",
            "-setcookie",
            "c",
            "-noshell",
            "-eval",
            &erlang,
        ])
        .env("ERL_EPMD_PORT", &epmd)
        .stdout(Stdio::piped())
        .spawn()
        .expect("erl runs");
    let (_, said) = finish(erl, "erl");
    assert_eq!(
        said.trim(),
        "{pong,3,true,true,5,#{n => 5},echoed,true,true}",
        "{said}"
    );
    let elixir = format!(
        "r = :\"{node}\"; p = Node.ping(r); :ok = :global.sync(); \
         add = :rpc.call(r, :rust, :add, [1, 2]); g = :global.whereis_name(:rust_counter); \
         n = GenServer.call({{:counter, r}}, {{:add, 1}}); s = :sys.get_state({{:counter, r}}); \
         IO.inspect({{p, add, node(g) == r, n, s}})"
    );
    let ex = Command::new("elixir")
        .args(["--sname", "excheck", "--cookie", "c", "-e", &elixir])
        .env("ERL_EPMD_PORT", &epmd)
        .stdout(Stdio::piped())
        .spawn()
        .expect("elixir runs");
    let (_, said) = finish(ex, "elixir");
    assert_eq!(said.trim(), "{:pong, 3, true, 6, %{n: 6}}", "{said}");
    drop(serve);
}

/// A child that is killed when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn observer() {
    let out = run_with("observer", &["--for", "2s"]);
    assert!(out.contains("observer at http://127.0.0.1:"), "{out}");
    assert!(out.contains("/?token="), "{out}");
    assert!(out.contains("/metrics"), "{out}");
    assert_eq!(out.matches(" processes, ").count(), 3, "{out}");
    assert!(
        out.contains("the global name billing is a sink on c@"),
        "{out}"
    );
}
