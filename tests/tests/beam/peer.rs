//! The Rust node as Erlang tools see it: `net_adm:ping`, `nodes()`, `rpc` and `erpc` to
//! registered Rust functions, and undefined ones answered as a BEAM node answers them.

use actors_net::beam::RpcError;
use actors_net::global::GlobalError;
use futures::StreamExt;

use super::*;

/// A Rust node with `rust:add/2`, `rust:fail/0` and `rust:note/1` (which hands its argument
/// to the returned stream).
async fn with_functions(
    visible: bool,
) -> (Node, futures::channel::mpsc::UnboundedReceiver<String>) {
    let mut builder = Node::builder(&format!("{RUST}:0"))
        .cookie(COOKIE)
        .beam(RUST)
        .epmd_port(0);
    if visible {
        builder = builder.beam_visible();
    }
    let node = builder.start().await.expect("the node starts");
    let beam = node.beam().unwrap();
    beam.register_fn("rust", "add", |(a, b): (i64, i64)| async move {
        Ok::<_, RpcError>(a + b)
    });
    beam.register_fn("rust", "fail", |()| async move {
        Err::<(), _>(RpcError::error("asked to fail"))
    });
    let (tx, rx) = futures::channel::mpsc::unbounded();
    beam.register_fn("rust", "note", move |(what,): (String,)| {
        let tx = tx.clone();
        async move {
            let _ = tx.unbounded_send(what);
            Ok::<_, RpcError>(())
        }
    });
    (node, rx)
}

#[test]
fn ping_is_pong_and_rpc_reaches_registered_functions_only() {
    if !actors_integration::erlang::present(
        "ping_is_pong_and_rpc_reaches_registered_functions_only",
    ) {
        return;
    }
    actors::rt::block_on(async {
        let (node, mut notes) = with_functions(false).await;
        let erl = ErlNode::start("rpc", COOKIE, node.beam().unwrap().epmd_port(), None);
        // `$R` is the Rust node's name.
        let e = |src: &str| src.replace("$R", &format!("'{RUST}'"));
        let ask = |src: &'static str| {
            let (node, erl, src) = (&node, &erl, e(src));
            async move { eval(node, erl, &src).await }
        };
        assert_eq!(ask("net_adm:ping($R).").await, "pong");
        assert_eq!(ask("rpc:call($R, rust, add, [1, 2]).").await, "3");
        assert_eq!(ask("erpc:call($R, rust, add, [40, 2]).").await, "42");
        assert_eq!(
            ask("rpc:multicall([$R], rust, add, [1, 1]).").await,
            "{[2],[]}"
        );
        assert_eq!(ask("rpc:block_call($R, rust, add, [2, 3]).").await, "5");
        // Undefined, as a BEAM node without the code answers: another module, another arity.
        assert_eq!(
            ask("rpc:call($R, nothere, f, [1]).").await,
            "{badrpc,{'EXIT',{undef,[{nothere,f,[1],[]}]}}}"
        );
        assert_eq!(
            ask("rpc:call($R, rust, add, [1]).").await,
            "{badrpc,{'EXIT',{undef,[{rust,add,[1],[]}]}}}"
        );
        assert_eq!(
            ask("rpc:block_call($R, erlang, halt, []).").await,
            "{badrpc,{'EXIT',{undef,[{erlang,halt,[],[]}]}}}"
        );
        assert_eq!(
            ask("erpc:call($R, os, cmd, [\"ls\"]).").await,
            "{caught,error,{exception,undef,[{os,cmd,[\"ls\"],[]}]}}"
        );
        // A Rust error is raised as an Erlang error.
        assert_eq!(
            ask("rpc:call($R, rust, fail, []).").await,
            "{badrpc,{'EXIT',{{rust_error,<<\"asked to fail\">>},[{rust,fail,0,[]}]}}}"
        );
        // A cast runs, unanswered.
        assert_eq!(
            ask("erpc:cast($R, rust, note, [<<\"hello\">>]).").await,
            "ok"
        );
        let noted = actors::rt::timeout(Duration::from_secs(5), notes.next()).await;
        assert_eq!(noted, Ok(Some("hello".to_string())));
        // A spawn of an undefined function ends as Erlang's would.
        assert_eq!(
            ask("{P, Ref} = spawn_monitor($R, nothere, f, []), receive {'DOWN', Ref, process, P, Why} -> Why after 5000 -> timeout end.").await,
            "{undef,[{nothere,f,[],[]}]}"
        );
        // A monitor on a process that has ended says so, with Erlang's atom.
        assert_eq!(
            ask("{P, _} = spawn_monitor($R, nothere, f, []), timer:sleep(100), Ref = erlang:monitor(process, P), receive {'DOWN', Ref, process, P, Why} -> Why after 5000 -> timeout end.").await,
            "noproc"
        );
        // The hidden node is listed among the hidden ones only.
        assert_eq!(
            ask("{lists:member($R, nodes()), lists:member($R, nodes(hidden))}.").await,
            "{false,true}"
        );
    });
}

#[test]
fn a_visible_node_is_listed_by_nodes() {
    if !actors_integration::erlang::present("a_visible_node_is_listed_by_nodes") {
        return;
    }
    actors::rt::block_on(async {
        let (node, _notes) = with_functions(true).await;
        let erl = ErlNode::start("visible", COOKIE, node.beam().unwrap().epmd_port(), None);
        let src = format!("pong = net_adm:ping('{RUST}'), lists:member('{RUST}', nodes()).");
        assert_eq!(eval(&node, &erl, &src).await, "true");
        let monitored = format!(
            "erlang:monitor_node('{RUST}', true), lists:member('{RUST}', nodes(connected))."
        );
        assert_eq!(eval(&node, &erl, &monitored).await, "true");
        // A process monitoring the Rust node gets its nodedown when the connection goes.
        // The watcher says when it monitors: were the connection closed before, its
        // monitor_node would connect again and watch the new connection instead.
        let watch = format!(
            "Me = self(), \
             W = spawn(fun() -> erlang:monitor_node('{RUST}', true), Me ! watching, \
                 receive {{nodedown, N}} -> \
                     Tell = fun T() -> receive {{get, P}} -> P ! {{got, N}}, T() end end, \
                     Tell() \
                 end end), \
             register(nd, W), receive watching -> ok after 5000 -> timeout end."
        );
        assert_eq!(eval(&node, &erl, &watch).await, "ok");
        assert!(node.beam().unwrap().disconnect(&erl.name));
        // Asked again (which connects again): it saw the node go. The asking may reach the
        // Erlang node before it has read the end of the old connection, so it is asked
        // until it has.
        let seen = "nd ! {get, self()}, receive {got, N} -> N after 500 -> timeout end.";
        let gone = format!("'{RUST}'");
        actors_integration::until("the nodedown", Duration::from_secs(20), || async {
            eval(&node, &erl, seen).await == gone
        })
        .await;
    });
}

/// A counter that shows its state.
#[actor]
#[derive(Debug, Serialize)]
struct Tally {
    count: u64,
}

#[actor(debug)]
impl Tally {
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }
}

/// A process that shows its `Debug` text only: its state does not serialise.
#[actor]
#[derive(Debug)]
struct Opaque {
    seen: u32,
}

#[actor(debug)]
impl Opaque {
    #[handle]
    fn see(&mut self) {
        self.seen += 1;
    }
}

#[test]
fn sys_reads_the_state_and_status_of_rust_processes() {
    if !actors_integration::erlang::present("sys_reads_the_state_and_status_of_rust_processes") {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let tally = node.spawn(Tally { count: 0 });
        tally.add(5).await.unwrap();
        node.register("tally", &tally).unwrap();
        node.register("opaque", node.spawn(Opaque { seen: 1 }))
            .unwrap();
        node.register("counter", node.spawn(Counter { n: 1 }))
            .unwrap();
        let erl = ErlNode::start("sys", COOKIE, node.beam().unwrap().epmd_port(), None);
        let ask = |src: String| {
            let (node, erl) = (&node, &erl);
            async move { eval(node, erl, &src.replace("$R", &format!("'{RUST}'"))).await }
        };
        assert_eq!(
            ask("sys:get_state({tally, $R}).".into()).await,
            "#{count => 5}"
        );
        assert_eq!(
            ask("sys:get_state({opaque, $R}).".into()).await,
            "<<\"Opaque {\\n    seen: 1,\\n}\">>"
        );
        assert_eq!(
            ask("sys:get_state({counter, $R}).".into()).await,
            "{state_not_shown,<<\"the actor shows its state with #[actor(debug)]\">>}"
        );
        assert_eq!(
            ask("{status, _, {module, gen_server}, [_, running, _, _, Misc]} = sys:get_status({tally, $R}), lists:last(Misc).".into()).await,
            "{data,[{\"State\",#{count => 5}}]}"
        );
        assert_eq!(
            ask("sys:suspend({tally, $R}).".into()).await,
            "{error,{not_supported,suspend}}"
        );
        // The process still answers.
        assert_eq!(tally.add(1).await, Ok(6));
    });
}

/// Greets the processes it is told of, from any node, and watches them.
#[actor]
struct Greeter {
    downs: Vec<ExitReason>,
}

#[actor]
impl Greeter {
    /// Its own pid: to Erlang, a pid of the Rust node.
    #[handle]
    fn whoami(&self, ctx: &mut Ctx<Self>) -> AnyPid {
        ctx.pid().any()
    }
    /// Sends `{greeting, Self}` to `who` (an Erlang pid, read as a pid here) and monitors it.
    #[handle(cast)]
    fn greet(&mut self, who: AnyPid, ctx: &mut Ctx<Self>) {
        ctx.monitor(who.clone());
        let me = ctx.pid().any();
        let node = ctx.node();
        actors::rt::spawn(async move {
            let to = BeamDest::pid(&who).expect("an Erlang pid");
            let greeting = (actors::etf::Atom::from("greeting"), me);
            node.beam().unwrap().send(to, &greeting).await.unwrap();
        });
    }
    #[handle]
    fn downs(&self) -> Vec<ExitReason> {
        self.downs.clone()
    }
    fn on_down(&mut self, down: Down) {
        self.downs.push(down.reason);
    }
}

#[test]
fn pids_cross_both_ways_as_pids() {
    if !actors_integration::erlang::present("pids_cross_both_ways_as_pids") {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let greeter = node.spawn(Greeter { downs: Vec::new() });
        node.register("greeter", &greeter).unwrap();
        let erl = ErlNode::start("pids", COOKIE, node.beam().unwrap().epmd_port(), None);
        let ask = |src: &str| {
            let (node, erl, src) = (&node, &erl, src.replace("$R", &format!("'{RUST}'")));
            async move { eval(node, erl, &src).await }
        };
        // A Rust pid in a reply is an Erlang pid of the Rust node; an Erlang pid in a message
        // is a pid the Rust process sends to and monitors.
        let greeted = ask("P = gen_server:call({greeter, $R}, whoami), \
             W = spawn(fun() -> receive {greeting, Q} -> exit({greeted_by, Q}) end end), \
             Ref = erlang:monitor(process, W), \
             gen_server:cast({greeter, $R}, {greet, W}), \
             receive {'DOWN', Ref, process, W, {greeted_by, P}} -> {is_pid(P), node(P) =:= $R} \
             after 5000 -> timeout end.")
        .await;
        assert_eq!(greeted, "{true,true}");
        let seen = async {
            loop {
                let downs = greeter.downs().await.unwrap();
                if let Some(reason) = downs.first() {
                    return reason.clone();
                }
                actors::rt::sleep(Duration::from_millis(10)).await;
            }
        };
        let reason = actors::rt::timeout(Duration::from_secs(5), seen)
            .await
            .unwrap();
        assert!(reason.to_string().contains("greeted_by"), "{reason}");
        // Erlang sends to the pid, and kills it.
        assert_eq!(
            ask("P = gen_server:call({greeter, $R}, whoami), Ref = erlang:monitor(process, P), \
                 exit(P, kill), receive {'DOWN', Ref, process, P, Why} -> Why after 5000 -> timeout end.")
            .await,
            "killed"
        );
        assert!(node.whereis::<Greeter>("greeter").is_none());
    });
}

#[test]
fn rust_calls_erlang_functions_as_rpc_does() {
    if !actors_integration::erlang::present("rust_calls_erlang_functions_as_rpc_does") {
        return;
    }

    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let erl = ErlNode::start("callee", COOKIE, node.beam().unwrap().epmd_port(), None);
        let beam = node.beam().unwrap();
        let sum: i64 = beam.rpc(&erl.name, "erlang", "+", &(1, 2)).await.unwrap();
        assert_eq!(sum, 3);
        let reversed: Vec<i64> = beam
            .rpc(&erl.name, "lists", "reverse", &(vec![1, 2, 3],))
            .await
            .unwrap();
        assert_eq!(reversed, [3, 2, 1]);
        let here: String = beam.rpc(&erl.name, "erlang", "node", &()).await.unwrap();
        assert_eq!(here, erl.name);
        // What the function prints is answered (it does not hang the call).
        let printed: () = beam
            .rpc(&erl.name, "io", "format", &("printed from Erlang~n",))
            .await
            .unwrap();
        assert_eq!(printed, ());
        // An undefined function, and a function that fails: rpc's badrpc, as Erlang tells it.
        let undef = beam.rpc::<i64>(&erl.name, "nothere", "f", &()).await;
        let Err(BeamError::Rpc(reason)) = undef else {
            panic!("{undef:?}")
        };
        assert_eq!(reason.to_string(), "{'EXIT',{undef,[{nothere,f,[],[]}]}}");
        let badarg = beam.rpc::<i64>(&erl.name, "erlang", "+", &(1, "a")).await;
        assert!(matches!(badarg, Err(BeamError::Rpc(_))), "{badarg:?}");
    });
}

#[test]
fn a_pg_scope_of_its_own_is_shared_with_erlang() {
    if !actors_integration::erlang::present("a_pg_scope_of_its_own_is_shared_with_erlang") {
        return;
    }
    actors::rt::block_on(async {
        let node = rust_node(RUST, 0, COOKIE).await;
        let erl = ErlNode::start("scopes", COOKIE, node.beam().unwrap().epmd_port(), None);
        let started = eval(
            &node,
            &erl,
            "{ok, _} = pg:start(rust_scope), W = spawn(fun() -> receive stop -> ok end end), \
             register(scoped, W), pg:join(rust_scope, workers, W).",
        )
        .await;
        assert_eq!(started, "ok");
        let beam = node.beam().unwrap();
        let scope = beam.scope("rust_scope").await.unwrap();
        let rust = node.spawn(Counter { n: 0 });
        let workers = actors::etf::Atom::from("workers");
        scope.join(&workers, &rust).await.unwrap();
        let counted = "length(pg:get_members(rust_scope, workers)).";
        let mut seen = String::new();
        for _ in 0..500 {
            seen = eval(&node, &erl, counted).await;
            if seen == "2" {
                break;
            }
            actors::rt::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(seen, "2", "Erlang lists the Rust member too");
        let members = scope.members(&workers).await.unwrap();
        assert_eq!(members.len(), 2, "{members:?}");
        // Apart from the default scope.
        assert!(
            beam.groups()
                .unwrap()
                .members(&workers)
                .await
                .unwrap()
                .is_empty()
        );
        // The same scope again is the same server; a name held by another process is not a scope.
        assert!(beam.scope("rust_scope").await.is_ok());
        node.register("taken", &rust).unwrap();
        assert!(matches!(
            beam.scope("taken").await,
            Err(BeamError::BadName(_))
        ));
    });
}

/// Polls `check` every 20 ms for at most 15 s (Erlang's global syncs a new node within
/// about 3 s); panics saying `what` otherwise.
async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "waited 15 s for {what}"
        );
        actors::rt::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn global_names_are_shared_with_erlang_both_ways() {
    if !actors_integration::erlang::present("global_names_are_shared_with_erlang_both_ways") {
        return;
    }
    actors::rt::block_on(async {
        let (node, _notes) = with_functions(true).await;
        let counter = node.spawn(Counter { n: 0 });
        node.global()
            .register("rust_counter", &counter)
            .await
            .unwrap();
        let mut erl = ErlNode::start("globals", COOKIE, node.beam().unwrap().epmd_port(), None);
        let ask = |src: &str| {
            let (node, erl, src) = (&node, &erl, src.replace("$R", &format!("'{RUST}'")));
            async move { eval(node, erl, &src).await }
        };
        // Erlang meets the Rust node, syncs with it (global:sync returns), and finds its name.
        assert_eq!(
            ask("pong = net_adm:ping($R), ok = global:sync(), G = global:whereis_name(rust_counter), \
                 {is_pid(G), node(G) =:= $R}.")
            .await,
            "{true,true}"
        );
        // A name Erlang registers is found by the Rust node.
        assert_eq!(
            ask(
                "W = spawn(fun() -> receive stop -> ok end end), register(w, W), \
                 global:register_name(erl_worker, W)."
            )
            .await,
            "yes"
        );
        eventually("the Erlang name to reach the Rust node", || async {
            node.global()
                .whereis_any("erl_worker")
                .is_some_and(|p| p.node() == erl.name)
        })
        .await;
        assert!(
            node.global()
                .registered_names()
                .contains(&"erl_worker".to_string())
        );
        // A name the Rust node registers after the sync reaches Erlang; a name held on the
        // other side is refused on both.
        let late = node.spawn(Counter { n: 0 });
        node.global().register("late_name", &late).await.unwrap();
        assert_eq!(ask("is_pid(global:whereis_name(late_name)).").await, "true");
        let third = node.spawn(Counter { n: 0 });
        assert!(matches!(
            node.global().register("erl_worker", &third).await,
            Err(GlobalError::NameTaken(_))
        ));
        assert_eq!(
            ask("global:register_name(rust_counter, self()).").await,
            "no"
        );
        // Names go with their processes: an Erlang one ends, a Rust one is killed.
        ask("w ! stop.").await;
        eventually("the ended Erlang process's name to go", || async {
            node.global().whereis_any("erl_worker").is_none()
        })
        .await;
        node.kill(&counter);
        eventually("the killed Rust process's name to go in Erlang", || async {
            ask("global:whereis_name(rust_counter).").await == "undefined"
        })
        .await;
        // An unregistered name goes too.
        node.global().unregister("late_name").await.unwrap();
        eventually("the unregistered name to go in Erlang", || async {
            ask("global:whereis_name(late_name).").await == "undefined"
        })
        .await;
        // And with its node.
        assert_eq!(
            ask("V = spawn(fun() -> receive stop -> ok end end), global:register_name(doomed, V).")
                .await,
            "yes"
        );
        eventually("the doomed name to reach the Rust node", || async {
            node.global().whereis_any("doomed").is_some()
        })
        .await;
        erl.kill();
        eventually("the lost node's names to go", || async {
            node.global().whereis_any("doomed").is_none()
        })
        .await;
    });
}

/// What a BEAM peer sends first is answered even when it arrives with the handshake: OTP's
/// `global` sends `init_connect` the moment the connection is up and waits for the ack
/// forever, so an ack lost while the connection was being installed hung `global:sync()`.
#[test]
fn a_peers_first_message_is_answered() {
    use actors::etf::{Atom, ErlPid};
    actors::rt::block_on(async {
        let node = visible_node().await;
        let port = node.beam().unwrap().port();
        // Each round a new node, so the narrow window between handshake and install recurs
        // often enough to be hit.
        for round in 0..1000 {
            let name = format!("fake{round}@127.0.0.1");
            let locker = ErlPid {
                node: Atom::from(name.as_str()),
                id: 1,
                serial: 0,
                creation: 7,
            };
            let tag = Term::Int(1000 + round);
            let init_connect = Term::tuple([
                a("$gen_cast"),
                Term::tuple([
                    a("init_connect"),
                    Term::tuple([Term::Int(8), tag.clone()]),
                    a(&name),
                    Term::tuple([
                        a("locker"),
                        a("no_longer_a_pid"),
                        Term::List(Vec::new()),
                        Term::Pid(locker.clone()),
                    ]),
                ]),
            ]);
            let first = fake::reg_send(&locker, "global_name_server", &init_connect);
            let mut s = fake::connect_with(port, &name, COOKIE, &first)
                .await
                .expect("the node accepts");
            // The node's own `init_connect`, then its ack naming our tag and the same tag of
            // its own: an ack ahead of the `init_connect` it names is a session out of step
            // for `global`, which cancels and starts over.
            let seen = actors::rt::timeout(Duration::from_secs(10), async {
                let mut announced = None;
                loop {
                    let (_, message) = fake::next_packet(&mut s).await;
                    let Some(m) = message else { continue };
                    let items = m.as_tuple().unwrap_or(&[]);
                    // `{'$gen_cast', {init_connect, {Vsn, Tag}, Node, Locker}}`
                    if let [kind, inner] = items
                        && kind.is_atom("$gen_cast")
                        && let Some([what, vsn, ..]) = inner.as_tuple()
                        && what.is_atom("init_connect")
                        && let Some([_, its]) = vsn.as_tuple()
                    {
                        announced = Some(its.clone());
                    }
                    if let [kind, _, ours, its] = items
                        && kind.is_atom("init_connect_ack")
                    {
                        return (announced, ours.clone(), its.clone());
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("round {round}: global acks init_connect"));
            let (announced, ours, its) = seen;
            assert_eq!(ours, tag, "round {round}: the ack names our tag");
            assert_eq!(
                announced,
                Some(its),
                "round {round}: the node announced its tag before acking with it"
            );
        }
    });
}
