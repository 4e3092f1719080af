//! Calls and casts both ways between Rust actors and Erlang gen_servers, their errors, and ordering.

use super::*;

#[test]
fn erlang_calls_and_casts_a_rust_actor() {
    if !actors_integration::erlang::present("erlang_calls_and_casts_a_rust_actor") {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let counter = node.spawn(Counter { n: 0 });
        node.register("counter", &counter).unwrap();
        let erl = ErlNode::start("calls", COOKIE, epmd, None);

        let call = |req: Term| Term::tuple([a("call"), rust_name("counter"), req]);
        let add5 = Term::tuple([a("add"), Term::Int(5)]);
        assert_eq!(drive(&node, &erl, call(add5)).await, Term::Int(5));
        // A cast, then a call behind it: the cast has landed.
        let cast = Term::tuple([a("cast"), rust_name("counter"), a("bump")]);
        assert_eq!(drive(&node, &erl, cast).await, a("ok"));
        assert_eq!(drive(&node, &erl, call(a("get"))).await, Term::Int(6));
        // A plain message of the same shape is a cast too.
        let send = Term::tuple([a("send"), rust_name("counter"), a("bump")]);
        drive(&node, &erl, send).await;
        assert_eq!(drive(&node, &erl, call(a("get"))).await, Term::Int(7));
        // A reply of several values is a tuple; a String a binary.
        let describe = Term::tuple([a("describe"), Term::binary("total")]);
        assert_eq!(
            drive(&node, &erl, call(describe)).await,
            Term::tuple([Term::binary("total"), Term::Int(7), a("true")])
        );
        // By pid as well as by name.
        let pid = node.beam().unwrap().erl_pid(&counter.any()).unwrap();
        let by_pid = Term::tuple([a("call"), Term::Pid(pid), a("get")]);
        assert_eq!(drive(&node, &erl, by_pid).await, Term::Int(7));
    });
}

#[test]
fn a_request_that_fits_no_handler_is_an_error_term_not_a_crash() {
    if !actors_integration::erlang::present(
        "a_request_that_fits_no_handler_is_an_error_term_not_a_crash",
    ) {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let counter = node.spawn(Counter { n: 1 });
        node.register("counter", &counter).unwrap();
        let erl = ErlNode::start("nohandler", COOKIE, epmd, None);
        let call = |req: Term| Term::tuple([a("call"), rust_name("counter"), req]);
        for bad in [
            a("nope"),
            Term::tuple([a("add"), Term::binary("five")]),
            Term::tuple([a("add")]),
            Term::Int(3),
        ] {
            let reply = drive(&node, &erl, call(bad.clone())).await;
            match reply {
                Term::Tuple(items) if items[0] == a("error") => {}
                other => panic!("{bad} got {other}, not {{error, _}}"),
            }
        }
        // Terms this side does not read (too deep), or no handler takes (a fun): dropped,
        // and the connection lives.
        let deep = Term::tuple([a("send_deep"), rust_name("counter"), Term::Int(10_000)]);
        assert_eq!(drive(&node, &erl, deep).await, a("ok"));
        let fun = Term::tuple([a("send_fun"), rust_name("counter")]);
        assert_eq!(drive(&node, &erl, fun).await, a("ok"));
        assert_eq!(drive(&node, &erl, call(a("get"))).await, Term::Int(1));
        // A call to a name nobody has: the caller's monitor says noproc.
        let missing = Term::tuple([a("call"), rust_name("missing"), a("get")]);
        assert_eq!(
            drive(&node, &erl, missing).await,
            Term::tuple([a("exit"), a("noproc")])
        );
        // The actor lived through it all.
        assert_eq!(counter.get().await, Ok(1));
    });
}

#[test]
fn rust_calls_an_erlang_gen_server() {
    if !actors_integration::erlang::present("rust_calls_an_erlang_gen_server") {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let erl = ErlNode::start("server", COOKIE, epmd, None);
        let beam = node.beam().unwrap();
        let kv = || BeamDest::name("kv", &erl.name);
        let old: Option<i64> = beam.call(kv(), &Kv::Put("a".into(), 1)).await.unwrap();
        assert_eq!(old, None);
        let old: Option<i64> = beam.call(kv(), &Kv::Put("a".into(), 2)).await.unwrap();
        assert_eq!(old, Some(1));
        beam.cast(kv(), &Kv::Put("b".into(), 3)).await.unwrap();
        beam.send(kv(), &Kv::Put("c".into(), 4)).await.unwrap();
        let b: Option<i64> = beam.call(kv(), &Kv::Get("b".into())).await.unwrap();
        let c: Option<i64> = beam.call(kv(), &Kv::Get("c".into())).await.unwrap();
        assert_eq!((b, c), (Some(3), Some(4)));
        assert_eq!(beam.nodes(), vec![erl.name.clone()]);

        // A reply of the wrong type is a typed error naming the term.
        let wrong: Result<String, _> = beam.call(kv(), &Kv::Get("a".into())).await;
        assert!(
            matches!(wrong, Err(BeamError::Term(ref m)) if m.contains('2')),
            "{wrong:?}"
        );
        // Too slow: a timeout, and the late reply is dropped.
        let slow: Result<Term, _> = beam
            .call_timeout(kv(), &Kv::Slow, Duration::from_millis(200))
            .await;
        assert_eq!(slow, Err(BeamError::Timeout));
        // No such name: noproc, at once.
        let missing: Result<Term, _> = beam
            .call(BeamDest::name("nobody", &erl.name), &Kv::Stop)
            .await;
        assert_eq!(missing, Err(BeamError::NoProc));
        // A server that stops while answering: its reply, then noproc.
        let stopped: Term = beam.call(kv(), &Kv::Stop).await.unwrap();
        assert_eq!(stopped, a("ok"));
        let gone: Result<Term, _> = beam.call(kv(), &Kv::Get("a".into())).await;
        assert_eq!(gone, Err(BeamError::NoProc));
        // No such node.
        let nowhere: Result<Term, _> = beam
            .call(BeamDest::name("kv", "nowhere@127.0.0.1"), &Kv::Stop)
            .await;
        assert!(
            matches!(nowhere, Err(BeamError::NoSuchNode(_))),
            "{nowhere:?}"
        );
    });
}

#[test]
fn a_wrong_cookie_is_refused_on_both_sides() {
    if !actors_integration::erlang::present("a_wrong_cookie_is_refused_on_both_sides") {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, "the-right-cookie").await;
        let epmd = node.beam().unwrap().epmd_port();
        // Erlang dials us with another cookie: refused, and it says pang.
        let mut erl = ErlNode::start(
            "cookie",
            "a-wrong-cookie",
            epmd,
            Some(&format!("io:format(\"~p~n\", [net_adm:ping('{RUST}')])")),
        );
        assert_eq!(erl.line(Duration::from_secs(20)).as_deref(), Some("pang"));
        // We dial it: refused, with a typed error.
        let err = node.beam().unwrap().connect(&erl.name).await.unwrap_err();
        assert!(matches!(err, BeamError::Handshake(..)), "{err:?}");
        assert!(node.beam().unwrap().nodes().is_empty());
    });
}

/// Counts `record` casts and how many came out of order.
#[actor]
struct Recorder {
    next: u64,
    out_of_order: u64,
}

#[actor]
impl Recorder {
    #[handle(cast)]
    fn record(&mut self, i: u64) {
        if i != self.next + 1 {
            self.out_of_order += 1;
        }
        self.next = i;
    }
    #[handle]
    fn report(&self) -> (u64, u64) {
        (self.next, self.out_of_order)
    }
}

#[test]
fn a_hundred_thousand_messages_each_way_arrive_in_order() {
    if !actors_integration::erlang::present("a_hundred_thousand_messages_each_way_arrive_in_order")
    {
        return;
    }
    const N: u64 = 100_000;
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let erl = ErlNode::start("flood", COOKIE, epmd, None);
        let beam = node.beam().unwrap();
        // Erlang to Rust.
        let recorder = node.spawn(Recorder {
            next: 0,
            out_of_order: 0,
        });
        node.register("recorder", &recorder).unwrap();
        let flood = Term::tuple([a("flood"), rust_name("recorder"), Term::Int(N as i128)]);
        assert_eq!(drive(&node, &erl, flood).await, a("ok"));
        actors_integration::until(
            "every message from Erlang",
            Duration::from_secs(60),
            || async { recorder.report().await.is_ok_and(|(n, _)| n == N) },
        )
        .await;
        assert_eq!(recorder.report().await, Ok((N, 0)));
        // Rust to Erlang.
        let sink = match drive(&node, &erl, a("spawn_sink")).await {
            Term::Pid(p) => p,
            other => panic!("expected a pid, got {other}"),
        };
        for i in 1..=N {
            beam.send(&sink, &(actors::etf::Atom::from("n"), i))
                .await
                .unwrap();
        }
        actors_integration::until(
            "every message from Rust",
            Duration::from_secs(60),
            || async {
                let report: Result<(u64, u64), _> = beam.call(&sink, &a("report")).await;
                report.is_ok_and(|(n, _)| n == N)
            },
        )
        .await;
        let report: (u64, u64) = beam.call(&sink, &a("report")).await.unwrap();
        assert_eq!(report, (N, 0));
    });
}
