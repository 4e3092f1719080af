//! Remote call round trips and one-way casts between two nodes in two OS processes, beside
//! raw loopback TCP between the same two processes: our side of `tests/compare/run.sh`,
//! which runs Erlang distribution and ractor_cluster the same way in the same run.
//!
//! `distbench serve` starts node `server@127.0.0.1` with an `Echo` registered as "echo" and
//! a `Sink` as "sink", a raw TCP echo of 32-byte messages and a raw length-prefixed CBOR
//! sink, and prints `READY <node> <echo port> <sink port>`. `distbench drive <node> <echo
//! port> <sink port> [runs]` connects to it and prints one line per figure: the median over
//! the runs of 20,000 round trips of 32 bytes (and their p99), and of 1,000,000 casts of 32
//! bytes timed until a call behind the last returns.

use std::time::{Duration, Instant};

use actors::dist::rt::io::{BufReader, BufWriter, ReadExt, WriteExt};
use actors::dist::rt::net::{TcpListener, TcpStream};
use actors_net::prelude::*;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

const ROUND_TRIPS: usize = 20_000;
const CASTS: u64 = 1_000_000;

#[actor]
struct Echo;

#[actor]
impl Echo {
    #[handle]
    fn echo(&self, bytes: ByteBuf) -> ByteBuf {
        bytes
    }
}

#[actor]
#[derive(Default)]
struct Sink {
    received: u64,
}

#[actor]
impl Sink {
    #[handle(cast)]
    fn take(&mut self, _bytes: ByteBuf) {
        self.received += 1;
    }
    #[handle]
    fn received(&self) -> u64 {
        self.received
    }
}

#[derive(Serialize, Deserialize)]
struct Payload(ByteBuf);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => actors::rt::block_on(serve()),
        Some("drive") if args.len() >= 4 => {
            let port = |i: usize| args[i].parse::<u16>().expect("a port");
            let runs = args
                .get(4)
                .map_or(5, |r| r.parse().expect("a number of runs"));
            actors::rt::block_on(drive(&args[1], port(2), port(3), runs))
        }
        _ => {
            eprintln!("usage: distbench serve | distbench drive NODE ECHO_PORT SINK_PORT [RUNS]");
            std::process::exit(2);
        }
    }
}

async fn serve() {
    let node = Node::builder("server@127.0.0.1:0")
        .cookie("compare")
        .start()
        .await
        .expect("the node starts");
    node.register("echo", node.spawn(Echo)).expect("registers");
    node.register("sink", node.spawn(Sink::default()))
        .expect("registers");
    let echo = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let sink = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let (echo_port, sink_port) = (
        echo.local_addr().expect("bound").port(),
        sink.local_addr().expect("bound").port(),
    );
    actors::rt::spawn(async move {
        while let Ok((mut s, _)) = echo.accept().await {
            s.set_nodelay(true).expect("nodelay");
            let mut buf = [0u8; 32];
            while s.read_exact(&mut buf).await.is_ok() {
                if s.write_all(&buf).await.is_err() {
                    break;
                }
            }
        }
    });
    actors::rt::spawn(async move {
        while let Ok((s, _)) = sink.accept().await {
            // Reads CASTS messages, decoding each as the node decodes a cast, then says so.
            let mut r = BufReader::with_capacity(64 * 1024, s.clone());
            let mut body = Vec::new();
            for _ in 0..CASTS {
                let mut len = [0u8; 4];
                r.read_exact(&mut len).await.expect("a length");
                body.resize(u32::from_be_bytes(len) as usize, 0);
                r.read_exact(&mut body).await.expect("a body");
                let _: Payload = ciborium::from_reader(&body[..]).expect("a payload");
            }
            let mut s = s;
            s.write_all(&[1]).await.expect("the ack");
        }
    });
    println!("READY {} {echo_port} {sink_port}", node.name());
    std::future::pending::<()>().await;
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// (median, p99) in microseconds.
fn spread(mut ns: Vec<u64>) -> (f64, f64) {
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() as f64 - 1.0) * q) as usize] as f64 / 1e3;
    (at(0.5), at(0.99))
}

async fn raw_ping_pong(port: u16) -> (f64, f64) {
    let mut c = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connects");
    c.set_nodelay(true).expect("nodelay");
    let mut buf = [7u8; 32];
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        c.write_all(&buf).await.expect("writes");
        c.read_exact(&mut buf).await.expect("reads");
        times.push(t.elapsed().as_nanos() as u64);
    }
    spread(times)
}

async fn raw_stream(port: u16) -> f64 {
    let s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connects");
    s.set_nodelay(true).expect("nodelay");
    let mut w = BufWriter::with_capacity(64 * 1024, s.clone());
    let payload = Payload(ByteBuf::from(vec![7u8; 32]));
    let mut body = Vec::new();
    let start = Instant::now();
    for _ in 0..CASTS {
        body.clear();
        ciborium::into_writer(&payload, &mut body).expect("encodes");
        w.write_all(&(body.len() as u32).to_be_bytes())
            .await
            .expect("writes");
        w.write_all(&body).await.expect("writes");
    }
    w.flush().await.expect("flushes");
    let mut ack = [0u8; 1];
    let mut s = s;
    s.read_exact(&mut ack).await.expect("the ack");
    CASTS as f64 / start.elapsed().as_secs_f64()
}

async fn calls(echo: &Pid<Echo>) -> (f64, f64) {
    let payload = ByteBuf::from(vec![7u8; 32]);
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        echo.echo(payload.clone()).await.expect("echoes");
        times.push(t.elapsed().as_nanos() as u64);
    }
    spread(times)
}

async fn casts(sink: &Pid<Sink>) -> f64 {
    let payload = ByteBuf::from(vec![7u8; 32]);
    let start = Instant::now();
    for i in 0..CASTS {
        sink.take(payload.clone()).expect("casts");
        if i % 4096 == 0 {
            // Let the writer run, as a sender that is a process would.
            actors::rt::yield_now().await;
        }
    }
    // Behind the last cast on the same connection: it returns once all were handled.
    sink.received()
        .timeout(Duration::from_secs(120))
        .await
        .expect("the sink answers");
    CASTS as f64 / start.elapsed().as_secs_f64()
}

async fn drive(server: &str, echo_port: u16, sink_port: u16, runs: usize) {
    let node = Node::builder("driver@127.0.0.1:0")
        .cookie("compare")
        .start()
        .await
        .expect("the node starts");
    node.connect(server).await.expect("connects");
    let echo: Pid<Echo> = node.whereis_on("echo", server).await.expect("echo");
    let sink: Pid<Sink> = node.whereis_on("sink", server).await.expect("sink");
    let (mut raw_med, mut raw_p99, mut med, mut p99) = (vec![], vec![], vec![], vec![]);
    let (mut raw_tp, mut tp) = (vec![], vec![]);
    for _ in 0..runs {
        let (m, p) = raw_ping_pong(echo_port).await;
        raw_med.push(m);
        raw_p99.push(p);
        let (m, p) = calls(&echo).await;
        med.push(m);
        p99.push(p);
        raw_tp.push(raw_stream(sink_port).await);
        tp.push(casts(&sink).await);
    }
    let (raw_med, raw_p99, med, p99) = (median(raw_med), median(raw_p99), median(med), median(p99));
    let (raw_tp, tp) = (median(raw_tp), median(tp));
    println!(
        "beamish     call round trip  median {med:>7.1} us  p99 {p99:>7.1} us   ({:.2}x raw)",
        med / raw_med
    );
    println!(
        "beamish     one-way casts    {:>7.2} M msgs/s                  ({:.2}x raw)",
        tp / 1e6,
        tp / raw_tp
    );
    println!("raw TCP     ping-pong        median {raw_med:>7.1} us  p99 {raw_p99:>7.1} us");
    println!(
        "raw TCP     CBOR stream      {:>7.2} M msgs/s",
        raw_tp / 1e6
    );
}
