//! Local figures beside raw async-std channels doing the same work in the same run:
//! one-way cast throughput, call round trip, spawn time and bytes per idle process.
//!
//! `cargo bench -p beamish-actors --bench local` (unpinned), and
//! `taskset -c 0 cargo bench -p beamish-actors --bench local` (pinned to one CPU).
//! Each figure is the median of 5 runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actors::prelude::*;
// The baseline is async-std's own channel, so the bench names it directly.
use async_std::channel;

/// Counts live heap bytes, to measure what an idle process costs.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[actor]
struct Sink {
    sum: u64,
}

#[actor]
impl Sink {
    #[handle(cast)]
    fn hit(&mut self, x: u64) {
        self.sum = self.sum.wrapping_add(x);
    }
    #[handle]
    fn total(&self) -> u64 {
        self.sum
    }
    #[handle]
    fn echo(&self, x: u64) -> u64 {
        x
    }
}

static STARTED: AtomicUsize = AtomicUsize::new(0);

#[actor]
struct Idle;

#[actor]
impl Idle {
    fn started(&mut self) {
        STARTED.fetch_add(1, Ordering::Relaxed);
    }
    #[handle]
    fn ping(&self) {}
}

const CASTS: u64 = 2_000_000;
const CALLS: u64 = 200_000;
const ACTORS: usize = 1_000_000;
const RUNS: usize = 5;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

async fn raw_channel_throughput() -> f64 {
    let (tx, rx) = channel::unbounded::<u64>();
    let start = Instant::now();
    let consumer = actors::rt::spawn(async move {
        let mut sum = 0u64;
        for _ in 0..CASTS {
            sum = sum.wrapping_add(rx.recv().await.expect("sender alive"));
        }
        sum
    });
    for i in 0..CASTS {
        tx.send(i).await.expect("receiver alive");
    }
    consumer.await;
    CASTS as f64 / start.elapsed().as_secs_f64()
}

async fn cast_throughput(sink: &Pid<Sink>) -> f64 {
    let start = Instant::now();
    for i in 0..CASTS {
        sink.hit(i).expect("cast");
    }
    sink.total()
        .timeout(Duration::from_secs(60))
        .await
        .expect("total");
    CASTS as f64 / start.elapsed().as_secs_f64()
}

async fn raw_channel_round_trip() -> f64 {
    let (req_tx, req_rx) = channel::unbounded::<(u64, channel::Sender<u64>)>();
    let server = actors::rt::spawn(async move {
        while let Ok((x, reply)) = req_rx.recv().await {
            let _ = reply.send(x).await;
        }
    });
    let start = Instant::now();
    for i in 0..CALLS {
        // A reply channel per request, as a call has a reply slot per call.
        let (tx, rx) = channel::bounded(1);
        req_tx.send((i, tx)).await.expect("server alive");
        rx.recv().await.expect("reply");
    }
    let ns = start.elapsed().as_nanos() as f64 / CALLS as f64;
    drop(req_tx);
    server.await;
    ns
}

/// The floor under any call between two tasks on this executor: two tasks handing a baton
/// back and forth through an atomic flag and a waker each, with no lock, no allocation and
/// no queue. What a call costs above this is the mailbox, the reply slot and the timeout.
async fn task_switch_floor() -> f64 {
    use futures::task::AtomicWaker;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU8;
    struct Baton {
        turn: AtomicU8,
        wakers: [AtomicWaker; 2],
    }
    fn wait(b: &Baton, me: u8) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if b.turn.load(Ordering::Acquire) == me {
                return std::task::Poll::Ready(());
            }
            b.wakers[me as usize].register(cx.waker());
            if b.turn.load(Ordering::Acquire) == me {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
    }
    fn pass(b: &Baton, to: u8) {
        b.turn.store(to, Ordering::Release);
        b.wakers[to as usize].wake();
    }
    let baton = Arc::new(Baton {
        turn: AtomicU8::new(0),
        wakers: [AtomicWaker::new(), AtomicWaker::new()],
    });
    let theirs = baton.clone();
    let server = actors::rt::spawn(async move {
        for _ in 0..CALLS {
            wait(&theirs, 1).await;
            pass(&theirs, 0);
        }
    });
    let start = Instant::now();
    for _ in 0..CALLS {
        pass(&baton, 1);
        wait(&baton, 0).await;
    }
    let ns = start.elapsed().as_nanos() as f64 / CALLS as f64;
    server.await;
    ns
}

async fn call_round_trip(node: &Node) -> f64 {
    let sink = node.spawn(Sink { sum: 0 });
    let start = Instant::now();
    for i in 0..CALLS {
        sink.echo(i).await.expect("echo");
    }
    start.elapsed().as_nanos() as f64 / CALLS as f64
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// (spawn µs per task, heap bytes per idle task): a bare runtime task parked forever, the
/// floor under any process.
async fn bare_tasks() -> (f64, f64) {
    STARTED.store(0, Ordering::Relaxed);
    let heap_before = LIVE.load(Ordering::Relaxed);
    let (tx, rx) = channel::bounded::<()>(1);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(ACTORS);
    for _ in 0..ACTORS {
        let rx = rx.clone();
        handles.push(actors::rt::spawn(async move {
            STARTED.fetch_add(1, Ordering::Relaxed);
            let _ = rx.recv().await;
        }));
    }
    let spawned = start.elapsed();
    while STARTED.load(Ordering::Relaxed) < ACTORS {
        actors::rt::sleep(Duration::from_millis(1)).await;
    }
    let handle_bytes =
        (handles.capacity() * std::mem::size_of::<actors::rt::JoinHandle<()>>()) as isize;
    let heap = (LIVE.load(Ordering::Relaxed) - heap_before - handle_bytes) as f64 / ACTORS as f64;
    drop(tx);
    for h in handles {
        h.await;
    }
    (spawned.as_secs_f64() * 1e6 / ACTORS as f64, heap)
}

/// (spawn µs per actor, heap bytes per idle actor, RSS bytes per idle actor)
async fn spawn_and_memory() -> (f64, f64, f64) {
    let node = Node::local();
    STARTED.store(0, Ordering::Relaxed);
    let heap_before = LIVE.load(Ordering::Relaxed);
    let rss_before = rss_bytes();
    let start = Instant::now();
    let mut pids = Vec::with_capacity(ACTORS);
    for _ in 0..ACTORS {
        pids.push(node.spawn(Idle));
    }
    let spawned = start.elapsed();
    while STARTED.load(Ordering::Relaxed) < ACTORS {
        actors::rt::sleep(Duration::from_millis(1)).await;
    }
    // The pids vector is the caller's, not the processes'.
    let pid_bytes = (pids.capacity() * std::mem::size_of::<Pid<Idle>>()) as isize;
    let heap = (LIVE.load(Ordering::Relaxed) - heap_before - pid_bytes) as f64 / ACTORS as f64;
    let rss = rss_bytes().saturating_sub(rss_before) as f64 / ACTORS as f64;
    drop(pids);
    node.shutdown().await;
    (spawned.as_secs_f64() * 1e6 / ACTORS as f64, heap, rss)
}

fn main() {
    // `cargo bench -p beamish-actors --bench local -- cast` runs only the sections named so.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted =
        move |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("local benchmarks: {cpus} CPU(s) available, median of {RUNS} runs");
    actors::rt::block_on(actors::rt::spawn(async move {
        let node = Node::local();
        if wanted("cast") {
            let mut raw_tp = Vec::new();
            let mut cast_tp = Vec::new();
            // One long-lived receiver, as a real one is; its buffers grow once.
            let sink = node.spawn(Sink { sum: 0 });
            for _ in 0..RUNS {
                raw_tp.push(raw_channel_throughput().await);
                cast_tp.push(cast_throughput(&sink).await);
            }
            let (raw_tp, cast_tp) = (median(raw_tp), median(cast_tp));
            println!(
                "one-way cast:      {:>8.2} M msgs/s   raw async-std channel {:>6.2} M msgs/s   ratio {:.2}x",
                cast_tp / 1e6,
                raw_tp / 1e6,
                cast_tp / raw_tp
            );
        }
        if wanted("onlycall") {
            for _ in 0..5 {
                call_round_trip(&node).await;
            }
        }
        if wanted("call") {
            let mut raw_rtt = Vec::new();
            let mut call_rtt = Vec::new();
            let mut floor = Vec::new();
            for _ in 0..RUNS {
                raw_rtt.push(raw_channel_round_trip().await);
                call_rtt.push(call_round_trip(&node).await);
                floor.push(task_switch_floor().await);
            }
            let (raw_rtt, call_rtt, floor) = (median(raw_rtt), median(call_rtt), median(floor));
            println!(
                "call round trip:   {:>8.0} ns         raw channel ping-pong {:>6.0} ns         ratio {:.2}x",
                call_rtt,
                raw_rtt,
                call_rtt / raw_rtt
            );
            println!(
                "task switch floor: {floor:>8.0} ns         (two tasks, a baton: no lock, no allocation)"
            );
        }
        if !wanted("spawn") {
            node.shutdown().await;
            return;
        }
        let mut spawn = Vec::new();
        let mut heap = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..3 {
            let (s, h, r) = spawn_and_memory().await;
            spawn.push(s);
            heap.push(h);
            rss.push(r);
        }
        let (bare_spawn, bare_heap) = bare_tasks().await;
        println!(
            "spawn (1M actors): {:>8.3} us/actor   bare runtime task {:>6.3} us (channel-parked)",
            median(spawn),
            bare_spawn
        );
        println!("bare parked task:  {bare_heap:>8.0} B heap (task + a channel receiver clone)");
        println!(
            "idle actor:        {:>8.0} B heap     {:>6.0} B RSS (first of 3 runs is the honest RSS)",
            median(heap),
            rss[0]
        );
        node.shutdown().await;
    }));
}
