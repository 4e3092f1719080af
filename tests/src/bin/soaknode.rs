//! A node of the soak test, in its own OS process.
//!
//! `soaknode --name s0@127.0.0.1:PORT --cookie c [--connect other]... --peer name...` starts
//! the node and keeps it busy: numbered casts to every peer's sink, calls with timeouts,
//! global names and group members coming and going. It reads commands on stdin, one a line,
//! each after a number, and answers each with one line on stdout, after the same number:
//!
//! - `block NAME`, `unblock NAME`, `disconnect NAME`: as `DistNode` does; answers `OK`.
//! - `quiet`: stops the churn (the streams and calls go on); answers `OK`.
//! - `state`: answers `STATE` and `key=value` fields separated by tabs (see `state`).

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actors::dist::Origin;
use actors_integration::Counter;
use actors_net::prelude::*;

/// Receives the numbered streams, and checks that each stays in order, with nothing missing,
/// on a connection that stayed up.
#[actor]
#[derive(Default)]
struct Sink {
    /// Sender run -> (the connection its last message came on, the next number expected).
    next: HashMap<(String, u32), (u64, u64)>,
    received: u64,
    /// Lost or out of order on one connection: what is promised never to happen.
    violations: u64,
    /// A new connection that went on from another number than expected: allowed.
    restarts: u64,
}

#[actor]
impl Sink {
    #[handle(cast)]
    fn push(&mut self, origin: Origin, seq: u64) {
        let (Some(from), Some(link)) = (origin.node(), origin.link()) else {
            return;
        };
        self.received += 1;
        let key = (from.name().to_string(), from.creation());
        match self.next.get(&key) {
            Some((same, next)) if *same == link && seq != *next => {
                self.violations += 1;
                eprintln!("VIOLATION from {key:?} on link {link}: got {seq}, expected {next}");
            }
            Some((same, _)) if *same != link => self.restarts += 1,
            _ => {}
        }
        self.next.insert(key, (link, seq + 1));
    }

    #[handle]
    fn ping(&self) -> u64 {
        self.received
    }

    #[handle]
    fn stats(&self) -> (u64, u64, u64) {
        (self.received, self.violations, self.restarts)
    }
}

#[derive(Default)]
struct Calls {
    ok: AtomicU64,
    timeout: AtomicU64,
    no_connection: AtomicU64,
    /// The sink of a run of the peer that has ended (it was killed and restarted).
    no_proc: AtomicU64,
    other: AtomicU64,
    /// Calls that returned later than their timeout, with some slack for a busy machine.
    late: AtomicU64,
    /// Times this process stood still (frozen by `SIGSTOP`): a call it made meanwhile is not
    /// judged by the clock.
    stalls: AtomicU64,
}

const CALL_TIMEOUT: Duration = Duration::from_secs(1);
const LATE: Duration = Duration::from_millis(1500);

fn pid_text(p: &AnyPid) -> String {
    format!("{}#{}.{}", p.node(), p.creation(), p.id())
}

fn main() {
    let mut name = String::from("s@127.0.0.1:0");
    let mut cookie = String::from(actors_integration::COOKIE);
    let mut connect = Vec::new();
    let mut peers = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match arg.as_str() {
            "--name" => name = value(),
            "--cookie" => cookie = value(),
            "--connect" => connect.push(value()),
            "--peer" => peers.push(value()),
            other => panic!("unknown argument {other}"),
        }
    }
    let node = actors::rt::block_on(async {
        let node = Node::builder(&name)
            .cookie(&cookie)
            .heartbeat(Duration::from_millis(200), 5)
            .start()
            .await
            .expect("node starts");
        node.register("sink", node.spawn(Sink::default()))
            .expect("free name");
        for peer in &connect {
            let _ = node.connect(peer).await;
        }
        node
    });
    let peers: Vec<String> = peers.into_iter().filter(|p| p != node.name()).collect();
    let calls = Arc::new(Calls::default());
    let churn = Arc::new(AtomicBool::new(true));
    for peer in &peers {
        actors::rt::spawn(stream(node.clone(), peer.clone()));
    }
    actors::rt::spawn(stall_watch(calls.clone()));
    actors::rt::spawn(call_loop(node.clone(), peers.clone(), calls.clone()));
    actors::rt::spawn(names_loop(node.clone(), churn.clone()));
    actors::rt::spawn(groups_loop(node.clone(), churn.clone()));
    println!("READY {}", node.name());
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        let (n, line) = line.split_once(' ').unwrap_or(("0", line.as_str()));
        let (command, arg) = line.split_once(' ').unwrap_or((line, ""));
        let answer = match command {
            "block" => {
                node.block(arg);
                "OK".to_string()
            }
            "unblock" => {
                node.unblock(arg);
                "OK".to_string()
            }
            "disconnect" => {
                node.disconnect(arg);
                "OK".to_string()
            }
            "quiet" => {
                churn.store(false, Ordering::SeqCst);
                "OK".to_string()
            }
            "state" => actors::rt::block_on(state(&node, &calls)),
            other => format!("ERR unknown command {other}"),
        };
        println!("{n} {answer}");
    }
}

/// `peer`'s sink, looked up within a call's timeout.
async fn find_sink(node: &Node, peer: &str) -> Option<Pid<Sink>> {
    actors::rt::timeout(CALL_TIMEOUT, node.whereis_on::<Sink>("sink", peer))
        .await
        .ok()?
        .ok()
}

/// Numbered casts to `peer`'s sink, forever; the sink is looked up again now and then, so a
/// restarted peer is found.
async fn stream(node: Node, peer: String) {
    let mut seq = 0u64;
    let mut sink: Option<Pid<Sink>> = None;
    let mut sent_since_lookup = 0;
    loop {
        if sink.is_none() || sent_since_lookup > 500 {
            sent_since_lookup = 0;
            sink = find_sink(&node, &peer).await.or(sink);
        }
        if let Some(s) = &sink {
            if s.push(Origin::local(), seq).is_ok() {
                seq += 1;
            }
            sent_since_lookup += 1;
        }
        actors::rt::sleep(Duration::from_millis(5)).await;
    }
}

/// Counts the times this process stood still for longer than a call's slack.
async fn stall_watch(calls: Arc<Calls>) {
    let mut last = Instant::now();
    loop {
        actors::rt::sleep(Duration::from_millis(20)).await;
        if last.elapsed() > LATE - CALL_TIMEOUT {
            calls.stalls.fetch_add(1, Ordering::SeqCst);
        }
        last = Instant::now();
    }
}

/// Calls to the peers' sinks with a timeout, recording how each ended and whether any
/// outlived its timeout.
async fn call_loop(node: Node, peers: Vec<String>, calls: Arc<Calls>) {
    let mut sinks: HashMap<String, Pid<Sink>> = HashMap::new();
    let mut i = 0usize;
    loop {
        actors::rt::sleep(Duration::from_millis(50)).await;
        i += 1;
        let peer = &peers[i % peers.len()];
        if (i.is_multiple_of(20) || !sinks.contains_key(peer))
            && let Some(s) = find_sink(&node, peer).await
        {
            sinks.insert(peer.clone(), s);
        }
        let Some(sink) = sinks.get(peer) else {
            continue;
        };
        let started = Instant::now();
        let stalls = calls.stalls.load(Ordering::SeqCst);
        let result = sink.ping().timeout(CALL_TIMEOUT).await;
        let stood_still = calls.stalls.load(Ordering::SeqCst) != stalls
            || started.elapsed() > LATE && {
                // A freeze may end after the call: wait for the watch to see it.
                actors::rt::sleep(Duration::from_millis(100)).await;
                calls.stalls.load(Ordering::SeqCst) != stalls
            };
        if started.elapsed() > LATE && !stood_still {
            calls.late.fetch_add(1, Ordering::Relaxed);
            eprintln!("LATE call to {peer}: {:?}", started.elapsed());
        }
        let counter = match result {
            Ok(_) => &calls.ok,
            Err(CallError::Timeout) => &calls.timeout,
            Err(CallError::NoConnection) => &calls.no_connection,
            Err(CallError::NoProc) => &calls.no_proc,
            Err(e) => {
                eprintln!("call to {peer} failed: {e}");
                &calls.other
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Global names coming and going: up to three names of this node's own, each moved to a
/// fresh process now and then, and one name every node contends for.
async fn names_loop(node: Node, churn: Arc<AtomicBool>) {
    let me = node.name().to_string();
    let mut held: HashMap<String, Pid<Counter>> = HashMap::new();
    let mut k = 0u64;
    loop {
        actors::rt::sleep(Duration::from_millis(100)).await;
        if !churn.load(Ordering::SeqCst) {
            continue;
        }
        k += 1;
        let name = if k.is_multiple_of(5) {
            "soak:leader".to_string()
        } else {
            format!("soak:{me}:{}", k % 3)
        };
        if let Some(old) = held.remove(&name) {
            node.stop(&old, ExitReason::Normal);
        }
        let pid = node.spawn(Counter { n: k });
        let registered =
            actors::rt::timeout(Duration::from_secs(3), node.global().register(&name, &pid)).await;
        match registered {
            Ok(Ok(())) => {
                held.insert(name, pid);
            }
            _ => node.stop(&pid, ExitReason::Normal),
        }
    }
}

/// Group members coming and going: up to three processes of this node in the group `soak`.
async fn groups_loop(node: Node, churn: Arc<AtomicBool>) {
    let mut mine: Vec<Pid<Counter>> = Vec::new();
    let mut k = 0u64;
    loop {
        actors::rt::sleep(Duration::from_millis(100)).await;
        if !churn.load(Ordering::SeqCst) {
            continue;
        }
        k += 1;
        if mine.len() >= 3 || k.is_multiple_of(4) {
            if !mine.is_empty() {
                let gone = mine.remove(0);
                node.stop(&gone, ExitReason::Normal);
            }
        } else {
            let pid = node.spawn(Counter { n: k });
            match node.groups().join("soak", &pid).await {
                Ok(()) => mine.push(pid),
                Err(_) => node.stop(&pid, ExitReason::Normal),
            }
        }
    }
}

/// One line: the node's view of the cluster and its counters.
async fn state(node: &Node, calls: &Calls) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut dead: Vec<String> = Vec::new();
    for name in node.global().registered_names() {
        if let Some(pid) = node.global().whereis_any(&name) {
            names.push(format!("{name}={}", pid_text(&pid)));
            if pid.node() == node.name() && !node.is_alive(pid.clone()) {
                dead.push(name);
            }
        }
    }
    let sort = |pids: &[AnyPid]| {
        let mut v: Vec<String> = pids.iter().map(pid_text).collect();
        v.sort();
        v.join(",")
    };
    let members = sort(&node.groups().members("soak"));
    let local = sort(&node.groups().local_members("soak"));
    let (received, violations, restarts) = match node.whereis::<Sink>("sink") {
        Some(s) => s.stats().await.unwrap_or_default(),
        None => (0, 0, 0),
    };
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_default();
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    [
        format!("STATE\tcreation={}", node.id().creation()),
        format!("nodes={}", node.nodes().join(",")),
        format!("names={}", names.join(",")),
        format!("dead={}", dead.join(",")),
        format!("members={members}"),
        format!("local={local}"),
        format!("rss_kb={rss}"),
        format!("received={received}"),
        format!("violations={violations}"),
        format!("restarts={restarts}"),
        format!(
            "calls={}/{}/{}/{}/{}",
            c(&calls.ok),
            c(&calls.timeout),
            c(&calls.no_connection),
            c(&calls.no_proc),
            c(&calls.other)
        ),
        format!("late={}", c(&calls.late)),
    ]
    .join("\t")
}
