//! ractor_cluster doing what `distbench` does, between two OS processes: round trips of 32
//! bytes through an RPC to an echo actor, and one-way casts of 32 bytes timed until an RPC
//! behind the last returns. The remote actor is found through a process group, as
//! ractor_cluster hands out remote actors.
//!
//! `ractor-compare serve <port>` prints `READY <port>` once listening there; `ractor-compare drive <port> [runs]` prints
//! its lines.

use std::time::{Duration, Instant};

use ractor::concurrency::sleep;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, call_t};
use ractor_cluster::{NodeServer, RactorClusterMessage};

const ROUND_TRIPS: usize = 20_000;
const CASTS: u64 = 1_000_000;
const GROUP: &str = "bench";

#[derive(RactorClusterMessage)]
enum BenchMsg {
    Take(Vec<u8>),
    #[rpc]
    Echo(Vec<u8>, RpcReplyPort<Vec<u8>>),
    #[rpc]
    Received(RpcReplyPort<u64>),
}

struct Bench;

impl Actor for Bench {
    type Msg = BenchMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<BenchMsg>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<BenchMsg>,
        msg: BenchMsg,
        received: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BenchMsg::Take(_) => *received += 1,
            BenchMsg::Echo(bytes, reply) => {
                let _ = reply.send(bytes);
            }
            BenchMsg::Received(reply) => {
                let _ = reply.send(*received);
            }
        }
        Ok(())
    }
}

async fn node(name: &str, port: u16) -> ActorRef<ractor_cluster::NodeServerMessage> {
    let server = NodeServer::new(
        port,
        "compare".into(),
        name.into(),
        "127.0.0.1".into(),
        None,
        None,
    );
    let (node, _) = Actor::spawn(None, server, ())
        .await
        .expect("the node starts");
    node
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") if args.len() >= 2 => serve(args[1].parse().expect("a port")).await,
        Some("drive") if args.len() >= 2 => {
            let runs = args.get(2).map_or(5, |r| r.parse().expect("runs"));
            drive(args[1].parse().expect("a port"), runs).await
        }
        _ => {
            eprintln!("usage: ractor-compare serve PORT | ractor-compare drive PORT [RUNS]");
            std::process::exit(2);
        }
    }
}

async fn serve(port: u16) {
    let _node = node("server", port).await;
    let (bench, _) = Actor::spawn(None, Bench, ()).await.expect("spawns");
    ractor::pg::join(GROUP.into(), vec![bench.get_cell()]);
    println!("READY {port}");
    std::future::pending::<()>().await;
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

async fn drive(port: u16, runs: usize) {
    let node = node("driver", 0).await;
    ractor_cluster::client_connect(&node, ("127.0.0.1", port))
        .await
        .expect("connects");
    let deadline = Instant::now() + Duration::from_secs(30);
    let cell = loop {
        assert!(
            Instant::now() < deadline,
            "the server's actor did not appear in group {GROUP} within 30 s"
        );
        if let Some(cell) = ractor::pg::get_members(&GROUP.to_string())
            .into_iter()
            .find(|c| !c.get_id().is_local())
        {
            break cell;
        }
        sleep(Duration::from_millis(10)).await;
    };
    let bench: ActorRef<BenchMsg> = cell.into();
    let payload = vec![7u8; 32];
    let (mut meds, mut p99s, mut rates) = (vec![], vec![], vec![]);
    for _ in 0..runs {
        let mut times = Vec::with_capacity(ROUND_TRIPS);
        for _ in 0..ROUND_TRIPS {
            let t = Instant::now();
            call_t!(bench, BenchMsg::Echo, 10_000, payload.clone()).expect("echoes");
            times.push(t.elapsed().as_nanos() as u64);
        }
        times.sort_unstable();
        let at = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize] as f64 / 1e3;
        meds.push(at(0.5));
        p99s.push(at(0.99));
        let start = Instant::now();
        for i in 0..CASTS {
            bench.cast(BenchMsg::Take(payload.clone())).expect("casts");
            if i % 4096 == 0 {
                tokio::task::yield_now().await;
            }
        }
        call_t!(bench, BenchMsg::Received, 120_000).expect("the sink answers");
        rates.push(CASTS as f64 / start.elapsed().as_secs_f64());
    }
    println!(
        "ractor      call round trip  median {:>7.1} us  p99 {:>7.1} us",
        median(meds),
        median(p99s)
    );
    println!(
        "ractor      one-way casts    {:>7.2} M msgs/s",
        median(rates) / 1e6
    );
}
