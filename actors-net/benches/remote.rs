//! Remote figures over loopback beside raw baselines in the same run: call round trip
//! (median, p99) against an async-std TCP ping-pong of 32 bytes, and one-way casts of 32-byte
//! payloads against a raw length-prefixed CBOR stream of the same payloads.
//!
//! `cargo bench -p beamish-actors-net --bench remote` (unpinned), and
//! `taskset -c 0 cargo bench -p beamish-actors-net --bench remote` (pinned to one CPU). With
//! `--features tls -- tls`, the same call and casts between two nodes over mutual TLS.

use std::time::{Duration, Instant};

use actors::dist::rt::io::{BufReader, BufWriter, ReadExt, WriteExt};
use actors::dist::rt::net::{TcpListener, TcpStream};
use actors_net::prelude::*;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

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

const ROUND_TRIPS: usize = 20_000;
const CASTS: u64 = 1_000_000;
const RUNS: usize = 5;

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

async fn raw_tcp_ping_pong() -> (f64, f64) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = actors::rt::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; 32];
        while s.read_exact(&mut buf).await.is_ok() {
            if s.write_all(&buf).await.is_err() {
                break;
            }
        }
    });
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.set_nodelay(true).unwrap();
    let mut buf = [7u8; 32];
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        c.write_all(&buf).await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        times.push(t.elapsed().as_nanos() as u64);
    }
    drop(c);
    server.await;
    spread(times)
}

async fn remote_call(remote: &Pid<Echo>) -> (f64, f64) {
    let payload = ByteBuf::from(vec![7u8; 32]);
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        remote.echo(payload.clone()).await.unwrap();
        times.push(t.elapsed().as_nanos() as u64);
    }
    spread(times)
}

#[derive(Serialize, Deserialize)]
struct Payload(ByteBuf);

async fn raw_cbor_stream() -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = actors::rt::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let mut r = BufReader::with_capacity(64 * 1024, s);
        let mut body = Vec::new();
        for _ in 0..CASTS {
            let mut len = [0u8; 4];
            r.read_exact(&mut len).await.unwrap();
            body.resize(u32::from_be_bytes(len) as usize, 0);
            r.read_exact(&mut body).await.unwrap();
            let _: Payload = ciborium::from_reader(&body[..]).unwrap();
        }
    });
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut w = BufWriter::with_capacity(64 * 1024, s);
    let start = Instant::now();
    let payload = Payload(ByteBuf::from(vec![7u8; 32]));
    let mut body = Vec::new();
    for _ in 0..CASTS {
        body.clear();
        ciborium::into_writer(&payload, &mut body).unwrap();
        w.write_all(&(body.len() as u32).to_be_bytes())
            .await
            .unwrap();
        w.write_all(&body).await.unwrap();
    }
    w.flush().await.unwrap();
    reader.await;
    CASTS as f64 / start.elapsed().as_secs_f64()
}

async fn remote_casts(remote: &Pid<Sink>, local: &Pid<Sink>) -> f64 {
    let before = local.received().await.unwrap();
    let payload = ByteBuf::from(vec![7u8; 32]);
    let start = Instant::now();
    for i in 0..CASTS {
        remote.take(payload.clone()).unwrap();
        if i % 4096 == 0 {
            // Let the writer and the other node run, as a sender that is a process would.
            actors::rt::yield_now().await;
        }
    }
    while local.received().await.unwrap() < before + CASTS {
        actors::rt::sleep(Duration::from_micros(200)).await;
    }
    CASTS as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    // `-- call` or `-- cast` runs only that part; `-- onlycast` runs our casts without the
    // baseline, for a profiler.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = move |part: &str| only.as_deref().is_none_or(|o| o == part);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("remote benchmarks over loopback: {cpus} CPU(s), median of {RUNS} runs");
    actors::rt::block_on(actors::rt::spawn(async move {
        let a = Node::builder("a@127.0.0.1:0")
            .cookie("bench")
            .start()
            .await
            .unwrap();
        let b = Node::builder("b@127.0.0.1:0")
            .cookie("bench")
            .start()
            .await
            .unwrap();
        a.connect(b.name()).await.unwrap();
        b.register("echo", b.spawn(Echo)).unwrap();
        let sink = b.spawn(Sink::default());
        b.register("sink", &sink).unwrap();
        let echo: Pid<Echo> = a.whereis_on("echo", b.name()).await.unwrap();
        let remote_sink: Pid<Sink> = a.whereis_on("sink", b.name()).await.unwrap();

        if wanted("call") {
            let (mut raw_med, mut raw_p99, mut med, mut p99) = (vec![], vec![], vec![], vec![]);
            for _ in 0..RUNS {
                let (m, p) = raw_tcp_ping_pong().await;
                raw_med.push(m);
                raw_p99.push(p);
                let (m, p) = remote_call(&echo).await;
                med.push(m);
                p99.push(p);
            }
            let (raw_med, raw_p99, med, p99) =
                (median(raw_med), median(raw_p99), median(med), median(p99));
            println!(
                "remote call round trip: median {med:>7.1} us  p99 {p99:>7.1} us   raw TCP ping-pong: median {raw_med:>6.1} us  p99 {raw_p99:>6.1} us   ratio {:.2}x",
                med / raw_med
            );
        }

        if wanted("onlycast") {
            // Ours alone, for a profiler.
            for _ in 0..RUNS {
                remote_casts(&remote_sink, &sink).await;
            }
        }
        if wanted("cast") {
            let (mut raw, mut ours) = (vec![], vec![]);
            for _ in 0..RUNS {
                raw.push(raw_cbor_stream().await);
                ours.push(remote_casts(&remote_sink, &sink).await);
            }
            let (raw, ours) = (median(raw), median(ours));
            println!(
                "remote one-way casts:   {:>7.2} M msgs/s                 raw CBOR stream: {:>6.2} M msgs/s                 ratio {:.2}x",
                ours / 1e6,
                raw / 1e6,
                ours / raw
            );
        }
        #[cfg(feature = "tls")]
        if std::env::args().any(|a| a == "tls") {
            let (c, d) = tls::pair().await;
            c.connect(d.name()).await.unwrap();
            d.register("echo", d.spawn(Echo)).unwrap();
            let sink = d.spawn(Sink::default());
            d.register("sink", &sink).unwrap();
            let echo: Pid<Echo> = c.whereis_on("echo", d.name()).await.unwrap();
            let remote_sink: Pid<Sink> = c.whereis_on("sink", d.name()).await.unwrap();
            let (mut med, mut p99, mut casts) = (vec![], vec![], vec![]);
            for _ in 0..RUNS {
                let (m, p) = remote_call(&echo).await;
                med.push(m);
                p99.push(p);
                casts.push(remote_casts(&remote_sink, &sink).await);
            }
            println!(
                "over TLS: call round trip median {:>7.1} us  p99 {:>7.1} us; one-way casts {:>6.2} M msgs/s",
                median(med),
                median(p99),
                median(casts) / 1e6
            );
        }
        a.shutdown().await;
        b.shutdown().await;
    }));
}

#[cfg(feature = "tls")]
mod tls {
    use actors_net::prelude::*;
    use actors_net::tls::Tls;
    use actors_net::tls::rustls::pki_types::PrivateKeyDer;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    /// Two nodes over mutual TLS, with certificates from a CA made for them.
    pub async fn pair() -> (Node, Node) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let mut nodes = Vec::new();
        for name in ["c", "d"] {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
                .unwrap()
                .signed_by(&key, &issuer)
                .unwrap();
            let tls = Tls::mutual(
                ca_cert.der().clone(),
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
            let node = Node::builder(&format!("{name}@127.0.0.1:0"))
                .cookie("bench")
                .transport(tls)
                .start()
                .await
                .unwrap();
            nodes.push(node);
        }
        let d = nodes.pop().unwrap();
        (nodes.pop().unwrap(), d)
    }
}
