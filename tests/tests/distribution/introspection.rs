//! Looking into every node of a cluster from one of them.

use actors::supervisor::{ChildSpec, Strategy, Supervisor};
use actors_net::introspect::NodeOverview;

use super::*;

#[actor]
#[derive(Debug)]
struct Tally {
    seen: u32,
}

#[actor(debug)]
impl Tally {
    #[handle]
    fn see(&mut self) -> u32 {
        self.seen += 1;
        self.seen
    }
}

fn of<'a>(all: &'a [NodeOverview], node: &Node) -> &'a NodeOverview {
    all.iter().find(|o| o.name == node.name()).expect("listed")
}

#[test]
fn one_node_sees_every_node_its_connections_names_groups_and_processes() {
    block_on(async {
        let nodes = cluster(3).await;
        let (a, c) = (&nodes[0], &nodes[2]);
        let sup = Supervisor::new(Strategy::OneForOne)
            .child(ChildSpec::new("tally", || Tally { seen: 0 }).name("tally"))
            .start(c)
            .await
            .unwrap();
        let tally: Pid<Tally> = a.whereis_on("tally", c.name()).await.unwrap();
        assert_eq!(tally.see().await, Ok(1));
        a.global().register("the-tally", &tally).await.unwrap();
        c.groups().join("tallies", &tally.any()).await.unwrap();
        let rtt = a.ping(c.name()).await.expect("pong");

        // Every node, each with its two connections, the name and the group.
        let introspect = a.introspect();
        until("the name and group to reach every node", WAIT, || async {
            let all = introspect.cluster().await;
            all.len() == 3
                && all.iter().all(|o| {
                    o.global_names.iter().any(|g| g.name == "the-tally")
                        && o.groups.iter().any(|g| g.group == "tallies")
                })
        })
        .await;
        let all = introspect.cluster().await;
        for o in &all {
            assert_eq!(o.connections.len(), 2, "{o:#?}");
            for conn in &o.connections {
                assert!(
                    conn.info.frames_in > 0 && conn.info.frames_out > 0,
                    "{conn:?}"
                );
                assert!(
                    conn.info.bytes_in > 0 && conn.info.bytes_out > 0,
                    "{conn:?}"
                );
            }
            let name = o
                .global_names
                .iter()
                .find(|g| g.name == "the-tally")
                .unwrap();
            assert_eq!(name.pid, tally.any());
            let group = o.groups.iter().find(|g| g.group == "tallies").unwrap();
            assert_eq!(
                (group.scope.as_str(), &group.members[..]),
                ("pg", &[tally.any()][..])
            );
        }
        let to_c = of(&all, a)
            .connections
            .iter()
            .find(|p| p.node == c.name())
            .unwrap();
        assert_eq!(to_c.info.round_trip, Some(rtt));
        assert!(
            of(&all, c).load.processes >= 2,
            "the supervisor and its worker at least"
        );

        // c's processes and trees, asked from a.
        let procs = introspect.processes(c.name()).await.unwrap();
        let t = procs.iter().find(|p| p.pid == tally.any()).expect("listed");
        assert_eq!((t.name.as_deref(), t.messages_handled), (Some("tally"), 1));
        assert_eq!(t.parent, Some(sup.any()));
        assert_eq!(t.state, None, "a listing prints no state");
        let trees = introspect.supervision_trees(c.name()).await.unwrap();
        let tree = trees
            .iter()
            .find(|t| t.pid == sup.any())
            .expect("the user's tree");
        assert_eq!(tree.children[0].info.pid, Some(tally.any()));

        // The state of a process on c, shown on a.
        let seen = introspect.inspect(&tally.any()).await.unwrap().unwrap();
        assert_eq!(seen.state.as_deref(), Some("Tally {\n    seen: 1,\n}"));

        // Killed from a, restarted on c: the restart shows from a.
        a.kill(&tally);
        until("the restart to show", WAIT, || async {
            introspect
                .processes(c.name())
                .await
                .unwrap()
                .iter()
                .any(|p| p.name.as_deref() == Some("tally") && p.restarts == Some(1))
        })
        .await;
        assert_eq!(
            introspect.inspect(&tally.any()).await,
            Ok(None),
            "the old one is gone"
        );
    });
}

#[test]
fn a_node_that_is_not_connected_is_a_clear_error() {
    block_on(async {
        let a = start("a").await;
        let err = a
            .introspect()
            .overview("nobody@127.0.0.1:1")
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("cannot ask nobody@127.0.0.1:1"),
            "{err}"
        );
        assert_eq!(a.introspect().cluster().await.len(), 1, "this node alone");
    });
}
