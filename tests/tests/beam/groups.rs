//! pg groups shared by Rust and Erlang processes, and the limit on what a BEAM scope lists.

use super::*;

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
