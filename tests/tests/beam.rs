//! A Rust node in a real Erlang cluster: `erl` nodes call Rust actors with `gen_server:call`,
//! Rust calls Erlang `gen_server`s, monitors cross the border, and a wrong cookie is refused
//! on both sides. Needs Erlang/OTP (`apt-get install erlang-base`).

use std::time::Duration;

use actors::etf::Term;
use actors::{Exit, ExitReason};
use actors_integration::erlang::ErlNode;
use actors_net::beam::{BeamDest, BeamError};
use actors_net::prelude::*;
use serde::{Deserialize, Serialize};

const COOKIE: &str = "beam-test-cookie";
const RUST: &str = "rust@127.0.0.1";

#[actor]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }
    #[handle]
    fn get(&self) -> u64 {
        self.n
    }
    #[handle(cast)]
    fn bump(&mut self) {
        self.n += 1;
    }
    #[handle]
    fn describe(&self, label: String) -> (String, u64, bool) {
        (label, self.n, self.n > 0)
    }
}

/// A Rust node that speaks to BEAM nodes, registered with the EPMD on `epmd` (0: an EPMD of
/// its own on a free port, which `Beam::epmd_port` tells).
async fn rust_node(name: &str, epmd: u16, cookie: &str) -> Node {
    Node::builder(&format!("{name}:0"))
        .cookie(cookie)
        .beam(name)
        .epmd_port(epmd)
        .start()
        .await
        .expect("the node starts")
}

/// What the Erlang driver does on request: `{Command, ..}` to `{driver, Node}`.
async fn drive(node: &Node, erl: &ErlNode, command: Term) -> Term {
    node.beam()
        .unwrap()
        .call_timeout(
            BeamDest::name("driver", &erl.name),
            &command,
            Duration::from_secs(10),
        )
        .await
        .expect("the driver answers")
}

fn a(name: &str) -> Term {
    Term::atom(name)
}

fn rust_name(name: &str) -> Term {
    Term::tuple([a(name), a(RUST)])
}

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
        // Terms this side does not read (too deep, a fun): dropped, and the connection lives.
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

#[derive(Serialize, Deserialize)]
enum Kv {
    Put(String, i64),
    Get(String),
    Stop,
    Slow,
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
fn an_erlang_monitor_of_a_rust_process_fires_with_the_reason() {
    if !actors_integration::erlang::present(
        "an_erlang_monitor_of_a_rust_process_fires_with_the_reason",
    ) {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let erl = ErlNode::start("monitors", COOKIE, epmd, None);
        let counter = node.spawn(Counter { n: 0 });
        node.register("watched", &counter).unwrap();
        let wait = Term::tuple([a("monitor_wait"), rust_name("watched"), Term::Int(10_000)]);
        let beam = node.beam().unwrap();
        let driver = BeamDest::name("driver", &erl.name);
        let watching = beam.call_timeout::<Term>(driver.clone(), &wait, Duration::from_secs(15));
        let kill = async {
            // The monitor is in place once the process shows one more monitor.
            actors_integration::until("the Erlang monitor", Duration::from_secs(10), || async {
                let info = node.process_info(counter.any()).await;
                info.is_some_and(|i| i.monitored_by > 0)
            })
            .await;
            node.kill(&counter);
        };
        let (down, ()) = futures::join!(watching, kill);
        assert_eq!(down.unwrap(), Term::tuple([a("down"), a("killed")]));
        // A process that is already gone: noproc at once.
        let again = beam
            .call_timeout::<Term>(driver, &wait, Duration::from_secs(15))
            .await;
        assert_eq!(again.unwrap(), Term::tuple([a("down"), a("noproc")]));
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

/// Records the exit signals it traps.
#[actor]
struct Linker {
    exits: Vec<ExitReason>,
}

#[actor]
impl Linker {
    #[handle]
    fn link_to(&mut self, pid: actors::etf::ErlPid, ctx: &mut Ctx<Self>) -> bool {
        let Ok(beam) = ctx.node().beam() else {
            return false;
        };
        let Some(pid) = beam.pid(&pid) else {
            return false;
        };
        ctx.trap_exit(true);
        ctx.link(pid);
        true
    }
    #[handle]
    fn unlink_from(&mut self, pid: actors::etf::ErlPid, ctx: &mut Ctx<Self>) {
        if let Some(pid) = ctx.node().beam().ok().and_then(|b| b.pid(&pid)) {
            ctx.unlink(pid);
        }
    }
    #[handle]
    fn exits(&self) -> Vec<ExitReason> {
        self.exits.clone()
    }
    fn on_exit(&mut self, exit: Exit) {
        self.exits.push(exit.reason);
    }
}

async fn waiter(node: &Node, erl: &ErlNode) -> actors::etf::ErlPid {
    match drive(node, erl, a("spawn_waiter")).await {
        Term::Pid(p) => p,
        other => panic!("expected a pid, got {other}"),
    }
}

#[test]
fn a_rust_monitor_or_link_on_an_erlang_process_gets_its_reason() {
    if !actors_integration::erlang::present(
        "a_rust_monitor_or_link_on_an_erlang_process_gets_its_reason",
    ) {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let erl = ErlNode::start("watched", COOKIE, epmd, None);
        let beam = node.beam().unwrap();
        for (reason, expect) in [
            (a("normal"), ExitReason::Normal),
            (
                Term::tuple([a("shutdown"), a("asked")]),
                ExitReason::Shutdown,
            ),
            (a("boom"), ExitReason::Error("boom".into())),
        ] {
            let erl_pid = waiter(&node, &erl).await;
            let pid = beam.pid(&erl_pid).unwrap();
            let down = node.monitor(pid);
            // The monitor is in place before the exit: the control messages keep their order.
            beam.send(erl_pid, &Term::tuple([a("exit_with"), reason]))
                .await
                .unwrap();
            let down = actors::rt::timeout(Duration::from_secs(10), down)
                .await
                .unwrap();
            assert_eq!(down.reason, expect);
        }
        // Monitoring a process that is gone: noproc.
        let erl_pid = waiter(&node, &erl).await;
        beam.send(erl_pid.clone(), &Term::tuple([a("exit_with"), a("normal")]))
            .await
            .unwrap();
        let gone = beam.pid(&erl_pid).unwrap();
        actors_integration::until("the waiter gone", Duration::from_secs(10), || async {
            let probe = node.monitor(gone.clone());
            matches!(actors::rt::timeout(Duration::from_millis(200), probe).await, Ok(d) if d.reason == ExitReason::NoProc)
        })
        .await;

        // A link: the trapping Rust process gets the Erlang process's reason.
        let linker = node.spawn(Linker { exits: vec![] });
        let erl_pid = waiter(&node, &erl).await;
        assert_eq!(linker.link_to(erl_pid.clone()).await, Ok(true));
        let rust_pid = Term::Pid(beam.erl_pid(&linker.any()).unwrap());
        actors_integration::until(
            "the link on the Erlang side",
            Duration::from_secs(10),
            || {
                let check = Term::tuple([a("linked_to"), rust_pid.clone()]);
                let (node, erl) = (&node, &erl);
                async move { drive(node, erl, check).await == a("true") }
            },
        )
        .await;
        beam.send(erl_pid, &Term::tuple([a("exit_with"), a("boom")]))
            .await
            .unwrap();
        actors_integration::until("the exit signal", Duration::from_secs(10), || async {
            linker.exits().await == Ok(vec![ExitReason::Error("boom".into())])
        })
        .await;

        // Linked again and unlinked (UNLINK_ID): the Erlang side lets go too.
        let erl_pid = waiter(&node, &erl).await;
        assert_eq!(linker.link_to(erl_pid.clone()).await, Ok(true));
        let linked = |on: bool| {
            let check = Term::tuple([a("linked_to"), rust_pid.clone()]);
            let (node, erl) = (&node, &erl);
            async move { (drive(node, erl, check).await == a("true")) == on }
        };
        actors_integration::until("linked", Duration::from_secs(10), || linked(true)).await;
        linker.unlink_from(erl_pid).await.unwrap();
        actors_integration::until(
            "unlinked on the Erlang side",
            Duration::from_secs(10),
            || linked(false),
        )
        .await;
    });
}

#[test]
fn an_erlang_link_to_a_rust_process_brings_its_exit_reason() {
    if !actors_integration::erlang::present(
        "an_erlang_link_to_a_rust_process_brings_its_exit_reason",
    ) {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let erl = ErlNode::start("linking", COOKIE, epmd, None);
        let beam = node.beam().unwrap();
        let counter = node.spawn(Counter { n: 0 });
        let rust_pid = Term::Pid(beam.erl_pid(&counter.any()).unwrap());
        let wait = Term::tuple([a("link_and_wait"), rust_pid, Term::Int(10_000)]);
        let driver = BeamDest::name("driver", &erl.name);
        let linked = beam.call_timeout::<Term>(driver, &wait, Duration::from_secs(15));
        let exit = async {
            actors_integration::until("the Erlang link", Duration::from_secs(10), || async {
                let info = node.process_info(counter.any()).await;
                info.is_some_and(|i| !i.links.is_empty())
            })
            .await;
            node.exit(&counter, ExitReason::Error("worn out".into()));
        };
        let (got, ()) = futures::join!(linked, exit);
        assert_eq!(
            got.unwrap(),
            Term::tuple([
                a("exit"),
                Term::tuple([a("error"), Term::binary("worn out")])
            ])
        );
    });
}

#[test]
fn a_killed_erlang_node_breaks_monitors_and_links_with_noconnection() {
    if !actors_integration::erlang::present(
        "a_killed_erlang_node_breaks_monitors_and_links_with_noconnection",
    ) {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let mut erl = ErlNode::start("killed", COOKIE, epmd, None);
        let beam = node.beam().unwrap();
        let erl_pid = waiter(&node, &erl).await;
        let pid = beam.pid(&erl_pid).unwrap();
        let down = node.monitor(pid);
        let linker = node.spawn(Linker { exits: vec![] });
        let other = waiter(&node, &erl).await;
        assert_eq!(linker.link_to(other).await, Ok(true));
        let calling: Result<Term, _> = {
            let slow = beam.call_timeout::<Term>(
                BeamDest::name("kv", &erl.name),
                &Kv::Slow,
                Duration::from_secs(10),
            );
            let kill = async {
                // The call is on its way; the node dies under it.
                actors_integration::until("the link in place", Duration::from_secs(10), || async {
                    let info = node.process_info(linker.any()).await;
                    info.is_some_and(|i| !i.links.is_empty())
                })
                .await;
                erl.kill();
            };
            futures::join!(slow, kill).0
        };
        assert_eq!(calling, Err(BeamError::NoConnection));
        let down = actors::rt::timeout(Duration::from_secs(10), down)
            .await
            .unwrap();
        assert_eq!(down.reason, ExitReason::NoConnection);
        actors_integration::until("the link broken", Duration::from_secs(10), || async {
            linker.exits().await == Ok(vec![ExitReason::NoConnection])
        })
        .await;
        assert!(beam.nodes().is_empty());
    });
}

/// A peer that speaks Erlang's handshake by hand, then sends what it likes.
mod fake {
    use actors::dist::rt::io::{ReadExt, WriteExt};
    use actors::dist::rt::net::TcpStream;
    use md5::{Digest, Md5};

    /// The flags a node requires of its peers.
    const FLAGS: u64 = 0x4 | 0x100 | 0x800 | 0x10000 | 0x20000 | 0x40000 | 0x100_0000;

    pub async fn send2(s: &mut TcpStream, body: &[u8]) {
        let mut p = (body.len() as u16).to_be_bytes().to_vec();
        p.extend_from_slice(body);
        s.write_all(&p).await.unwrap();
    }

    pub async fn read2(s: &mut TcpStream) -> Option<Vec<u8>> {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.ok()?;
        let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut body).await.ok()?;
        Some(body)
    }

    fn digest(cookie: &str, challenge: u32) -> Vec<u8> {
        let mut md5 = Md5::new();
        md5.update(cookie.as_bytes());
        md5.update(challenge.to_string().as_bytes());
        md5.finalize().to_vec()
    }

    /// Dials the node's BEAM port as `name` and answers its challenge with `cookie`; the
    /// stream if the node accepted.
    pub async fn connect(port: u16, name: &str, cookie: &str) -> Option<TcpStream> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut hello = vec![b'N'];
        hello.extend_from_slice(&FLAGS.to_be_bytes());
        hello.extend_from_slice(&7u32.to_be_bytes());
        hello.extend_from_slice(&(name.len() as u16).to_be_bytes());
        hello.extend_from_slice(name.as_bytes());
        send2(&mut s, &hello).await;
        let status = read2(&mut s).await?;
        if status == b"salive" {
            // A connection of ours stands there already: this one replaces it.
            send2(&mut s, b"strue").await;
        } else {
            assert_eq!(status, b"sok");
        }
        let challenge = read2(&mut s).await?;
        let theirs = u32::from_be_bytes(challenge[9..13].try_into().unwrap());
        let mut reply = vec![b'r'];
        reply.extend_from_slice(&1234u32.to_be_bytes());
        reply.extend_from_slice(&digest(cookie, theirs));
        send2(&mut s, &reply).await;
        let ack = read2(&mut s).await?;
        assert_eq!(
            ack[1..],
            digest(cookie, 1234)[..],
            "the node proves the cookie too"
        );
        Some(s)
    }

    /// Sends one packet with a four-byte length.
    pub async fn send4(s: &mut TcpStream, body: &[u8]) {
        let mut p = (body.len() as u32).to_be_bytes().to_vec();
        p.extend_from_slice(body);
        s.write_all(&p).await.unwrap();
    }

    /// True once the node closed the connection (within `limit`); ticks are read past.
    pub async fn closed(s: &mut TcpStream, limit: std::time::Duration) -> bool {
        let read = async {
            let mut buf = [0u8; 256];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return true,
                    Ok(_) => {}
                }
            }
        };
        actors::rt::timeout(limit, read).await.unwrap_or(false)
    }
}

#[test]
fn a_hostile_beam_peer_is_cut_off_without_harm() {
    use actors::etf::{Atom, ErlPid, encode};
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let counter = node.spawn(Counter { n: 0 });
        node.register("counter", &counter).unwrap();
        let port = node.beam().unwrap().port();
        let limit = Duration::from_secs(5);

        // A wrong cookie: no connection.
        assert!(
            fake::connect(port, "liar@127.0.0.1", "wrong")
                .await
                .is_none()
        );
        // A name packet claiming more than a name can be: cut off before the challenge.
        let mut s = actors::dist::rt::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        actors::dist::rt::io::WriteExt::write_all(&mut s, &[0xff, 0xff, b'N'])
            .await
            .unwrap();
        assert!(fake::closed(&mut s, limit).await);

        let me = ErlPid {
            node: Atom::from("fake@127.0.0.1"),
            id: 1,
            serial: 0,
            creation: 7,
        };
        let reg_send = |message: &[u8]| {
            let control = Term::tuple([Term::Int(6), Term::Pid(me.clone()), a(""), a("counter")]);
            let mut p = vec![112];
            p.extend_from_slice(&encode(&control));
            p.extend_from_slice(message);
            p
        };
        // A packet claiming 4 GiB: cut off, nothing allocated for it.
        let mut s = fake::connect(port, "fake@127.0.0.1", COOKIE).await.unwrap();
        actors::dist::rt::io::WriteExt::write_all(&mut s, &[0xff, 0xff, 0xff, 0xff])
            .await
            .unwrap();
        assert!(fake::closed(&mut s, limit).await);
        // A control message that is not a term: cut off.
        let mut s = fake::connect(port, "fake@127.0.0.1", COOKIE).await.unwrap();
        fake::send4(&mut s, &[112, 131, 108, 255, 255, 255, 255]).await;
        assert!(fake::closed(&mut s, limit).await);
        // A message nested far too deep, then a good one: the first dropped, the second
        // delivered, the connection kept.
        let mut s = fake::connect(port, "fake@127.0.0.1", COOKIE).await.unwrap();
        let mut deep = vec![131];
        for _ in 0..50_000 {
            deep.extend_from_slice(&[104, 1]);
        }
        deep.push(106);
        fake::send4(&mut s, &reg_send(&deep)).await;
        fake::send4(&mut s, &reg_send(&encode(&a("bump")))).await;
        actors_integration::until("the good cast", limit, || async {
            counter.get().await == Ok(1)
        })
        .await;
        assert!(!fake::closed(&mut s, Duration::from_millis(100)).await);
        assert_eq!(
            node.beam().unwrap().nodes(),
            vec!["fake@127.0.0.1".to_string()]
        );
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

#[test]
fn rust_and_erlang_processes_share_pg_groups() {
    if !actors_integration::erlang::present("rust_and_erlang_processes_share_pg_groups") {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let mut erl = ErlNode::start("groups", COOKIE, epmd, None);
        let beam = node.beam().unwrap();
        beam.connect(&erl.name).await.unwrap();
        let groups = beam.groups().unwrap();
        let workers = actors::etf::Atom::from("workers");
        let limit = Duration::from_secs(10);
        let erl_members = || {
            let ask = Term::tuple([a("pg_members"), a("workers")]);
            let (node, erl) = (&node, &erl);
            async move { drive(node, erl, ask).await }
        };

        // A Rust process joins: Erlang's pg:get_members lists it.
        let counter = node.spawn(Counter { n: 0 });
        let rust_pid = beam.erl_pid(&counter.any()).unwrap();
        groups.join(&workers, &counter).await.unwrap();
        actors_integration::until("Erlang lists the Rust member", limit, || async {
            erl_members().await == Term::List(vec![Term::Pid(rust_pid.clone())])
        })
        .await;

        // An Erlang process joins: Rust lists it beside its own.
        let erl_member = match drive(&node, &erl, Term::tuple([a("pg_join"), a("workers")])).await {
            Term::Pid(p) => p,
            other => panic!("expected a pid, got {other}"),
        };
        actors_integration::until("Rust lists the Erlang member", limit, || async {
            let members = groups.members(&workers).await.unwrap();
            members.len() == 2 && members.contains(&erl_member) && members.contains(&rust_pid)
        })
        .await;

        // The scope server is killed: restarted under the system supervisor, it keeps the
        // local members, and both sides list everyone again.
        let scope = node.whereis_any("pg").unwrap();
        node.kill(scope.clone());
        actors_integration::until("a new scope server", limit, || async {
            node.whereis_any("pg").is_some_and(|p| p != scope)
        })
        .await;
        let groups = beam.groups().unwrap();
        actors_integration::until("both sides list both members again", limit, || async {
            let here = groups.members(&workers).await.unwrap_or_default();
            let there = erl_members().await;
            here.len() == 2
                && here.contains(&erl_member)
                && matches!(there, Term::List(ref l) if l.contains(&Term::Pid(rust_pid.clone())))
        })
        .await;

        // It ends: gone here.
        beam.send(&erl_member, &Term::tuple([a("exit_with"), a("normal")]))
            .await
            .unwrap();
        actors_integration::until("the Erlang member gone", limit, || async {
            groups.members(&workers).await.unwrap() == vec![rust_pid.clone()]
        })
        .await;

        // The Rust member leaves, joins again, and dies: gone there each time.
        groups.leave(&workers, &counter).await.unwrap();
        assert_eq!(
            groups.leave(&workers, &counter).await,
            Err(BeamError::NotJoined)
        );
        actors_integration::until("Erlang drops the Rust member", limit, || async {
            erl_members().await == Term::List(vec![])
        })
        .await;
        groups.join(&workers, &counter).await.unwrap();
        actors_integration::until("the Rust member back", limit, || async {
            erl_members().await == Term::List(vec![Term::Pid(rust_pid.clone())])
        })
        .await;
        node.kill(&counter);
        actors_integration::until("Erlang drops the dead member", limit, || async {
            erl_members().await == Term::List(vec![])
        })
        .await;

        // The Erlang node dies: its members are gone here.
        let erl_member = match drive(&node, &erl, Term::tuple([a("pg_join"), a("workers")])).await {
            Term::Pid(p) => p,
            other => panic!("expected a pid, got {other}"),
        };
        actors_integration::until("the new Erlang member", limit, || async {
            groups.members(&workers).await.unwrap() == vec![erl_member.clone()]
        })
        .await;
        erl.kill();
        actors_integration::until("members of a dead node gone", limit, || async {
            groups.members(&workers).await.unwrap().is_empty()
        })
        .await;
    });
}

#[test]
fn a_killed_rust_node_is_seen_down_by_erlang() {
    if !actors_integration::erlang::present("a_killed_rust_node_is_seen_down_by_erlang") {
        return;
    }
    actors::rt::block_on(async {
        // This node serves the EPMD, so that it outlives the child that is killed.
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let child_name = "child@127.0.0.1";
        let mut child = actors_integration::child::ChildNode::start(
            env!("CARGO_BIN_EXE_testnode"),
            "child@127.0.0.1:0",
            &[],
            &[
                "--cookie",
                COOKIE,
                "--beam",
                child_name,
                "--epmd",
                &epmd.to_string(),
            ],
        );
        let erl = ErlNode::start("watcher", COOKIE, epmd, None);
        // Erlang calls the child's counter, then monitors it while the child is killed.
        let call = Term::tuple([
            a("call"),
            Term::tuple([a("counter"), a(child_name)]),
            Term::tuple([a("add"), Term::Int(2)]),
        ]);
        assert_eq!(drive(&node, &erl, call).await, Term::Int(2));
        let wait = Term::tuple([
            a("monitor_wait"),
            Term::tuple([a("counter"), a(child_name)]),
            Term::Int(10_000),
        ]);
        let beam = node.beam().unwrap();
        let watching = beam.call_timeout::<Term>(
            BeamDest::name("driver", &erl.name),
            &wait,
            Duration::from_secs(15),
        );
        let kill = async {
            // The connection is up (the call went over it). Whether the monitor reaches the
            // child before it dies or after, Erlang's answer is the same: noconnection.
            child.kill();
        };
        let (down, ()) = futures::join!(watching, kill);
        assert_eq!(down.unwrap(), Term::tuple([a("down"), a("noconnection")]));
    });
}

#[test]
fn a_frozen_erlang_node_is_seen_down_by_its_ticks() {
    if !actors_integration::erlang::present("a_frozen_erlang_node_is_seen_down_by_its_ticks") {
        return;
    }
    actors::rt::block_on(async {
        let node = Node::builder(&format!("{RUST}:0"))
            .cookie(COOKIE)
            .beam(RUST)
            .epmd_port(0)
            .beam_ticktime(Duration::from_secs(2))
            .start()
            .await
            .unwrap();
        let epmd = node.beam().unwrap().epmd_port();
        let mut erl = ErlNode::start_ticking("rust_peer", "frozen", COOKIE, epmd, None, 2);
        let beam = node.beam().unwrap();
        let erl_pid = waiter(&node, &erl).await;
        let down = node.monitor(beam.pid(&erl_pid).unwrap());
        let mut events = beam.monitor_nodes();
        erl.freeze();
        let frozen_at = std::time::Instant::now();
        let down = actors::rt::timeout(Duration::from_secs(10), down)
            .await
            .unwrap();
        assert_eq!(down.reason, ExitReason::NoConnection);
        let seen = frozen_at.elapsed();
        assert!(
            seen >= Duration::from_millis(1500),
            "seen down after {seen:?}: too soon for a tick time of 2 s"
        );
        let event = actors::rt::timeout(
            Duration::from_secs(5),
            futures::StreamExt::next(&mut events),
        )
        .await
        .unwrap();
        assert_eq!(
            event,
            Some(actors_net::beam::BeamNodeEvent::Down(erl.name.clone()))
        );
    });
}

#[test]
fn a_beam_peer_holds_at_most_its_limit_of_monitors() {
    use actors::dist::rt::io::ReadExt;
    use actors::etf::{Atom, ErlPid, ErlRef, decode_prefix, encode};
    const LIMIT: u32 = 100_000;
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let counter = node.spawn(Counter { n: 0 });
        node.register("counter", &counter).unwrap();
        let port = node.beam().unwrap().port();
        let mut s = fake::connect(port, "fake@127.0.0.1", COOKIE).await.unwrap();
        let me = ErlPid {
            node: Atom::from("fake@127.0.0.1"),
            id: 1,
            serial: 0,
            creation: 7,
        };
        // One more monitor than a peer may hold, all on the same process, in one write.
        let mut all = Vec::new();
        for i in 0..=LIMIT {
            let r = ErlRef {
                node: Atom::from("fake@127.0.0.1"),
                creation: 7,
                ids: vec![i, 0, 0],
            };
            let control = Term::tuple([
                Term::Int(19),
                Term::Pid(me.clone()),
                a("counter"),
                Term::Ref(r),
            ]);
            let mut p = vec![112];
            p.extend_from_slice(&encode(&control));
            all.extend_from_slice(&(p.len() as u32).to_be_bytes());
            all.extend_from_slice(&p);
        }
        actors::dist::rt::io::WriteExt::write_all(&mut s, &all)
            .await
            .unwrap();
        // The only monitor exit: the last one failed at once, with system_limit (the node's
        // pg scope also says hello, with a discover).
        let items = actors::rt::timeout(Duration::from_secs(30), async {
            loop {
                let mut len = [0u8; 4];
                s.read_exact(&mut len).await.unwrap();
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                s.read_exact(&mut body).await.unwrap();
                if body.is_empty() {
                    continue;
                }
                let control = decode_prefix(&mut &body[1..]).unwrap();
                let items = control.as_tuple().unwrap().to_vec();
                if items[0] == Term::Int(21) {
                    return items;
                }
            }
        })
        .await
        .expect("an answer");
        assert_eq!(
            items[3],
            Term::Ref(ErlRef {
                node: Atom::from("fake@127.0.0.1"),
                creation: 7,
                ids: vec![LIMIT, 0, 0]
            })
        );
        assert_eq!(items[4], a("system_limit"));
        // The ones within the limit are held.
        let info = node.process_info(counter.any()).await.unwrap();
        assert_eq!(info.monitored_by, LIMIT as usize);
    });
}

#[test]
fn a_connection_replaced_by_its_node_goes_down_before_the_new_one_comes_up() {
    use actors_net::beam::BeamNodeEvent::{Down, Up};
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let beam = node.beam().unwrap();
        let mut events = beam.monitor_nodes();
        let port = beam.port();
        let name = "fake@127.0.0.1";
        let first = fake::connect(port, name, COOKIE).await.unwrap();
        // The same node again, as a restarted node would: the old connection is replaced.
        let second = fake::connect(port, name, COOKIE).await.unwrap();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let next = actors::rt::timeout(
                Duration::from_secs(5),
                futures::StreamExt::next(&mut events),
            );
            seen.push(next.await.expect("an event").expect("the stream goes on"));
        }
        assert_eq!(
            seen,
            vec![Up(name.into()), Down(name.into()), Up(name.into())]
        );
        assert_eq!(beam.nodes(), vec![name.to_string()]);
        drop((first, second));
    });
}

#[test]
fn a_beam_scope_lists_at_most_its_limit_of_group_members() {
    use actors::etf::{Atom, ErlPid, encode};
    const LIMIT: u32 = 100_000;
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let beam = node.beam().unwrap();
        let mut s = fake::connect(beam.port(), "fake@127.0.0.1", COOKIE)
            .await
            .unwrap();
        let pid = |id: u32| ErlPid {
            node: Atom::from("fake@127.0.0.1"),
            id: id & 0x7fff,
            serial: id >> 15,
            creation: 7,
        };
        let scope = pid(0);
        let sync = |group: &str, members: u32| {
            let list = Term::List((1..=members).map(|i| Term::Pid(pid(i))).collect());
            let sync = Term::tuple([
                a("sync"),
                Term::Pid(scope.clone()),
                Term::List(vec![Term::tuple([a(group), list])]),
            ]);
            let control = Term::tuple([Term::Int(6), Term::Pid(scope.clone()), a(""), a("pg")]);
            let mut p = vec![112];
            p.extend_from_slice(&encode(&control));
            p.extend_from_slice(&encode(&Term::tuple([a("$gen_cast"), sync])));
            p
        };
        let groups = beam.groups().unwrap();
        let members = |g: &'static str| {
            let groups = &groups;
            async move { groups.members(&Atom::from(g)).await.unwrap().len() }
        };
        // As many as allowed: taken.
        fake::send4(&mut s, &sync("full", LIMIT)).await;
        actors_integration::until("the members listed", Duration::from_secs(20), || async {
            members("full").await == LIMIT as usize
        })
        .await;
        // One more than allowed (the sync replaces what the scope said before): none taken.
        fake::send4(&mut s, &sync("over", LIMIT + 1)).await;
        actors_integration::until(
            "the full group replaced",
            Duration::from_secs(20),
            || async { members("full").await == 0 },
        )
        .await;
        assert_eq!(members("over").await, 0);
    });
}

#[test]
fn a_peer_cannot_speak_for_another_nodes_processes() {
    if !actors_integration::erlang::present("a_peer_cannot_speak_for_another_nodes_processes") {
        return;
    }
    use actors::etf::{Atom, ErlRef, encode};
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let epmd = node.beam().unwrap().epmd_port();
        let erl = ErlNode::start("honest", COOKIE, epmd, None);
        let beam = node.beam().unwrap();
        // A monitor and a link on processes of the honest node.
        let watched = waiter(&node, &erl).await;
        let down = node.monitor(beam.pid(&watched).unwrap());
        let monitor_ref = down.monitor_ref().as_raw();
        let linker = node.spawn(Linker { exits: vec![] });
        let linked = waiter(&node, &erl).await;
        assert_eq!(linker.link_to(linked.clone()).await, Ok(true));
        let rust_linker = beam.erl_pid(&linker.any()).unwrap();

        // A liar claims both ended: an exit from the linked process, and the monitor's
        // MONITOR_P_EXIT with its reference (which it guessed).
        let mut liar = fake::connect(beam.port(), "liar@127.0.0.1", COOKIE)
            .await
            .unwrap();
        let packet = |control: Term| {
            let mut p = vec![112];
            p.extend_from_slice(&encode(&control));
            p
        };
        let exit = Term::tuple([
            Term::Int(3),
            Term::Pid(linked.clone()),
            Term::Pid(rust_linker),
            a("lie"),
        ]);
        fake::send4(&mut liar, &packet(exit)).await;
        let reference = ErlRef {
            node: Atom::from(RUST),
            creation: rust_linker_creation(&beam, &linker),
            ids: vec![
                (monitor_ref & 0x3_ffff) as u32,
                (monitor_ref >> 18) as u32,
                (monitor_ref >> 50) as u32,
            ],
        };
        let caller = beam.erl_pid(&actors::dist::pid_of(&node, 0)).unwrap();
        let monitor_exit = Term::tuple([
            Term::Int(21),
            Term::Pid(watched.clone()),
            Term::Pid(caller),
            Term::Ref(reference),
            a("lie"),
        ]);
        fake::send4(&mut liar, &packet(monitor_exit)).await;
        // Then something observable on the same connection: once it has landed, the lies
        // before it have been read.
        let counter = node.spawn(Counter { n: 0 });
        node.register("counter", &counter).unwrap();
        let liar_pid = actors::etf::ErlPid {
            node: Atom::from("liar@127.0.0.1"),
            id: 1,
            serial: 0,
            creation: 7,
        };
        let mut cast = packet(Term::tuple([
            Term::Int(6),
            Term::Pid(liar_pid),
            a(""),
            a("counter"),
        ]));
        cast.extend_from_slice(&encode(&a("bump")));
        fake::send4(&mut liar, &cast).await;
        actors_integration::until(
            "the liar's messages read",
            Duration::from_secs(10),
            || async { counter.get().await == Ok(1) },
        )
        .await;

        // The honest node's processes end: only their own reasons arrive.
        beam.send(&watched, &Term::tuple([a("exit_with"), a("normal")]))
            .await
            .unwrap();
        beam.send(&linked, &Term::tuple([a("exit_with"), a("boom")]))
            .await
            .unwrap();
        let down = actors::rt::timeout(Duration::from_secs(10), down)
            .await
            .unwrap();
        assert_eq!(down.reason, ExitReason::Normal);
        actors_integration::until("the real exit signal", Duration::from_secs(10), || async {
            !linker.exits().await.unwrap().is_empty()
        })
        .await;
        assert_eq!(
            linker.exits().await,
            Ok(vec![ExitReason::Error("boom".into())])
        );
        // And the liar is still connected: it was not believed, not cut off.
        assert!(beam.nodes().contains(&"liar@127.0.0.1".to_string()));
    });
}

fn rust_linker_creation(beam: &actors_net::beam::Beam, pid: &Pid<Linker>) -> u32 {
    beam.erl_pid(&pid.any()).unwrap().creation
}
