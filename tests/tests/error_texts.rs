//! The errors a newcomer meets first say what happened and what to do about it.

use std::time::Duration;

use actors::rt::block_on;
use actors_integration::{COOKIE, Counter, Other, cluster, start};
use actors_net::prelude::*;
use actors_net::{ConnectError, LookupError, SpawnError};

/// A port nothing listens on: bound once to find it free, then let go.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

#[test]
fn connecting_to_a_node_that_is_not_up_asks_whether_it_is() {
    block_on(async {
        let a = start("a").await;
        let absent = format!("absent@127.0.0.1:{}", closed_port());
        let e = a.connect(&absent).await.expect_err("nothing listens there");
        assert!(matches!(e, ConnectError::Failed { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("cannot connect to {absent}: ")),
            "{text}"
        );
        assert!(text.contains("is the node up"), "{text}");
    });
}

#[test]
fn a_wrong_cookie_says_the_cookies_differ() {
    block_on(async {
        let a = start("a").await;
        let stranger = Node::builder("stranger@127.0.0.1:0")
            .cookie(format!("not-{COOKIE}"))
            .start()
            .await
            .expect("starts");
        // Whichever side sees the proof fail first, the dialler is told why.
        let e = stranger.connect(a.name()).await.expect_err("refused");
        let text = e.to_string();
        assert!(text.contains("the cookies differ"), "{text}");
        assert!(text.contains("same cookie"), "{text}");
    });
}

#[test]
fn a_taken_name_says_how_to_free_it() {
    block_on(async {
        let a = start("a").await;
        a.register("counter", a.spawn(Counter { n: 0 })).unwrap();
        let e = a
            .register("counter", a.spawn(Counter { n: 0 }))
            .expect_err("taken");
        assert_eq!(
            e.to_string(),
            "the name \"counter\" is taken by another process: unregister it first, or choose another"
        );
    });
}

#[test]
fn a_timed_out_call_names_the_timeout_and_how_to_set_it() {
    block_on(async {
        let a = start("a").await;
        let slow = a.spawn(Counter { n: 0 });
        let e = slow
            .slow(500)
            .timeout(Duration::from_millis(20))
            .await
            .expect_err("too slow");
        assert_eq!(e, CallError::Timeout);
        let text = e.to_string();
        assert!(
            text.contains("timeout") && text.contains(".timeout(..)"),
            "{text}"
        );
    });
}

#[test]
fn a_type_mismatch_between_nodes_names_both_sides() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        b.register("shared", b.spawn(Other)).unwrap();
        let e = a
            .whereis_on::<Counter>("shared", b.name())
            .await
            .expect_err("another type");
        assert!(matches!(e, LookupError::WrongType(_)), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("\"shared\""), "{text}");
        assert!(text.contains("another build"), "{text}");
    });
}

#[test]
fn a_spawn_the_node_does_not_allow_says_what_it_must_call() {
    block_on(async {
        let nodes = cluster(2).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let e = a
            .spawn_on(b.name(), Counter { n: 0 })
            .await
            .expect_err("not allowed");
        assert!(matches!(e, SpawnError::Refused(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("must call allow_spawn::<actors_integration::Counter>()"),
            "{text}"
        );
    });
}
