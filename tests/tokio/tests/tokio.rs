//! With feature `tokio`, handlers use tokio libraries (timers, sockets), and nodes start and
//! talk from a `#[tokio::main]` application: call, cast, monitor and node down across nodes.

use std::time::Duration;

use actors::prelude::*;
use actors_net::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Uses tokio inside its handlers.
#[actor]
#[derive(serde::Serialize, serde::Deserialize)]
struct Clock {
    ticks: u64,
}

#[actor]
impl Clock {
    /// Waits on tokio's timer.
    #[handle]
    async fn nap(&mut self, ms: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.ticks += 1;
        self.ticks
    }

    /// Asks a tokio TCP server on loopback and returns its answer.
    #[handle]
    async fn fetch(&self, port: u16) -> Result<String, String> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        stream.write_all(b"ping").await.map_err(|e| e.to_string())?;
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        Ok(answer)
    }

    #[handle(cast)]
    fn tick(&mut self) {
        self.ticks += 1;
    }

    #[handle]
    fn ticks(&self) -> u64 {
        self.ticks
    }
}

async fn node(name: &str) -> Node {
    Node::builder(&format!("{name}@127.0.0.1:0"))
        .cookie("tokio")
        .start()
        .await
        .expect("starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_use_tokio_and_nodes_run_from_tokio_main() {
    // A tokio TCP server the handler will ask.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4];
            if s.read_exact(&mut buf).await.is_ok() {
                let _ = s.write_all(b"pong from tokio").await;
            }
        }
    });

    let (a, b) = (node("a").await, node("b").await);
    b.connect(a.name()).await.unwrap();
    let clock = b.spawn(Clock { ticks: 0 });
    b.register("clock", &clock).unwrap();
    let far: Pid<Clock> = a.whereis_on("clock", b.name()).await.unwrap();

    // Calls whose handlers use tokio's timer and sockets, from another node.
    assert_eq!(far.nap(20).await, Ok(1));
    assert_eq!(far.fetch(port).await, Ok(Ok("pong from tokio".to_string())));
    // A cast, then a call behind it on the same connection.
    far.tick().unwrap();
    assert_eq!(far.ticks().await, Ok(2));
    // A remote monitor, and the node going down.
    let watch = a.monitor(&far);
    b.shutdown().await;
    let down = tokio::time::timeout(Duration::from_secs(10), watch)
        .await
        .expect("the monitor fires");
    // Stopped by its node's shutdown, or gone before the monitor reached it, or its node
    // lost: each says the process is no more.
    assert!(
        matches!(
            down.reason,
            ExitReason::NoConnection | ExitReason::Shutdown | ExitReason::NoProc
        ),
        "{:?}",
        down.reason
    );
    assert_eq!(far.ticks().await, Err(CallError::NoConnection));
    a.shutdown().await;
}

#[test]
fn without_a_tokio_runtime_of_its_own_an_app_still_gets_tokio_in_handlers() {
    actors::rt::block_on(async {
        let node = Node::local();
        let clock = node.spawn(Clock { ticks: 0 });
        assert_eq!(clock.nap(10).await, Ok(1));
    });
}
