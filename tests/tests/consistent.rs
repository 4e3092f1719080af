//! The distributed supervisor's consistent mode over loopback TCP: a child runs only on the
//! side holding a majority of the voters, never two copies at once, and writes need that
//! majority.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actors::rt::block_on;
use actors_integration::child::ChildNode;
use actors_integration::*;
use actors_net::distributed::{
    ChildDef, DEFAULT_MAX_CHILDREN, DistError, DistributedSupervisor, Fence, FencingToken, Mode,
};
use actors_net::prelude::*;

const WAIT: Duration = Duration::from_secs(20);

/// Copies running now, and the most that ever ran at once, per child id: counted by the
/// children themselves, in this OS process, at the instant each starts.
static LIVE: Mutex<BTreeMap<String, (usize, usize)>> = Mutex::new(BTreeMap::new());

fn live(id: &str) -> (usize, usize) {
    LIVE.lock().unwrap().get(id).copied().unwrap_or((0, 0))
}

#[actor]
#[derive(serde::Serialize, serde::Deserialize)]
struct Batch {
    id: String,
    token: FencingToken,
}

impl Batch {
    fn new(id: &str) -> Self {
        Batch {
            id: id.to_string(),
            token: FencingToken::default(),
        }
    }
}

#[actor]
impl Batch {
    #[handle]
    fn which(&self) -> String {
        self.id.clone()
    }

    /// The token of this copy's start, as it would hand it to what it acts on.
    #[handle]
    fn token(&self) -> FencingToken {
        self.token
    }

    fn started(&mut self) {
        let mut live = LIVE.lock().unwrap();
        let (now, most) = live.entry(self.id.clone()).or_default();
        *now += 1;
        *most = (*most).max(*now);
    }

    fn stopped(&mut self, _reason: &ExitReason) {
        if let Some((now, _)) = LIVE.lock().unwrap().get_mut(&self.id) {
            *now -= 1;
        }
    }
}

async fn consistent(nodes: &[Node], name: &str) -> Vec<DistributedSupervisor> {
    let voters: Vec<String> = nodes.iter().map(|n| n.name().to_string()).collect();
    let mut sups = Vec::new();
    for node in nodes {
        node.allow_spawn::<Batch>();
        sups.push(
            DistributedSupervisor::start_with(
                node,
                name,
                Mode::Consistent(voters.clone()),
                DEFAULT_MAX_CHILDREN,
            )
            .await
            .expect("the member starts"),
        );
    }
    sups
}

/// The leader every member of `sups` agrees on.
async fn agreed_leader(sups: &[DistributedSupervisor], not: Option<&str>) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mut leaders = Vec::new();
        for sup in sups {
            leaders.push(sup.leader().await.ok().flatten());
        }
        if leaders[0].is_some()
            && leaders[0].as_deref() != not
            && leaders.windows(2).all(|w| w[0] == w[1])
        {
            return leaders.remove(0).unwrap_or_default();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no agreed leader: {leaders:?}"
        );
        actors::rt::sleep(Duration::from_millis(20)).await;
    }
}

/// The fencing token of the copy of `id` that `sup` finds running.
async fn token_of(sup: &DistributedSupervisor, id: &str) -> FencingToken {
    let copies = sup.locate(id, Duration::from_secs(1)).await.unwrap();
    let copy = copies[0].clone().downcast::<Batch>().unwrap();
    copy.token().await.unwrap()
}

#[test]
fn in_a_split_only_the_majority_runs_the_child_and_never_two_at_once() {
    block_on(async {
        let nodes = cluster(5).await;
        let sups = consistent(&nodes, "payments").await;
        let leader = agreed_leader(&sups, None).await;
        let follower = nodes.iter().position(|n| n.name() != leader).unwrap();
        let def = ChildDef::new("batch", &Batch::new("batch")).unwrap();
        sups[follower].start_child(def).await.unwrap();
        until("the batch to run on the leader", WAIT, || async {
            live("batch").0 == 1
                && sups[0]
                    .locate("batch", Duration::from_secs(1))
                    .await
                    .is_ok_and(|c| c.len() == 1 && c[0].node() == leader)
        })
        .await;
        let old_token = token_of(&sups[0], "batch").await;

        // The leader and one other on one side: a minority of two.
        let li = nodes.iter().position(|n| n.name() == leader).unwrap();
        let other = (li + 1) % 5;
        let minority: Vec<Node> = vec![nodes[li].clone(), nodes[other].clone()];
        let majority: Vec<Node> = nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != li && *i != other)
            .map(|(_, n)| n.clone())
            .collect();
        partition(&[minority.clone(), majority.clone()]).await;
        let msups: Vec<DistributedSupervisor> = majority
            .iter()
            .map(|n| sups[nodes.iter().position(|m| m.name() == n.name()).unwrap()].clone())
            .collect();
        let new_leader = agreed_leader(&msups, Some(&leader)).await;
        assert_ne!(new_leader, leader, "the majority elects its own leader");
        until(
            "the batch to run on the majority's leader",
            WAIT,
            || async {
                live("batch").0 == 1
                    && msups[0]
                        .locate("batch", Duration::from_secs(1))
                        .await
                        .is_ok_and(|c| c.len() == 1 && c[0].node() == new_leader)
            },
        )
        .await;
        // What the old copy sent before it stopped, arriving after the new copy acted, is
        // refused by a resource that fences.
        let new_token = token_of(&msups[0], "batch").await;
        assert!(new_token > old_token, "{new_token:?} after {old_token:?}");
        let mut fence = Fence::default();
        fence.admit(new_token).unwrap();
        assert!(fence.admit(old_token).is_err());
        // The minority cannot write.
        let def = ChildDef::new("refused", &Batch::new("refused")).unwrap();
        assert_eq!(sups[li].start_child(def).await, Err(DistError::NoQuorum));

        heal(&[minority, majority]).await;
        agreed_leader(&sups, None).await;
        until("one copy after the heal", WAIT, || async {
            live("batch").0 == 1
        })
        .await;
        assert_eq!(
            live("batch").1,
            1,
            "two copies of the batch ran at one instant"
        );
        assert_eq!(live("refused"), (0, 0));
    });
}

#[test]
fn a_node_not_among_the_voters_is_refused() {
    block_on(async {
        let nodes = cluster(2).await;
        let voters = vec![nodes[0].name().to_string()];
        assert_eq!(
            DistributedSupervisor::start_with(&nodes[1], "x", Mode::Consistent(voters), 10)
                .await
                .err(),
            Some(DistError::NotVoter(nodes[1].name().to_string()))
        );
    });
}

#[test]
fn a_consistent_name_is_one_process_everywhere_refused_without_a_majority_and_freed_at_death() {
    block_on(async {
        let nodes = cluster(3).await;
        let sups = consistent(&nodes, "names").await;
        let leader = agreed_leader(&sups, None).await;
        let first = nodes[0].spawn(Batch::new("a"));
        let second = nodes[1].spawn(Batch::new("b"));
        sups[0].register_name("lock", &first).await.unwrap();
        assert_eq!(sups[2].whereis_name("lock").await, Ok(Some(first.any())));
        assert_eq!(
            sups[1].register_name("lock", &second).await,
            Err(DistError::NameTaken("lock".into()))
        );
        // A node alone is a minority: it neither reads nor writes.
        let li = nodes.iter().position(|n| n.name() == leader).unwrap();
        let lone = (li + 1) % 3;
        let rest: Vec<Node> = (0..3)
            .filter(|i| *i != lone)
            .map(|i| nodes[i].clone())
            .collect();
        partition(&[vec![nodes[lone].clone()], rest.clone()]).await;
        assert_eq!(
            sups[lone].whereis_name("lock").await,
            Err(DistError::NoQuorum)
        );
        assert_eq!(
            sups[lone].unregister_name("lock").await,
            Err(DistError::NoQuorum)
        );
        heal(&[vec![nodes[lone].clone()], rest]).await;
        agreed_leader(&sups, None).await;
        // The holder ends: the name is freed, and another may take it.
        nodes[0].stop(&first, ExitReason::Shutdown);
        until("the name to be freed", WAIT, || async {
            sups[1].whereis_name("lock").await == Ok(None)
        })
        .await;
        sups[1].register_name("lock", &second).await.unwrap();
        assert_eq!(sups[0].whereis_name("lock").await, Ok(Some(second.any())));
    });
}

const BIN: &str = env!("CARGO_BIN_EXE_testnode");

/// The node whose "batch" answers by its global name, seen from `node`.
async fn batch_node(node: &Node) -> Option<String> {
    let counter = node.global().whereis::<Counter>("batch")?;
    counter
        .get()
        .timeout(Duration::from_millis(300))
        .await
        .ok()?;
    Some(counter.node().to_string())
}

#[test]
fn killing_the_leader_moves_the_child_and_without_a_majority_it_runs_nowhere() {
    block_on(async {
        let here = start_watchful("watcher").await;
        let names: Vec<String> = free_ports(3)
            .iter()
            .enumerate()
            .map(|(i, port)| format!("v{i}@127.0.0.1:{port}"))
            .collect();
        let mut voters = Vec::new();
        for name in &names {
            let mut args = vec![
                "--dsup",
                "batches",
                "--dsup-child",
                "batch",
                "--heartbeat-ms",
                "200",
            ];
            for v in &names {
                args.extend(["--voter", v.as_str()]);
            }
            voters.push(ChildNode::start(BIN, name, &[here.name()], &args));
        }
        until("the batch to answer", WAIT, || async {
            batch_node(&here).await.is_some()
        })
        .await;
        let first = batch_node(&here).await.unwrap();
        let killed = Instant::now();
        let at = names
            .iter()
            .position(|n| *n == first)
            .expect("it runs on a voter");
        voters[at].kill();
        until("the batch to answer from another voter", WAIT, || async {
            batch_node(&here).await.is_some_and(|n| n != first)
        })
        .await;
        eprintln!(
            "the batch answered again {:?} after its node was killed",
            killed.elapsed()
        );
        let second = batch_node(&here).await.unwrap();
        // One voter of three left: no majority, so the batch must stop where it runs.
        let other = names.iter().position(|n| *n == second).unwrap();
        let last = (0..3).find(|i| *i != at && *i != other).unwrap();
        voters[last].freeze();
        until("the batch to stop without a majority", WAIT, || async {
            batch_node(&here).await.is_none()
        })
        .await;
        voters[last].thaw();
        until(
            "the batch to answer once a majority is back",
            WAIT,
            || async { batch_node(&here).await.is_some() },
        )
        .await;
    });
}

/// Horde counted its quorum from the members a node could see, so each side of a three-way
/// split believed it had one. Here the quorum is of the configured voters: split 2/2/1, no
/// side has a majority and the child runs nowhere.
#[test]
fn in_a_three_way_split_no_side_counts_itself_a_majority() {
    block_on(async {
        let nodes = cluster(5).await;
        let sups = consistent(&nodes, "threeway").await;
        agreed_leader(&sups, None).await;
        sups[0]
            .start_child(ChildDef::new("solo", &Batch::new("solo")).unwrap())
            .await
            .unwrap();
        until("the child to run", WAIT, || async { live("solo").0 == 1 }).await;
        let sides = [
            vec![nodes[0].clone(), nodes[1].clone()],
            vec![nodes[2].clone(), nodes[3].clone()],
            vec![nodes[4].clone()],
        ];
        partition(&sides).await;
        until("the child to stop on every side", WAIT, || async {
            live("solo").0 == 0
        })
        .await;
        // And it stays stopped: no side elects a leader that holds a lease.
        let since = Instant::now();
        while since.elapsed() < Duration::from_secs(2) {
            assert_eq!(live("solo").0, 0, "a minority side ran the child");
            actors::rt::sleep(Duration::from_millis(20)).await;
        }
        heal(&sides).await;
        until("one copy after the heal", WAIT, || async {
            live("solo").0 == 1
        })
        .await;
        assert_eq!(live("solo").1, 1);
    });
}

/// goakt left a singleton unplaced when the node holding the leader role left. Here the
/// leader's member leaves gracefully: its copy stops, and the voters left elect a leader that
/// runs the child, never two copies at once.
#[test]
fn when_the_leader_leaves_its_child_runs_on_the_new_leader() {
    block_on(async {
        let nodes = cluster(3).await;
        let sups = consistent(&nodes, "leaving").await;
        let leader = agreed_leader(&sups, None).await;
        let li = nodes.iter().position(|n| n.name() == leader).unwrap();
        let def = ChildDef::new("departing", &Batch::new("departing")).unwrap();
        sups[(li + 1) % 3].start_child(def).await.unwrap();
        until("the child to run on the leader", WAIT, || async {
            live("departing").0 == 1
        })
        .await;
        sups[li].leave().await.unwrap();
        let rest: Vec<DistributedSupervisor> = (0..3)
            .filter(|i| *i != li)
            .map(|i| sups[i].clone())
            .collect();
        let new_leader = agreed_leader(&rest, Some(&leader)).await;
        until("the child to run on the new leader", WAIT, || async {
            live("departing").0 == 1
                && rest[0]
                    .locate("departing", Duration::from_secs(1))
                    .await
                    .is_ok_and(|c| c.len() == 1 && c[0].node() == new_leader)
        })
        .await;
        assert_eq!(live("departing").1, 1, "two copies ran at one instant");
    });
}
