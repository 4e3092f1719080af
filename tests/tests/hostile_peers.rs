//! Peers that lie or push: a handshake that claims another node's name and stalls, frames
//! announced larger than what is sent, a peer list of thousands of names, and an
//! authenticated peer filling tables or taking locks in another node's name. Each is bounded,
//! and the node keeps serving everyone else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actors::dist::Origin;
use actors::dist::rt::io::{ReadExt, WriteExt};
use actors::rt::block_on;
use actors_integration::*;
use actors_net::global::{GlobalError, SERVER_NAME};
use actors_net::prelude::*;
use actors_net::testing::frame::{self, Control};
use actors_net::testing::handshake;
use actors_net::testing::{GlobalServer, Hold, Prepared};
use actors_net::transport::{Stream, Tcp, Transport};

const WAIT: Duration = Duration::from_secs(10);

/// An authenticated peer speaking raw frames to `to`.
async fn rogue(name: &str, to: &Node) -> (Stream, String) {
    let me = actors::NodeId::new(&format!("{name}@127.0.0.1:1"), 77);
    let mut s = Tcp.dial(addr_of(to.name())).await.unwrap();
    handshake::initiate(&mut s, &me, COOKIE.as_bytes(), to.name())
        .await
        .unwrap();
    let joined = me.name().to_string();
    until("the rogue to be connected", WAIT, || async {
        to.nodes().contains(&joined)
    })
    .await;
    (s, joined)
}

/// The first handshake message, as a node sends it.
#[derive(serde::Serialize)]
struct Hello {
    version: u32,
    name: String,
    creation: u32,
    nonce: serde_bytes::ByteBuf,
}

/// Opens a handshake with `node` claiming to be `name`, without knowing the cookie.
async fn claim(node: &Node, name: &str) -> Stream {
    let mut s = Tcp.dial(addr_of(node.name())).await.unwrap();
    let mut hello = Vec::new();
    let nonce = serde_bytes::ByteBuf::from(vec![7u8; 32]);
    let claimed = Hello {
        version: handshake::VERSION,
        name: name.to_string(),
        creation: 1,
        nonce,
    };
    actors::dist::encode(&claimed, &mut hello).unwrap();
    let mut out = (hello.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&hello);
    s.writer.write_all(&out).await.unwrap();
    s
}

#[test]
fn a_squatter_without_the_cookie_keeps_nobody_out() {
    block_on(async {
        let (a, b) = (start("a").await, start("b").await);
        // Somebody claims to be b on a, reads the challenge, and stalls: no proof comes.
        let mut squat = claim(&a, b.name()).await;
        let mut len = [0u8; 4];
        squat.reader.read_exact(&mut len).await.unwrap();
        let mut challenge = vec![0u8; u32::from_be_bytes(len) as usize];
        squat.reader.read_exact(&mut challenge).await.unwrap();
        // While it stalls, the real b connects to a, and a to b: nothing was reserved.
        b.connect(a.name()).await.expect("the real b gets in");
        assert!(a.nodes().contains(&b.name().to_string()));
        let (c, d) = (start("c").await, start("d").await);
        let _squat_d = claim(&c, d.name()).await;
        c.connect(d.name()).await.expect("c's own dial to d works");
        // The squatter's proof, when it comes, is wrong: it is cut, the real links stay.
        squat
            .writer
            .write_all(&[0, 0, 0, 3, 1, 2, 3])
            .await
            .unwrap();
        assert!(closed_by_peer(&mut squat, WAIT).await);
        assert!(a.nodes().contains(&b.name().to_string()));
        assert!(c.nodes().contains(&d.name().to_string()));
    });
}

#[test]
fn partial_frames_are_bounded_across_all_connections() {
    block_on(async {
        // Heartbeats slow enough that only the budget cuts a rogue (they send none): on a
        // loaded machine a heartbeat timeout could otherwise cut both before the check.
        let a = Node::builder("a@127.0.0.1:0")
            .cookie(COOKIE)
            .max_partial_frames(1 << 20)
            .heartbeat(Duration::from_secs(30), 5)
            .start()
            .await
            .unwrap();
        let b = start("b").await;
        b.connect(a.name()).await.unwrap();
        let (_, remote) = remote_counter(&a, &b, "c").await;
        // Two peers each announce a 4 MiB frame, four times the budget, and send 600 KiB.
        let (mut r1, n1) = rogue("r1", &a).await;
        let (mut r2, n2) = rogue("r2", &a).await;
        for r in [&mut r1, &mut r2] {
            r.writer
                .write_all(&(4u32 << 20).to_be_bytes())
                .await
                .unwrap();
        }
        let chunk = vec![0u8; 600 * 1024];
        let (w1, w2) = futures::join!(r1.writer.write_all(&chunk), r2.writer.write_all(&chunk));
        let _ = (w1, w2);
        // Together they would hold more than the budget: one of them is cut (usually the
        // other stays, holding what it sent; both are cut when each asks for its next chunk
        // before the first cut one has given its bytes back).
        until("one of the two to be cut", WAIT, || async {
            let nodes = a.nodes();
            !nodes.contains(&n1) || !nodes.contains(&n2)
        })
        .await;
        assert_eq!(remote.add(1).await, Ok(1), "the node serves everyone else");
    });
}

#[test]
fn a_peer_list_of_thousands_is_capped_and_dialled_a_few_at_a_time() {
    block_on(async {
        // A listener that accepts and never answers: each dial to it stalls in its handshake.
        let tarpit = actors::dist::rt::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let port = tarpit.local_addr().unwrap().port();
        // Connections the victim holds open to the tarpit now, and the most at once.
        let open = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (o, m) = (open.clone(), most.clone());
        actors::rt::spawn(async move {
            while let Ok((mut s, _)) = tarpit.accept().await {
                let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                let o = o.clone();
                actors::rt::spawn(async move {
                    let mut buf = [0u8; 256];
                    while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        let victim = Node::builder("v@127.0.0.1:0")
            .cookie(COOKIE)
            .handshake_timeout(Duration::from_millis(500))
            .max_peers(10)
            .start()
            .await
            .unwrap();
        let friend = start("friend").await;
        friend.connect(victim.name()).await.unwrap();
        let (mut r, _) = rogue("flood", &victim).await;
        let names: Vec<String> = (0..20_000)
            .map(|i| format!("t{i}@127.0.0.1:{port}"))
            .chain(["x".repeat(10_000), "no-address".into()])
            .collect();
        let mut cbor = Vec::new();
        actors::dist::encode(&Control::Peers(names), &mut cbor).unwrap();
        let mut out = Vec::new();
        frame::control(&mut out, &cbor);
        r.writer.write_all(&out).await.unwrap();
        until("the victim to start dialling", WAIT, || async {
            most.load(Ordering::SeqCst) > 0
        })
        .await;
        // Two peers connected, room for eight more: never more than eight dials at once,
        // as the stalled ones time out and the names are tried again.
        let watch = std::time::Instant::now() + Duration::from_millis(2500);
        while std::time::Instant::now() < watch {
            assert!(
                most.load(Ordering::SeqCst) <= 8,
                "at most eight dials at once"
            );
            actors::rt::sleep(Duration::from_millis(20)).await;
        }
        assert!(victim.nodes().contains(&friend.name().to_string()));
        // Once the stalled dials time out, a real node gets in.
        let late = start("late").await;
        until("a real node to connect", WAIT, || async {
            late.connect(victim.name()).await.is_ok()
        })
        .await;
    });
}

#[test]
fn an_authenticated_peer_cannot_grow_tables_without_bound_or_lock_for_another_node() {
    block_on(async {
        let mut nodes = Vec::new();
        for name in ["n0", "n1"] {
            nodes.push(
                Node::builder(&format!("{name}@127.0.0.1:0"))
                    .cookie(COOKIE)
                    .global_limits(10, 5)
                    .start()
                    .await
                    .unwrap(),
            );
        }
        nodes[1].connect(nodes[0].name()).await.unwrap();
        let (n0, n1) = (&nodes[0], &nodes[1]);
        // Names: ten fit, the eleventh is refused, and nothing is half done.
        for i in 0..10 {
            let pid = n1.spawn(Counter { n: 0 });
            n1.global().register(&format!("n{i}"), &pid).await.unwrap();
        }
        let extra = n1.spawn(Counter { n: 0 });
        assert_eq!(
            n1.global().register("one-too-many", &extra).await,
            Err(GlobalError::TableFull(10))
        );
        assert_eq!(n0.global().registered_names().len(), 10);
        assert!(n0.global().whereis_any("one-too-many").is_none());
        // Locks: one node's processes may hold five on each server.
        let (holder, _) = probe(n1);
        for i in 0..5 {
            n1.global()
                .set_lock(&format!("l{i}"), &holder)
                .await
                .unwrap();
        }
        assert_eq!(
            n1.global().set_lock("l5", &holder).await,
            Err(GlobalError::TableFull(5))
        );
        // n1 asks n0's server, over the wire, to take a lock in the name of n0's own server
        // (the holder of n0's registrations): refused, so n0 registers as before.
        let server: Pid<GlobalServer> = n1.whereis_on(SERVER_NAME, n0.name()).await.unwrap();
        let own: Pid<GlobalServer> = n0.whereis(SERVER_NAME).unwrap();
        let (taken, why) = server
            .lock(
                Origin::local(),
                vec!["global:name:target".into()],
                own.any(),
                0,
                None,
            )
            .await
            .unwrap();
        assert!(!taken);
        assert!(matches!(why, Some(GlobalError::NotLocal(_))));
        // And commits a name without its lock: refused too.
        let squatter = n1.spawn(Counter { n: 0 });
        assert_eq!(
            server
                .commit(Origin::local(), "target".into(), squatter.any())
                .await,
            Ok(Err(GlobalError::Busy("target".into())))
        );
        // Or takes the lock and binds in one message: refused as the lock alone is.
        let both = server
            .lock_commit(
                Origin::local(),
                Hold {
                    ids: vec!["global:name:target".into()],
                    holder: own.any(),
                    request: 0,
                },
                "target".into(),
                squatter.any(),
            )
            .await;
        assert!(matches!(
            both,
            Ok(Prepared::Refused(GlobalError::NotLocal(_)))
        ));
        assert!(n0.global().whereis_any("target").is_none());
        // Room is made again as locks and names are released.
        for i in 0..5 {
            n1.global()
                .del_lock(&format!("l{i}"), &holder)
                .await
                .unwrap();
        }
        n1.global().unregister("n0").await.unwrap();
        let target = n0.spawn(Counter { n: 0 });
        n0.global().register("target", &target).await.unwrap();
        assert_eq!(n1.global().whereis_any("target"), Some(target.any()));
    });
}
