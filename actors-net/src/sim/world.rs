//! The simulated network: hosts, listening addresses, connections, and the faults between
//! them. Every choice (a latency, a port) is drawn from the simulation's seed, and every map
//! is ordered, so one seed gives one run.

use actors::dist::Unpoisoned;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use super::links::Links;
use super::pipe::{End, Pipe, Reader, Writer};
use crate::transport::Stream;

/// How the simulated network behaves when nothing fails.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// The one-way latency of each write is drawn evenly from this range.
    pub latency: (Duration, Duration),
    /// How long a dial across a partition waits before it fails, as a lost SYN does.
    pub connect_timeout: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            latency: (Duration::from_micros(50), Duration::from_millis(2)),
            connect_timeout: Duration::from_secs(1),
        }
    }
}

/// A simulated network shared by the nodes of one simulation.
///
/// Each node reaches it through its own [`SimNet::transport`], named by its host; faults are
/// set on the network: [`SimNet::partition`], [`SimNet::cut`], [`SimNet::crash_host`].
#[derive(Clone)]
pub struct SimNet {
    world: Arc<Mutex<World>>,
    links: Arc<Links>,
}

/// What a listening address has waiting.
pub(crate) struct Backlog {
    pub(crate) queue: VecDeque<(String, Stream)>,
    pub(crate) waker: Option<Waker>,
    pub(crate) closed: bool,
}

struct Conn {
    a: String,
    b: String,
    a_to_b: Arc<Pipe>,
    b_to_a: Arc<Pipe>,
}

struct World {
    config: NetConfig,
    listeners: BTreeMap<String, Arc<Mutex<Backlog>>>,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    next_port: u16,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unpoisoned()
}

/// The host of `host:port`.
pub(crate) fn host_of(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(h, _)| h)
}

impl SimNet {
    /// A network with `config`.
    pub fn new(config: NetConfig) -> SimNet {
        SimNet {
            links: Arc::new(Links::new(config.latency)),
            world: Arc::new(Mutex::new(World {
                config,
                listeners: BTreeMap::new(),
                conns: BTreeMap::new(),
                next_conn: 0,
                next_port: 40_000,
            })),
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// A latency drawn from the seed.
    pub(crate) fn latency(&self) -> Duration {
        self.links.latency()
    }

    /// True while packets from `from` to `to` are lost.
    pub(crate) fn blocked(&self, from: &str, to: &str) -> bool {
        self.links.blocked(from, to)
    }

    fn reachable(&self, a: &str, b: &str) -> bool {
        !self.blocked(a, b) && !self.blocked(b, a)
    }

    /// Packets from `from` to `to` are lost from now on (a one-way partition).
    pub fn block(&self, from: &str, to: &str) {
        actors::sim::note(format_args!("net: {from} -/-> {to}"));
        self.links.block(from, to);
    }

    /// Packets between every host of `a` and every host of `b` are lost, both ways.
    pub fn partition(&self, a: &[&str], b: &[&str]) {
        for x in a {
            for y in b {
                self.block(x, y);
                self.block(y, x);
            }
        }
    }

    /// Every partition heals; what was in flight arrives.
    pub fn heal(&self) {
        actors::sim::note("net: heal");
        let pipes: Vec<Arc<Pipe>> = {
            self.links.clear();
            let w = self.world();
            w.conns
                .values()
                .flat_map(|c| [c.a_to_b.clone(), c.b_to_a.clone()])
                .collect()
        };
        for p in pipes {
            p.nudge();
        }
    }

    /// Resets every connection between hosts `a` and `b`, as a middlebox dropping them does.
    pub fn cut(&self, a: &str, b: &str) {
        actors::sim::note(format_args!("net: cut {a} <-> {b}"));
        let gone: Vec<Conn> = {
            let mut w = self.world();
            let ids: Vec<u64> = w
                .conns
                .iter()
                .filter(|(_, c)| (c.a == a && c.b == b) || (c.a == b && c.b == a))
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| w.conns.remove(id)).collect()
        };
        for c in gone {
            for p in [&c.a_to_b, &c.b_to_a] {
                p.break_writes(self.latency());
                p.end(End::Reset, self.latency());
            }
        }
    }

    /// The machine `host` is gone: its listeners close, and each peer of its connections
    /// sees a reset (once it can hear the host at all), as after SIGKILL.
    pub fn crash_host(&self, host: &str) {
        let gone: Vec<(bool, Conn)> = {
            let mut w = self.world();
            w.listeners.retain(|addr, backlog| {
                let keep = host_of(addr) != host;
                if !keep {
                    lock(backlog).closed = true;
                }
                keep
            });
            let ids: Vec<u64> = w
                .conns
                .iter()
                .filter(|(_, c)| c.a == host || c.b == host)
                .map(|(id, _)| *id)
                .collect();
            ids.iter()
                .filter_map(|id| w.conns.remove(id))
                .map(|c| (c.a == host, c))
                .collect()
        };
        for (a_died, c) in gone {
            let (to_peer, from_peer) = if a_died {
                (&c.a_to_b, &c.b_to_a)
            } else {
                (&c.b_to_a, &c.a_to_b)
            };
            to_peer.end(End::Reset, self.latency());
            from_peer.break_writes(self.latency());
        }
    }

    /// Bytes on their way, over every connection.
    pub fn in_flight(&self) -> usize {
        self.world()
            .conns
            .values()
            .map(|c| c.a_to_b.in_flight() + c.b_to_a.in_flight())
            .sum()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.world().conns.len()
    }

    /// Starts listening on `addr` (port 0: one is chosen).
    pub(crate) fn listen(&self, addr: &str) -> io::Result<(String, Arc<Mutex<Backlog>>)> {
        let mut w = self.world();
        let host = host_of(addr).to_string();
        let addr = if addr.ends_with(":0") {
            w.next_port += 1;
            format!("{host}:{}", w.next_port)
        } else {
            addr.to_string()
        };
        if w.listeners.contains_key(&addr) {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        let backlog = Arc::new(Mutex::new(Backlog {
            queue: VecDeque::new(),
            waker: None,
            closed: false,
        }));
        w.listeners.insert(addr.clone(), backlog.clone());
        Ok((addr, backlog))
    }

    /// Stops listening on `addr`.
    pub(crate) fn unlisten(&self, addr: &str) {
        if let Some(b) = self.world().listeners.remove(addr) {
            lock(&b).closed = true;
        }
    }

    /// Connects `from` (a host) to `addr`: a round trip of latency, or a refusal, or a
    /// timeout across a partition.
    pub(crate) async fn dial(&self, from: &str, addr: &str) -> io::Result<Stream> {
        let to = host_of(addr).to_string();
        if !self.reachable(from, &to) {
            let timeout = self.world().config.connect_timeout;
            actors::rt::sleep(timeout).await;
            return Err(io::ErrorKind::TimedOut.into());
        }
        actors::rt::sleep(self.latency()).await;
        let backlog = self.world().listeners.get(addr).cloned();
        let Some(backlog) = backlog.filter(|_| self.reachable(from, &to)) else {
            actors::rt::sleep(self.latency()).await;
            return Err(io::ErrorKind::ConnectionRefused.into());
        };
        let (id, port, a_to_b, b_to_a) = {
            let mut w = self.world();
            w.next_conn += 1;
            w.next_port = w.next_port.wrapping_add(1).max(40_001);
            let (a_to_b, b_to_a) = (Pipe::new(from, &to), Pipe::new(&to, from));
            let id = w.next_conn;
            w.conns.insert(
                id,
                Conn {
                    a: from.to_string(),
                    b: to.clone(),
                    a_to_b: a_to_b.clone(),
                    b_to_a: b_to_a.clone(),
                },
            );
            (id, w.next_port, a_to_b, b_to_a)
        };
        let local = format!("{from}:{port}");
        let theirs = self.end_of(id, b_to_a.clone(), a_to_b.clone(), local.clone());
        let waker = {
            let mut b = lock(&backlog);
            if b.closed {
                None
            } else {
                b.queue.push_back((local, theirs));
                b.waker.take()
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
        actors::rt::sleep(self.latency()).await;
        Ok(self.end_of(id, a_to_b, b_to_a, addr.to_string()))
    }

    /// One side's stream of connection `id`: it writes to `out` and reads from `inn`.
    fn end_of(&self, id: u64, out: Arc<Pipe>, inn: Arc<Pipe>, peer: String) -> Stream {
        let side = Arc::new(Side {
            net: self.clone(),
            id,
            out: out.clone(),
            inn: inn.clone(),
        });
        let closer = side.clone();
        Stream {
            reader: Box::new(Reader::new(inn, self.links.clone(), side.clone())),
            writer: Box::new(Writer {
                pipe: out,
                links: self.links.clone(),
                _hold: side,
            }),
            close: Box::new(move || closer.close()),
            peer,
        }
    }

    fn forget(&self, id: u64) {
        let mut w = self.world();
        let done = w
            .conns
            .get(&id)
            .is_some_and(|c| c.a_to_b.is_finished() && c.b_to_a.is_finished());
        if done {
            w.conns.remove(&id);
        }
    }
}

/// One side of a connection: closed when asked, or when its reader and writer are both gone.
struct Side {
    net: SimNet,
    id: u64,
    out: Arc<Pipe>,
    inn: Arc<Pipe>,
}

impl Side {
    fn close(&self) {
        self.out.end(End::Fin, self.net.latency());
        self.inn.close_here(self.net.latency());
        self.net.forget(self.id);
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        self.close();
    }
}
