//! Faults: hostile bytes on the listening port, handshakes that stall, replay or lie, frames
//! too large, and nodes in other OS processes killed (`SIGKILL`), frozen (`SIGSTOP`) and
//! restarted under the same name.

use std::future::IntoFuture;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actors::dist::rt::io::{AsyncWrite, WriteExt};
use actors::rt::block_on;
use actors_integration::child::ChildNode;
use actors_integration::*;
use actors_net::prelude::*;
use actors_net::testing::handshake::{self, HandshakeError};
use actors_net::transport::{Tcp, Transport};

const WAIT: Duration = Duration::from_secs(10);
const BIN: &str = env!("CARGO_BIN_EXE_testnode");

/// Two connected nodes, and the proof that they still work.
async fn pair() -> (Node, Node, Pid<Counter>) {
    let nodes = cluster(2).await;
    let counter = nodes[1].spawn(Counter { n: 0 });
    nodes[1].register("c", &counter).unwrap();
    let remote = nodes[0].whereis_on("c", nodes[1].name()).await.unwrap();
    (nodes[0].clone(), nodes[1].clone(), remote)
}

#[test]
fn garbage_on_the_listening_port_is_refused_without_harm() {
    block_on(async {
        let (a, _b, remote) = pair().await;
        let mut raw = Tcp.dial(addr_of(a.name())).await.unwrap();
        raw.writer.write_all(&[0xab; 2048]).await.unwrap();
        assert!(closed_by_peer(&mut raw, WAIT).await, "the node hangs up");
        assert_eq!(remote.add(1).await, Ok(1), "the node serves everyone else");
    });
}

#[test]
fn an_oversized_length_prefix_is_refused_without_allocating() {
    block_on(async {
        let (a, _b, remote) = pair().await;
        let mut raw = Tcp.dial(addr_of(a.name())).await.unwrap();
        raw.writer.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        assert!(closed_by_peer(&mut raw, WAIT).await);
        assert_eq!(remote.add(1).await, Ok(1));
    });
}

#[test]
fn a_stalled_handshake_is_cut_at_its_deadline() {
    block_on(async {
        let a = Node::builder("a@127.0.0.1:0")
            .cookie(COOKIE)
            .handshake_timeout(Duration::from_millis(300))
            .start()
            .await
            .unwrap();
        let mut raw = Tcp.dial(addr_of(a.name())).await.unwrap();
        let started = Instant::now();
        assert!(closed_by_peer(&mut raw, WAIT).await);
        assert!(started.elapsed() >= Duration::from_millis(250));
    });
}

#[test]
fn a_wrong_cookie_or_version_is_refused() {
    block_on(async {
        let (a, _b, remote) = pair().await;
        let me = actors::NodeId::new("liar@127.0.0.1:1", 7);
        let mut s = Tcp.dial(addr_of(a.name())).await.unwrap();
        let r = handshake::initiate(&mut s, &me, b"not the cookie", a.name()).await;
        // The node checks the proof first and hangs up, so the liar never sees an answer.
        assert!(r.is_err(), "{r:?}");
        assert!(!a.nodes().contains(&me.name().to_string()));
        assert_eq!(remote.add(1).await, Ok(1));
    });
}

#[test]
fn a_duplicate_node_name_is_refused() {
    block_on(async {
        let (a, b, remote) = pair().await;
        // Somebody who knows the cookie claims to be b, which is connected.
        let impostor = actors::NodeId::new(b.name(), b.id().creation().wrapping_add(1));
        let mut s = Tcp.dial(addr_of(a.name())).await.unwrap();
        let r = handshake::initiate(&mut s, &impostor, COOKIE.as_bytes(), a.name()).await;
        assert_eq!(r.map(|_| ()), Err(HandshakeError::Alive));
        assert_eq!(remote.add(1).await, Ok(1), "the real b is still connected");
    });
}

/// A writer that keeps a copy of everything written.
struct Tee {
    inner: Box<dyn AsyncWrite + Send + Unpin>,
    copy: Arc<Mutex<Vec<u8>>>,
}

impl AsyncWrite for Tee {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.copy.lock().unwrap().extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[test]
fn a_replayed_handshake_is_refused() {
    block_on(async {
        let a = start("a").await;
        // A genuine handshake, recorded byte for byte.
        let me = actors::NodeId::new("recorded@127.0.0.1:1", 5);
        let copy = Arc::new(Mutex::new(Vec::new()));
        let mut s = Tcp.dial(addr_of(a.name())).await.unwrap();
        s.writer = Box::new(Tee {
            inner: s.writer,
            copy: copy.clone(),
        });
        handshake::initiate(&mut s, &me, COOKIE.as_bytes(), a.name())
            .await
            .expect("the genuine handshake succeeds");
        // The node may finish its side a moment after ours: seen up first, then closed, so
        // that "gone" below is not read before it was ever there.
        until("the recorded node to be up", WAIT, || async {
            a.nodes().contains(&me.name().to_string())
        })
        .await;
        (s.close)();
        until("the recorded node to be gone", WAIT, || async {
            !a.nodes().contains(&me.name().to_string())
        })
        .await;
        // The same bytes again: the node's nonce is new, so the recorded proof fails.
        let recorded = copy.lock().unwrap().clone();
        let mut replay = Tcp.dial(addr_of(a.name())).await.unwrap();
        replay.writer.write_all(&recorded).await.unwrap();
        assert!(closed_by_peer(&mut replay, WAIT).await);
        assert!(
            !a.nodes().contains(&me.name().to_string()),
            "never connected"
        );
    });
}

#[test]
fn an_oversized_frame_closes_only_that_connection() {
    block_on(async {
        let a = Node::builder("a@127.0.0.1:0")
            .cookie(COOKIE)
            .max_frame(64 * 1024)
            .start()
            .await
            .unwrap();
        let (_x, b, remote) = pair().await;
        a.connect(b.name()).await.unwrap();
        let me = actors::NodeId::new("rogue@127.0.0.1:1", 9);
        let mut s = Tcp.dial(addr_of(a.name())).await.unwrap();
        handshake::initiate(&mut s, &me, COOKIE.as_bytes(), a.name())
            .await
            .unwrap();
        until("the rogue to be connected", WAIT, || async {
            a.nodes().contains(&me.name().to_string())
        })
        .await;
        s.writer
            .write_all(&(1u32 << 20).to_be_bytes())
            .await
            .unwrap();
        assert!(closed_by_peer(&mut s, WAIT).await);
        until("the rogue to be gone", WAIT, || async {
            !a.nodes().contains(&me.name().to_string())
        })
        .await;
        assert!(a.nodes().contains(&b.name().to_string()));
        assert_eq!(remote.add(1).await, Ok(1));
    });
}

#[test]
fn a_killed_node_is_seen_down_within_a_second() {
    block_on(async {
        let a = start("a").await;
        let mut child = join_child(BIN, "child@127.0.0.1:0", &a).await;
        let remote: Pid<Counter> = a.whereis_on("counter", &child.name).await.unwrap();
        assert_eq!(remote.add(2).await, Ok(2));
        let mut events = a.monitor_nodes();
        let started = Instant::now();
        child.kill();
        assert_eq!(
            next_event(&mut events, WAIT).await,
            NodeEvent::Down(child.name.clone())
        );
        let seen = started.elapsed();
        assert!(seen < Duration::from_secs(1), "seen after {seen:?}");
        assert_eq!(remote.get().await, Err(CallError::NoConnection));
    });
}

#[test]
fn a_frozen_node_is_seen_down_within_the_heartbeat_bound() {
    block_on(async {
        let a = start("a").await;
        let mut child = join_child(BIN, "frozen@127.0.0.1:0", &a).await;
        let remote: Pid<Counter> = a.whereis_on("counter", &child.name).await.unwrap();
        let mut events = a.monitor_nodes();
        let started = Instant::now();
        child.freeze();
        // A call to a frozen node waits: nothing tells it fails until the heartbeat does.
        let call =
            actors::rt::spawn(async move { remote.get().timeout(Duration::from_secs(30)).await });
        assert_eq!(
            next_event(&mut events, WAIT).await,
            NodeEvent::Down(child.name.clone())
        );
        let seen = started.elapsed();
        // Default heartbeat: 500 ms x 5 misses, counted from the last frame received, which
        // can be up to one interval before the freeze: 1.5 to 3 s.
        assert!(
            seen >= Duration::from_secs(1),
            "seen after {seen:?}: not by the heartbeat"
        );
        assert!(seen < Duration::from_secs(4), "seen after {seen:?}");
        assert_eq!(call.await, Err(CallError::NoConnection));
        child.thaw();
    });
}

#[test]
fn a_restarted_node_does_not_answer_old_pids() {
    block_on(async {
        let a = start("a").await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let name = format!("phoenix@127.0.0.1:{port}");
        let mut first = join_child(BIN, &name, &a).await;
        let old: Pid<Counter> = a.whereis_on("counter", &name).await.unwrap();
        assert_eq!(old.add(1).await, Ok(1));
        let mut events = a.monitor_nodes();
        first.kill();
        assert_eq!(
            next_event(&mut events, WAIT).await,
            NodeEvent::Down(name.clone())
        );

        let _second = ChildNode::start(BIN, &name, &[a.name()], &[]);
        assert_eq!(
            next_event(&mut events, WAIT).await,
            NodeEvent::Up(name.clone())
        );
        let new: Pid<Counter> = a.whereis_on("counter", &name).await.unwrap();
        assert_eq!(new.id(), old.id(), "the same id, in another run");
        assert_ne!(new, old);
        assert_eq!(
            old.get().await,
            Err(CallError::NoProc),
            "the old pid is dead"
        );
        assert_eq!(old.incr(), Ok(()));
        assert_eq!(
            new.get().await,
            Ok(0),
            "the cast to the old pid did not land here"
        );
    });
}

#[test]
fn a_slow_peer_holds_senders_back_instead_of_growing_memory() {
    block_on(async {
        // A long heartbeat, so that the frozen peer is not declared down during the test.
        let a = Node::builder("a@127.0.0.1:0")
            .cookie(COOKIE)
            .send_limit(64 * 1024)
            .heartbeat(Duration::from_secs(30), 5)
            .start()
            .await
            .unwrap();
        let mut child = join_child(BIN, "slow@127.0.0.1:0", &a).await;
        let remote: Pid<Counter> = a.whereis_on("counter", &child.name).await.unwrap();
        child.freeze();

        // Casts queue until the peer is far too far behind, then fail instead of growing.
        let payload = serde_bytes::ByteBuf::from(vec![1u8; 1024]);
        let mut sent = 0u64;
        let refused = loop {
            match remote.absorb(payload.clone()) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 200_000, "still queueing after {sent} KiB");
            if sent.is_multiple_of(256) {
                actors::rt::yield_now().await;
            }
        };
        assert_eq!(refused, SendError::Overloaded);

        // A call waits for room rather than adding to the queue.
        let mut call = std::pin::pin!(remote.get().timeout(Duration::from_secs(20)).into_future());
        assert!(futures::poll!(call.as_mut()).is_pending());

        // Once the peer runs again, everything queued is delivered and the call is answered.
        child.thaw();
        let total = call.await.expect("answered after the thaw");
        assert!(total > 0);
        until("every accepted cast to arrive", WAIT, || async {
            remote.get().await == Ok(sent * 1024)
        })
        .await;
        assert_eq!(remote.absorb(payload.clone()), Ok(()));
    });
}

#[test]
fn a_process_sending_to_a_slow_peer_waits_between_messages() {
    block_on(async {
        const LIMIT: usize = 64 * 1024;
        let a = Node::builder("a@127.0.0.1:0")
            .cookie(COOKIE)
            .send_limit(LIMIT)
            .heartbeat(Duration::from_secs(30), 5)
            .start()
            .await
            .unwrap();
        let mut child = join_child(BIN, "slow@127.0.0.1:0", &a).await;
        let remote: Pid<Counter> = a.whereis_on("counter", &child.name).await.unwrap();
        let relay = a.spawn(Relay::default());
        relay.forward_to(remote.clone()).await.unwrap();
        child.freeze();

        // Far more than the limit and the kernel's socket buffers hold.
        const N: u64 = 20_000;
        let payload = serde_bytes::ByteBuf::from(vec![1u8; 1024]);
        for _ in 0..N {
            relay.relay(payload.clone()).unwrap();
        }
        // The relay is held back once the connection passes its limit: the queue to the
        // peer stops just past it, instead of growing until casts fail.
        until("the connection to reach its limit", WAIT, || async {
            a.connection_info(&child.name)
                .is_some_and(|i| i.queued_bytes > LIMIT)
        })
        .await;
        for _ in 0..20 {
            let queued = a.connection_info(&child.name).unwrap().queued_bytes;
            assert!(queued <= LIMIT + 2 * 1100, "queued {queued} bytes");
            actors::rt::sleep(Duration::from_millis(10)).await;
        }

        child.thaw();
        assert_eq!(
            relay.counts().timeout(Duration::from_secs(30)).await,
            Ok((N, 0)),
            "every payload relayed, none refused"
        );
        until("everything to arrive", WAIT, || async {
            remote.get().await == Ok(N * 1024)
        })
        .await;
    });
}
