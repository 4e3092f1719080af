//! The scenario API: `Sim::new(seed).nodes(5).run(|cluster| async move { .. })`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::Node;
use actors::dist::rt::Domain;
use actors::sim::Sim;
use futures::future::BoxFuture;

use super::world::{NetConfig, SimNet, lock};
use crate::builder::NodeBuilder;
use crate::node::DistNode;

type Configure = Arc<dyn Fn(NodeBuilder) -> NodeBuilder + Send + Sync>;
type Setup = Arc<dyn Fn(Node) -> BoxFuture<'static, ()> + Send + Sync>;

/// Gives a [`Sim`] nodes: `Sim::new(seed).nodes(5)`.
pub trait SimNodes {
    /// A cluster of `count` nodes on a simulated network, to be run.
    fn nodes(self, count: usize) -> SimCluster;
}

impl SimNodes for Sim {
    fn nodes(self, count: usize) -> SimCluster {
        SimCluster {
            sim: self,
            count,
            net: NetConfig::default(),
            configure: Arc::new(|b| b),
            setup: Arc::new(|_| Box::pin(async {})),
        }
    }
}

/// A simulated cluster, before it runs.
pub struct SimCluster {
    sim: Sim,
    count: usize,
    net: NetConfig,
    configure: Configure,
    setup: Setup,
}

impl SimCluster {
    /// Draws each write's one-way latency from `min..max` (default 50 us to 2 ms).
    pub fn latency(mut self, min: Duration, max: Duration) -> Self {
        self.net.latency = (min, max.max(min));
        self
    }

    /// Adjusts every node's builder (heartbeats, limits), at each start and restart.
    pub fn configure(
        mut self,
        f: impl Fn(NodeBuilder) -> NodeBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure = Arc::new(f);
        self
    }

    /// Runs on each node once it has started, and again after each restart, on that node's
    /// machine: what a release's boot script would do (spawn the services, `allow_spawn`).
    pub fn setup<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Node) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.setup = Arc::new(move |node| Box::pin(f(node)));
        self
    }

    /// The simulation this cluster runs in: its clock, trace and timeline.
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// Starts the nodes (not yet connected), runs `main` with them, and returns what it
    /// returns. A run that panics prints its seed, how to replay it, and the last events.
    pub fn run<F, Fut, T>(&self, main: F) -> T
    where
        F: FnOnce(Cluster) -> Fut,
        Fut: Future<Output = T>,
    {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.sim.run(async {
                let cluster = Cluster {
                    inner: Arc::new(Inner {
                        net: SimNet::new(self.net.clone()),
                        slots: Mutex::new(Vec::new()),
                        freezes: Mutex::new(Vec::new()),
                        configure: self.configure.clone(),
                        setup: self.setup.clone(),
                    }),
                };
                for i in 0..self.count {
                    let (name, host) = (node_name(i), host_of(i));
                    lock(&cluster.inner.slots).push(Slot {
                        name,
                        host,
                        domain: Domain::OBSERVER,
                        node: None,
                        drift: 0,
                    });
                    cluster.boot(i).await;
                }
                main(cluster).await
            })
        }));
        match outcome {
            Ok(out) => out,
            Err(panic) => {
                eprintln!(
                    "\nthe simulation with seed {seed} failed at {at:?} of virtual time; \
                     replay it with SIM_SEED={seed}\nlast events:\n{events}",
                    seed = self.sim.seed(),
                    at = self.sim.now(),
                    events = self.sim.timeline(),
                );
                std::panic::resume_unwind(panic)
            }
        }
    }
}

/// A seed a scenario failed on: what it said, and the last events of the run.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Replays the run: `Sim::new(seed)`, or `SIM_SEED=<seed>` in a test that reads it.
    pub seed: u64,
    /// What the scenario returned.
    pub reason: String,
    /// The run's last events, one line each.
    pub timeline: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {}: {}\nlast events:\n{}",
            self.seed, self.reason, self.timeline
        )
    }
}

/// Runs `scenario` on a fresh cluster of `nodes` nodes for each of `seeds`, faults or not as
/// it chooses, and returns the first run it fails (`Err`) on. With no faults at all this is
/// the "works fine locally" check: each seed draws other latencies for each connection, so
/// two messages sent over different connections arrive in either order, as they do between
/// machines and almost never on one laptop.
///
/// ```
/// use actors_net::prelude::*;
/// use actors_net::sim::find_failure;
///
/// let found = find_failure(0..20, 2, |cluster| async move {
///     cluster.connect_all().await;
///     match cluster.node(0).nodes().len() {
///         1 => Ok(()),
///         n => Err(format!("node 0 sees {n} nodes")),
///     }
/// });
/// assert!(found.is_none());
/// ```
pub fn find_failure<F, Fut>(
    seeds: impl IntoIterator<Item = u64>,
    nodes: usize,
    scenario: F,
) -> Option<Failure>
where
    F: Fn(Cluster) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    seeds.into_iter().find_map(|seed| {
        let cluster = Sim::new(seed).nodes(nodes);
        let outcome = cluster.run(&scenario);
        outcome.err().map(|reason| Failure {
            seed,
            reason,
            timeline: cluster.sim().timeline(),
        })
    })
}

/// The seeds a property test runs: `SIM_SEED=n` replays one; otherwise `SIM_SEEDS=k` seeds
/// (default `default`) from `first`.
pub fn seeds(first: u64, default: u64) -> Vec<u64> {
    if let Some(seed) = replay_seed() {
        return vec![seed];
    }
    let count = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    (first..first + count).collect()
}

/// The seed named by `SIM_SEED`, if any.
pub fn replay_seed() -> Option<u64> {
    std::env::var("SIM_SEED").ok()?.parse().ok()
}

fn host_of(i: usize) -> String {
    format!("10.0.{}.{}", i / 250, i % 250 + 1)
}

/// The name node `i` of a simulated cluster has, in every run and across restarts:
/// `n{i}@10.0.x.y:4000`, what a test's setup can compute before the cluster runs.
pub fn node_name(i: usize) -> String {
    format!("n{i}@{}:4000", host_of(i))
}

struct Slot {
    name: String,
    host: String,
    domain: Domain,
    /// The node running now; `None` while its machine is down.
    node: Option<Node>,
    /// How fast its clock runs, in parts per million off true.
    drift: i32,
}

struct Inner {
    net: SimNet,
    slots: Mutex<Vec<Slot>>,
    /// Each freeze so far: the node, from when, and until when (`None`: still frozen).
    freezes: Mutex<Vec<(usize, Duration, Option<Duration>)>>,
    configure: Configure,
    setup: Setup,
}

/// The nodes of a running simulation, and the faults that can befall them.
///
/// Node `i` is named `n{i}@10.0.x.y:4000` and keeps its name across restarts (with a new
/// creation each time, as a restarted BEAM has).
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl Cluster {
    /// How many nodes (running or not).
    pub fn len(&self) -> usize {
        lock(&self.inner.slots).len()
    }

    /// True for a cluster of no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The network, for faults finer than the ones below.
    pub fn net(&self) -> &SimNet {
        &self.inner.net
    }

    /// Node `i`'s name.
    pub fn name(&self, i: usize) -> String {
        lock(&self.inner.slots)[i].name.clone()
    }

    /// Node `i`'s host on the network.
    pub fn host(&self, i: usize) -> String {
        lock(&self.inner.slots)[i].host.clone()
    }

    /// Node `i`, as running now. Panics while its machine is down: see [`Cluster::try_node`].
    pub fn node(&self, i: usize) -> Node {
        self.try_node(i)
            .unwrap_or_else(|| panic!("node {i} is down"))
    }

    /// Node `i`, unless its machine is down.
    pub fn try_node(&self, i: usize) -> Option<Node> {
        lock(&self.inner.slots)[i].node.clone()
    }

    /// The indexes of the nodes running now.
    pub fn up(&self) -> Vec<usize> {
        lock(&self.inner.slots)
            .iter()
            .enumerate()
            .filter(|(_, s)| s.node.is_some())
            .map(|(i, _)| i)
            .collect()
    }

    /// Runs `f` with node `i` as a task of its machine (what a process there would do), and
    /// returns its result; `None` if the machine is down or dies meanwhile.
    pub async fn on<F, Fut, T>(&self, i: usize, f: F) -> Option<T>
    where
        F: FnOnce(Node) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (node, domain) = {
            let slots = lock(&self.inner.slots);
            (slots[i].node.clone()?, slots[i].domain)
        };
        let (tx, rx) = futures::channel::oneshot::channel();
        let task = f(node);
        actors::dist::rt::spawn_in(domain, async move {
            let _ = tx.send(task.await);
        });
        rx.await.ok()
    }

    /// Connects every running node to every other, each dial made by the dialling node, and
    /// returns once each sees all the others.
    pub async fn connect_all(&self) {
        let up = self.up();
        for &i in &up {
            for &j in up.iter().filter(|&&j| j > i) {
                let peer = self.name(j);
                let _ = self
                    .on(i, move |n| async move { n.connect(&peer).await })
                    .await;
            }
        }
        let want = up.len().saturating_sub(1);
        let _ = self
            .until(Duration::from_secs(30), || {
                up.iter()
                    .all(|&i| self.try_node(i).is_some_and(|n| n.nodes().len() >= want))
            })
            .await;
    }

    /// Waits, in virtual time, until `done` holds (checked every 10 ms); false if `within`
    /// passes first.
    pub async fn until(&self, within: Duration, mut done: impl FnMut() -> bool) -> bool {
        let start = actors::sim::true_now();
        loop {
            if done() {
                return true;
            }
            if actors::sim::true_now() >= start + within {
                return false;
            }
            actors::rt::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Packets between the nodes of `a` and those of `b` are lost, both ways, until
    /// [`Cluster::heal`].
    pub fn partition(&self, a: &[usize], b: &[usize]) {
        let hosts = |ix: &[usize]| ix.iter().map(|&i| self.host(i)).collect::<Vec<_>>();
        let (a, b) = (hosts(a), hosts(b));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let b: Vec<&str> = b.iter().map(String::as_str).collect();
        self.inner.net.partition(&a, &b);
    }

    /// Packets from node `from` to node `to` are lost (and not the other way).
    pub fn block_one_way(&self, from: usize, to: usize) {
        self.inner.net.block(&self.host(from), &self.host(to));
    }

    /// Every partition heals.
    pub fn heal(&self) {
        self.inner.net.heal();
    }

    /// Resets the connections between nodes `a` and `b`.
    pub fn cut(&self, a: usize, b: usize) {
        self.inner.net.cut(&self.host(a), &self.host(b));
    }

    /// Kills node `i`'s machine: every task of it gone, its peers see its connections reset.
    pub fn kill(&self, i: usize) {
        let (domain, host) = {
            let mut slots = lock(&self.inner.slots);
            let s = &mut slots[i];
            if s.node.take().is_none() {
                return;
            }
            (s.domain, s.host.clone())
        };
        actors::sim::kill(domain);
        self.inner.net.crash_host(&host);
    }

    /// Starts node `i` again on a fresh machine (after [`Cluster::kill`]): same name, new
    /// creation, the setup run again. Its peers reach it again by themselves.
    pub async fn restart(&self, i: usize) -> Node {
        self.kill(i);
        self.boot(i).await
    }

    /// Stops scheduling node `i` (as SIGSTOP) until [`Cluster::thaw`].
    pub fn freeze(&self, i: usize) {
        let slots = lock(&self.inner.slots);
        if slots[i].node.is_some() && !actors::sim::is_frozen(slots[i].domain) {
            actors::sim::freeze(slots[i].domain);
            let now = actors::sim::true_now();
            lock(&self.inner.freezes).push((i, now, None));
        }
    }

    /// Lets a frozen node run again.
    pub fn thaw(&self, i: usize) {
        let slots = lock(&self.inner.slots);
        if slots[i].node.is_some() && actors::sim::is_frozen(slots[i].domain) {
            actors::sim::thaw(slots[i].domain);
            let now = actors::sim::true_now();
            for f in lock(&self.inner.freezes).iter_mut() {
                if f.0 == i && f.2.is_none() {
                    f.2 = Some(now);
                }
            }
        }
    }

    /// True if node `i` was frozen at any moment between `from` and `to` (true times, as
    /// `actors::sim::true_now` gives): what it did then took longer than it could tell.
    pub fn was_frozen(&self, i: usize, from: Duration, to: Duration) -> bool {
        lock(&self.inner.freezes)
            .iter()
            .any(|&(n, a, b)| n == i && a <= to && b.is_none_or(|b| b >= from))
    }

    /// True while node `i` is frozen.
    pub fn is_frozen(&self, i: usize) -> bool {
        let slots = lock(&self.inner.slots);
        slots[i].node.is_some() && actors::sim::is_frozen(slots[i].domain)
    }

    /// Makes node `i`'s clock run `ppm` parts per million fast (negative: slow), across its
    /// restarts too.
    pub fn drift(&self, i: usize, ppm: i32) {
        let mut slots = lock(&self.inner.slots);
        slots[i].drift = ppm;
        if slots[i].domain != Domain::OBSERVER {
            actors::sim::set_drift(slots[i].domain, ppm);
        }
    }

    async fn boot(&self, i: usize) -> Node {
        let drift = lock(&self.inner.slots)[i].drift;
        let (name, host) = {
            let slots = lock(&self.inner.slots);
            (slots[i].name.clone(), slots[i].host.clone())
        };
        let domain = actors::sim::new_domain(&format!("n{i}"));
        actors::sim::set_drift(domain, drift);
        let builder = (self.inner.configure)(
            Node::builder(&name)
                .cookie("simulated")
                .transport(self.inner.net.transport(&host)),
        );
        let setup = self.inner.setup.clone();
        let node = actors::dist::rt::spawn_in(domain, async move {
            let node = builder
                .start()
                .await
                .unwrap_or_else(|e| panic!("a simulated node did not start: {e}"));
            setup(node.clone()).await;
            node
        })
        .await;
        actors::sim::note(format_args!("started {:?}", node.id()));
        let mut slots = lock(&self.inner.slots);
        slots[i].domain = domain;
        slots[i].node = Some(node.clone());
        node
    }
}
