//! Test helpers shared by the integration suites and the `testnode` binary: actors known to
//! every node, clusters over loopback, and bounded waiting.

#![forbid(unsafe_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use actors_net::prelude::*;

pub mod browser;
pub mod child;
pub mod erlang;
pub mod http;
pub mod linearizable;
pub mod shop;

/// The cookie test clusters share.
pub const COOKIE: &str = "test-cookie";

/// Monitors every connection carries for the system itself, each way: the servers of each
/// process-group scope a node runs from its start monitor each other, as `pg`'s do (the
/// default scope, and the scope of the distributed supervisors' members).
pub const SYSTEM_MONITORS: usize = 2;

/// What a node sees of the cluster, asked from another OS process: how a bench that runs
/// nodes in child processes watches them settle.
#[actor]
pub struct Status;

#[actor]
impl Status {
    /// The nodes this node is connected to.
    #[handle]
    fn nodes(&self, ctx: &mut Ctx<Self>) -> usize {
        ctx.node().nodes().len()
    }

    /// Whether this node knows the global name.
    #[handle]
    fn has_global(&self, name: String, ctx: &mut Ctx<Self>) -> bool {
        ctx.node().global().whereis_any(&name).is_some()
    }

    /// The members of a group of the default scope, as this node lists them.
    #[handle]
    fn members(&self, group: String, ctx: &mut Ctx<Self>) -> usize {
        ctx.node().groups().members(&group).len()
    }
}

/// A counter every test node knows; its state crosses the wire for remote spawns.
#[actor]
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Counter {
    /// The total.
    pub n: u64,
}

#[actor]
impl Counter {
    /// Adds `by`, returns the total.
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    /// The total.
    #[handle]
    fn get(&self) -> u64 {
        self.n
    }

    /// Adds one; no reply.
    #[handle(cast)]
    fn incr(&mut self) {
        self.n += 1
    }

    /// Replies after `ms` milliseconds.
    #[handle]
    async fn slow(&self, ms: u64) -> u64 {
        actors::rt::sleep(Duration::from_millis(ms)).await;
        self.n
    }

    /// Ends with `reason`.
    #[handle]
    fn quit(&mut self, reason: ExitReason, ctx: &mut Ctx<Self>) {
        ctx.stop(reason)
    }

    /// Panics.
    #[handle]
    fn crash(&mut self) -> u64 {
        panic!("counter crashed on request")
    }

    /// Returns its own pid: a pid that crosses the wire.
    #[handle]
    fn me(&self, ctx: &mut Ctx<Self>) -> Pid<Counter> {
        ctx.pid()
    }

    /// Calls `other` and returns what it answered: a pid received in a message, used there.
    #[handle]
    async fn ask(&self, other: Pid<Counter>, by: u64) -> Result<u64, CallError> {
        other.add(by).await
    }

    /// Takes a payload and keeps only its size; no reply.
    #[handle(cast)]
    fn absorb(&mut self, bytes: serde_bytes::ByteBuf) {
        self.n += bytes.len() as u64;
    }

    /// `len` bytes: a reply larger than its request.
    #[handle]
    fn make_bytes(&self, len: u64) -> serde_bytes::ByteBuf {
        serde_bytes::ByteBuf::from(vec![7u8; len as usize])
    }

    /// A byte payload, sized by the caller, back.
    #[handle]
    fn echo_bytes(&self, bytes: serde_bytes::ByteBuf) -> serde_bytes::ByteBuf {
        bytes
    }
}

/// Records (sender, sequence) pairs and counts order violations per sender.
#[actor]
#[derive(Default)]
pub struct Collector {
    next: std::collections::HashMap<u32, u64>,
    violations: u64,
    total: u64,
}

#[actor]
impl Collector {
    /// One message of `sender`'s sequence.
    #[handle(cast)]
    fn push(&mut self, sender: u32, seq: u64) {
        let next = self.next.entry(sender).or_insert(0);
        if *next != seq {
            self.violations += 1;
        }
        *next = seq + 1;
        self.total += 1;
    }

    /// (violations, total received).
    #[handle]
    fn report(&self) -> (u64, u64) {
        (self.violations, self.total)
    }
}

/// Forwards each payload it gets to a counter, counting what could not be sent.
#[actor]
#[derive(Default)]
pub struct Relay {
    to: Option<Pid<Counter>>,
    relayed: u64,
    failed: u64,
}

#[actor]
impl Relay {
    /// Where to forward.
    #[handle]
    fn forward_to(&mut self, to: Pid<Counter>) {
        self.to = Some(to);
    }

    /// Forwards one payload.
    #[handle(cast)]
    fn relay(&mut self, bytes: serde_bytes::ByteBuf) {
        if let Some(to) = &self.to {
            match to.absorb(bytes) {
                Ok(()) => self.relayed += 1,
                Err(_) => self.failed += 1,
            }
        }
    }

    /// (relayed, failed).
    #[handle]
    fn counts(&self) -> (u64, u64) {
        (self.relayed, self.failed)
    }
}

/// An actor of another type, for identity checks.
#[actor]
pub struct Other;

#[actor]
impl Other {
    /// Adds, like Counter::add, but is not a Counter.
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        by
    }
}

/// A signal a [`Probe`] saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A monitored process ended.
    Down(Down),
    /// An exit signal, while trapping exits.
    Exit(Exit),
}

/// Shared view of what a probe saw.
pub type Log = std::sync::Arc<std::sync::Mutex<Vec<Event>>>;

/// A process that monitors, links and traps as the test asks, and records what it sees.
#[actor]
pub struct Probe {
    /// What it saw.
    pub log: Log,
}

#[actor]
impl Probe {
    fn on_down(&mut self, down: Down) {
        self.log.lock().unwrap().push(Event::Down(down));
    }

    fn on_exit(&mut self, exit: Exit) {
        self.log.lock().unwrap().push(Event::Exit(exit));
    }

    /// Monitors `pid`.
    #[handle]
    fn watch(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) -> MonitorRef {
        ctx.monitor(pid)
    }

    /// Cancels a monitor.
    #[handle]
    fn unwatch(&mut self, monitor: MonitorRef, ctx: &mut Ctx<Self>) -> bool {
        ctx.demonitor(monitor)
    }

    /// Links to `pid`.
    #[handle]
    fn link_to(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) {
        ctx.link(pid)
    }

    /// Unlinks from `pid`.
    #[handle]
    fn unlink_from(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) {
        ctx.unlink(pid)
    }

    /// Traps exits, or stops.
    #[handle]
    fn trap(&mut self, on: bool, ctx: &mut Ctx<Self>) {
        ctx.trap_exit(on)
    }

    /// Ends with `reason`.
    #[handle]
    fn stop_with(&mut self, reason: ExitReason, ctx: &mut Ctx<Self>) {
        ctx.stop(reason)
    }

    /// Starts a counter on `node`, linked to this process.
    #[handle]
    async fn spawn_linked_counter(
        &mut self,
        node: String,
        n: u64,
        ctx: &mut Ctx<Self>,
    ) -> Result<Pid<Counter>, String> {
        ctx.spawn_link_on(&node, Counter { n })
            .await
            .map_err(|e| e.to_string())
    }

    /// Starts a counter on `node` and monitors it.
    #[handle]
    async fn spawn_monitored_counter(
        &mut self,
        node: String,
        n: u64,
        ctx: &mut Ctx<Self>,
    ) -> Result<(Pid<Counter>, MonitorRef), String> {
        ctx.spawn_monitor_on(&node, Counter { n })
            .await
            .map_err(|e| e.to_string())
    }

    /// Answers, once everything before it was handled.
    #[handle]
    fn ping(&self) -> u32 {
        1
    }

    /// Stays busy for `ms` milliseconds.
    #[handle]
    async fn nap(&self, ms: u64) {
        actors::rt::sleep(Duration::from_millis(ms)).await
    }
}

/// A probe on `node`, and its log.
pub fn probe(node: &Node) -> (Pid<Probe>, Log) {
    let log = Log::default();
    (node.spawn(Probe { log: log.clone() }), log)
}

/// Waits, within `limit`, until the log holds `n` events, and returns them.
pub async fn events(log: &Log, n: usize, limit: Duration) -> Vec<Event> {
    let deadline = Instant::now() + limit;
    loop {
        let seen = log.lock().unwrap().clone();
        if seen.len() >= n {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "waited {limit:?} for {n} events, saw {seen:?}"
        );
        actors::rt::sleep(Duration::from_millis(2)).await;
    }
}

/// Starts a node on loopback with a free port.
pub async fn start(name: &str) -> Node {
    Node::builder(&format!("{name}@127.0.0.1:0"))
        .cookie(COOKIE)
        .start()
        .await
        .expect("node starts")
}

/// Starts a node on loopback whose heartbeats find a frozen peer within a second (every
/// 200 ms, five missed): for tests that SIGSTOP a child node.
pub async fn start_watchful(name: &str) -> Node {
    Node::builder(&format!("{name}@127.0.0.1:0"))
        .cookie(COOKIE)
        .heartbeat(Duration::from_millis(200), 5)
        .start()
        .await
        .expect("node starts")
}

/// `n` ports free on loopback now, all different (held together while they are picked), for
/// nodes whose names must be known before they start.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("bound").port())
        .collect()
}

/// Starts `n` nodes named `n0, n1, ...` on loopback, connects each to the first, and waits
/// until they form a full mesh.
pub async fn cluster(n: usize) -> Vec<Node> {
    let mut nodes = Vec::new();
    for i in 0..n {
        nodes.push(start(&format!("n{i}")).await);
    }
    for node in &nodes[1..] {
        node.connect(nodes[0].name()).await.expect("connects");
    }
    settle(&[nodes.clone()]).await;
    nodes
}

/// Polls `check` until it holds, for at most `limit`; panics saying `what` otherwise.
pub async fn until<F: Future<Output = bool>>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        actors::rt::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits for the next node event, for at most `limit`.
pub async fn next_event(events: &mut NodeEvents, limit: Duration) -> NodeEvent {
    actors::rt::timeout(limit, events.next())
        .await
        .expect("a node event in time")
        .expect("the node is alive")
}

pub use actors_net::{DistNode, NodeEvents};

/// Cuts the cluster into `sides`: every pair of nodes on different sides is blocked (both
/// ways), and each side ends fully connected.
pub async fn partition(sides: &[Vec<Node>]) {
    for (i, side) in sides.iter().enumerate() {
        for other in sides.iter().skip(i + 1) {
            for a in side {
                for b in other {
                    a.block(b.name());
                    b.block(a.name());
                }
            }
        }
    }
    settle(sides).await;
}

/// Lifts the blocks between `sides` and reconnects everything: one fully connected cluster.
pub async fn heal(sides: &[Vec<Node>]) {
    let all: Vec<Node> = sides.iter().flatten().cloned().collect();
    for a in &all {
        for b in &all {
            if a.name() != b.name() {
                a.unblock(b.name());
            }
        }
    }
    settle(&[all]).await;
}

/// Waits until each side is exactly a fully connected group, connecting within sides as
/// needed (a lost peer's news may have cut a link inside a side for a moment).
async fn settle(sides: &[Vec<Node>]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut done = true;
        for side in sides {
            for a in side {
                let mut want: Vec<String> = side
                    .iter()
                    .filter(|b| b.name() != a.name())
                    .map(|b| b.name().to_string())
                    .collect();
                want.sort();
                if a.nodes() != want {
                    done = false;
                    for b in &want {
                        if !a.nodes().contains(b) {
                            let _ = actors::rt::timeout(Duration::from_secs(1), a.connect(b)).await;
                        }
                    }
                }
            }
        }
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the cluster did not settle into {} parts",
            sides.len()
        );
        actors::rt::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a child node process connected to `to`, and waits until `to` sees it.
pub async fn join_child(bin: &str, name: &str, to: &Node) -> child::ChildNode {
    let child = child::ChildNode::start(bin, name, &[to.name()], &[]);
    let joined = child.name.clone();
    until(
        "the child node to connect",
        Duration::from_secs(10),
        || async { to.nodes().contains(&joined) },
    )
    .await;
    child
}

/// The `host:port` of a node name, to speak to it with raw sockets.
pub fn addr_of(name: &str) -> &str {
    name.rsplit_once('@')
        .map(|(_, addr)| addr)
        .expect("name@host:port")
}

/// Reads until the peer closes, within `limit`; true if it closed.
pub async fn closed_by_peer(stream: &mut actors_net::transport::Stream, limit: Duration) -> bool {
    use actors::dist::rt::io::ReadExt;
    let mut buf = [0u8; 1024];
    let read_to_end = async {
        loop {
            match stream.reader.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    };
    actors::rt::timeout(limit, read_to_end)
        .await
        .unwrap_or(false)
}

/// A counter on `node`, registered locally as `name`, and its pid as seen from `from` (found
/// through the wire, so that traffic to it crosses the connection).
pub async fn remote_counter(node: &Node, from: &Node, name: &str) -> (Pid<Counter>, Pid<Counter>) {
    let local = node.spawn(Counter { n: 0 });
    node.register(name, &local).expect("a free name");
    let remote = from
        .whereis_on(name, node.name())
        .await
        .expect("found across the wire");
    (local, remote)
}
