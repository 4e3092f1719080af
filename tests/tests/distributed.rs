//! The distributed supervisor over loopback TCP, nodes in one OS process: children placed on
//! one live member each, restarted elsewhere when their node is lost (the node that added them
//! included), handed over by a member that leaves, and one copy again after a partition heals.

use std::collections::BTreeMap;
use std::time::Duration;

use actors::rt::block_on;
use actors_integration::child::ChildNode;
use actors_integration::*;
use actors_net::distributed::{ChildDef, DistError, DistributedSupervisor};
use actors_net::prelude::*;

const WAIT: Duration = Duration::from_secs(15);

/// How many copies of each job run now, in this OS process: counted by the jobs themselves,
/// so that a copy a member forgot but did not stop is counted too.
static LIVE: std::sync::Mutex<BTreeMap<String, usize>> = std::sync::Mutex::new(BTreeMap::new());

fn live(id: &str) -> usize {
    LIVE.lock().unwrap().get(id).copied().unwrap_or(0)
}

/// A child that counts itself while it runs.
#[actor]
#[derive(serde::Serialize, serde::Deserialize)]
struct Job {
    id: String,
    n: u64,
}

#[actor]
impl Job {
    #[handle]
    fn get(&self) -> u64 {
        self.n
    }

    #[handle]
    fn bump(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    fn started(&mut self) {
        *LIVE.lock().unwrap().entry(self.id.clone()).or_default() += 1;
    }

    fn stopped(&mut self, _reason: &ExitReason) {
        if let Some(n) = LIVE.lock().unwrap().get_mut(&self.id) {
            *n -= 1;
        }
    }
}

fn job(id: &str, n: u64) -> ChildDef {
    ChildDef::new(
        id,
        &Job {
            id: id.to_string(),
            n,
        },
    )
    .unwrap()
}

/// Starts the supervisor "jobs" on every node, each allowing `Job`.
async fn members(nodes: &[Node]) -> Vec<DistributedSupervisor> {
    let mut sups = Vec::new();
    for node in nodes {
        node.allow_spawn::<Job>();
        sups.push(
            DistributedSupervisor::start(node, "jobs")
                .await
                .expect("member starts"),
        );
    }
    for sup in &sups {
        let want = nodes.len();
        until("every member to see every other", WAIT, || async {
            sup.members().await.map(|m| m.len()) == Ok(want)
        })
        .await;
    }
    sups
}

/// Adds `n` jobs `{prefix}0`.. through `by`, and waits until each runs once.
async fn add_running(
    by: &DistributedSupervisor,
    sups: &[DistributedSupervisor],
    prefix: &str,
    n: u64,
) {
    for i in 0..n {
        by.start_child(job(&format!("{prefix}{i}"), 0))
            .await
            .unwrap();
    }
    for i in 0..n {
        let id = format!("{prefix}{i}");
        until("each job to run once", WAIT, || async {
            copies(sups, &id).await.len() == 1 && live(&id) == 1
        })
        .await;
    }
}

/// The copies of child `id` that the members of `sups` say they run.
async fn copies(sups: &[DistributedSupervisor], id: &str) -> Vec<AnyPid> {
    let mut found = Vec::new();
    for sup in sups {
        if let Ok(children) = sup.children().await {
            found.extend(
                children
                    .into_iter()
                    .filter(|c| c.id == id)
                    .filter_map(|c| c.pid),
            );
        }
    }
    found
}

#[test]
fn each_child_runs_once_on_the_member_placement_names() {
    block_on(async {
        let nodes = cluster(3).await;
        let sups = members(&nodes).await;
        for i in 0..12 {
            let def = job(&format!("job-{i}"), i);
            sups[i as usize % 3].start_child(def).await.unwrap();
        }
        for i in 0..12 {
            let id = format!("job-{i}");
            until("one copy of each child", WAIT, || async {
                copies(&sups, &id).await.len() == 1 && live(&id) == 1
            })
            .await;
            // Every member names the same owner, and that is where it runs.
            let mut owners = Vec::new();
            for sup in &sups {
                let c = sup.children().await.unwrap();
                owners.push(c.into_iter().find(|c| c.id == id).and_then(|c| c.node));
            }
            assert!(owners.windows(2).all(|w| w[0] == w[1]), "{id}: {owners:?}");
            let pid = copies(&sups, &id).await.remove(0);
            assert_eq!(Some(pid.node().to_string()), owners[0]);
            let counter: Pid<Job> = pid.downcast().unwrap();
            assert_eq!(
                counter.get().await,
                Ok(i),
                "it started from the state it was given"
            );
        }
        let spread: std::collections::BTreeSet<String> = {
            let mut s = std::collections::BTreeSet::new();
            for i in 0..12 {
                for p in copies(&sups, &format!("job-{i}")).await {
                    s.insert(p.node().to_string());
                }
            }
            s
        };
        assert!(
            spread.len() >= 2,
            "twelve children spread over the members: {spread:?}"
        );
    });
}

#[test]
fn the_node_that_added_a_child_can_die_and_the_child_runs_on() {
    block_on(async {
        let nodes = cluster(3).await;
        let sups = members(&nodes).await;
        // Added on n0, with ids until one is placed on n0 itself.
        let mut id = String::new();
        for i in 0.. {
            id = format!("singleton-{i}");
            sups[0]
                .start_child(job(&id, 7).global_name(&id))
                .await
                .unwrap();
            until("the child to start", WAIT, || async {
                copies(&sups, &id).await.len() == 1
            })
            .await;
            if copies(&sups, &id).await[0].node() == nodes[0].name() {
                break;
            }
        }
        nodes[0].shutdown().await;
        let rest = &sups[1..];
        until("the child to run again on a survivor", WAIT, || async {
            let c = copies(rest, &id).await;
            c.len() == 1 && c[0].node() != nodes[0].name() && live(&id) == 1
        })
        .await;
        let name = id.clone();
        until("its global name to follow it", WAIT, || async {
            match nodes[1].global().whereis::<Job>(&name) {
                Some(c) => c.get().await == Ok(7),
                None => false,
            }
        })
        .await;
    });
}

#[test]
fn a_child_that_keeps_crashing_is_removed_after_its_intensity_and_a_removed_one_stops() {
    block_on(async {
        let nodes = cluster(2).await;
        let sups = members(&nodes).await;
        let def = job("flaky", 0).intensity(2, Duration::from_secs(30));
        sups[0].start_child(def).await.unwrap();
        for _ in 0..3 {
            until("a copy to run", WAIT, || async {
                copies(&sups, "flaky").await.len() == 1
            })
            .await;
            let pid = copies(&sups, "flaky").await.remove(0);
            nodes[0].exit(pid.clone(), ExitReason::Error("boom".into()));
            until("the copy to end", WAIT, || async {
                !copies(&sups, "flaky").await.contains(&pid)
            })
            .await;
        }
        until("the child to be removed everywhere", WAIT, || async {
            let mut gone = true;
            for sup in &sups {
                gone &= sup
                    .children()
                    .await
                    .is_ok_and(|c| c.iter().all(|c| c.id != "flaky"));
            }
            gone
        })
        .await;
        assert!(copies(&sups, "flaky").await.is_empty());

        sups[1].start_child(job("steady", 0)).await.unwrap();
        until("it runs", WAIT, || async {
            copies(&sups, "steady").await.len() == 1
        })
        .await;
        let pid = copies(&sups, "steady").await.remove(0);
        // An available member hears of another's write a moment later; until then a
        // removal through it is `NoChild`, as for any id it does not know.
        until("the other member to know it", WAIT, || async {
            sups[0]
                .children()
                .await
                .is_ok_and(|c| c.iter().any(|c| c.id == "steady"))
        })
        .await;
        sups[0].terminate_child("steady").await.unwrap();
        until("it stops", WAIT, || async {
            !nodes[0].is_alive(pid.clone()) && !nodes[1].is_alive(pid.clone())
        })
        .await;
        assert_eq!(
            sups[0].terminate_child("steady").await,
            Err(DistError::NoChild("steady".into()))
        );
    });
}

#[test]
fn a_member_that_leaves_hands_its_children_to_the_others() {
    block_on(async {
        let nodes = cluster(3).await;
        let sups = members(&nodes).await;
        add_running(&sups[1], &sups, "w", 9).await;
        sups[2].leave().await.unwrap();
        let rest = &sups[..2];
        for i in 0..9 {
            let id = format!("w{i}");
            until("each runs once on the members left", WAIT, || async {
                let c = copies(rest, &id).await;
                c.len() == 1 && c[0].node() != nodes[2].name() && live(&id) == 1
            })
            .await;
        }
        assert!(matches!(
            sups[2].children().await,
            Err(DistError::NotMember(_))
        ));
        assert_eq!(sups[0].members().await.unwrap().len(), 2);
    });
}

#[test]
fn a_member_that_leaves_hands_a_child_its_state_and_a_crash_later_starts_anew() {
    block_on(async {
        let nodes = cluster(3).await;
        let sups = members(&nodes).await;
        // A job placed on n2, the member that will leave.
        let mut id = String::new();
        for i in 0.. {
            id = format!("h{i}");
            sups[0].start_child(job(&id, 0).hand_off()).await.unwrap();
            until("the job to run", WAIT, || async {
                copies(&sups, &id).await.len() == 1
            })
            .await;
            if copies(&sups, &id).await[0].node() == nodes[2].name() {
                break;
            }
        }
        let first = copies(&sups, &id).await[0]
            .clone()
            .downcast::<Job>()
            .unwrap();
        for _ in 0..5 {
            first.bump().await.unwrap();
        }
        sups[2].leave().await.unwrap();
        let rest = &sups[..2];
        let moved = || async {
            let c = copies(rest, &id).await;
            match c.first().and_then(|p| p.clone().downcast::<Job>()) {
                Some(job) if c.len() == 1 => Some(job),
                _ => None,
            }
        };
        until("the job to run on a member left", WAIT, || async {
            moved().await.is_some()
        })
        .await;
        let second = moved().await.unwrap();
        assert_eq!(second.get().await, Ok(5), "its state was handed over");
        assert_eq!(live(&id), 1, "the old instance stopped");
        // A crash restarts it from its definition, not from the handed-over state.
        nodes[0].kill(&second);
        until("the job to restart anew", WAIT, || async {
            match moved().await {
                Some(job) => job != second && job.get().await == Ok(0),
                None => false,
            }
        })
        .await;
    });
}

#[test]
fn after_a_partition_heals_each_child_runs_once_again() {
    block_on(async {
        let nodes = cluster(3).await;
        let sups = members(&nodes).await;
        add_running(&sups[0], &sups, "p", 6).await;
        let (left, right) = (
            vec![nodes[0].clone()],
            vec![nodes[1].clone(), nodes[2].clone()],
        );
        partition(&[left.clone(), right.clone()]).await;
        // Available: each side runs every child it sees orphaned.
        for i in 0..6 {
            let id = format!("p{i}");
            until("each side to run its own copy", WAIT, || async {
                copies(&sups[..1], &id).await.len() == 1
                    && copies(&sups[1..], &id).await.len() == 1
                    && live(&id) == 2
            })
            .await;
        }
        heal(&[left, right]).await;
        for i in 0..6 {
            let id = format!("p{i}");
            until("one copy of each after the heal", WAIT, || async {
                copies(&sups, &id).await.len() == 1 && live(&id) == 1
            })
            .await;
        }
    });
}

#[test]
fn a_node_not_distributed_is_told_so() {
    block_on(async {
        let node = Node::local();
        assert_eq!(
            DistributedSupervisor::start(&node, "jobs").await.err(),
            Some(DistError::NotDistributed)
        );
    });
}

const BIN: &str = env!("CARGO_BIN_EXE_testnode");

/// The global name's process answers a call.
async fn answers(node: &Node, name: &str) -> Option<String> {
    let counter = node.global().whereis::<Counter>(name)?;
    counter
        .get()
        .timeout(Duration::from_millis(300))
        .await
        .ok()
        .map(|_| counter.node().to_string())
}

#[test]
fn killing_the_node_that_added_a_child_and_then_its_node_leaves_it_running() {
    block_on(async {
        let here = start_watchful("here").await;
        here.allow_spawn::<Counter>();
        let sup = DistributedSupervisor::start(&here, "jobs").await.unwrap();
        let other = ChildNode::start(
            BIN,
            "other@127.0.0.1:0",
            &[here.name()],
            &["--dsup", "jobs", "--heartbeat-ms", "200"],
        );
        let mut adder = ChildNode::start(
            BIN,
            "adder@127.0.0.1:0",
            &[here.name(), &other.name],
            &[
                "--dsup",
                "jobs",
                "--dsup-child",
                "singleton",
                "--heartbeat-ms",
                "200",
            ],
        );
        until("three members", WAIT, || async {
            sup.members().await.map(|m| m.len()) == Ok(3)
        })
        .await;
        until("the singleton to answer", WAIT, || async {
            answers(&here, "singleton").await.is_some()
        })
        .await;
        let first = answers(&here, "singleton").await.unwrap();
        adder.kill();
        until("the singleton to answer on a survivor", WAIT, || async {
            answers(&here, "singleton")
                .await
                .is_some_and(|n| n != adder.name)
        })
        .await;
        let now = answers(&here, "singleton").await.unwrap();
        assert!(
            first == adder.name || now == first,
            "it moved only if its node died"
        );
        if now == other.name {
            let mut other = other;
            other.kill();
            until("the singleton to answer here", WAIT, || async {
                answers(&here, "singleton").await.as_deref() == Some(here.name())
            })
            .await;
        }
        assert_eq!(
            sup.locate("singleton", Duration::from_secs(1))
                .await
                .unwrap()
                .len(),
            1
        );
    });
}

#[test]
fn a_frozen_member_loses_its_children_and_after_the_thaw_one_copy_runs() {
    block_on(async {
        let here = start_watchful("here").await;
        here.allow_spawn::<Counter>();
        let sup = DistributedSupervisor::start(&here, "jobs").await.unwrap();
        let mut frozen = ChildNode::start(
            BIN,
            "frozen@127.0.0.1:0",
            &[here.name()],
            &["--dsup", "jobs", "--heartbeat-ms", "200"],
        );
        until("two members", WAIT, || async {
            sup.members().await.map(|m| m.len()) == Ok(2)
        })
        .await;
        // A child placed on the node about to freeze.
        let mut id = String::new();
        for i in 0.. {
            id = format!("frost-{i}");
            let def = ChildDef::new(&id, &Counter { n: 0 })
                .unwrap()
                .global_name(&id);
            sup.start_child(def).await.unwrap();
            until("the child to answer", WAIT, || async {
                answers(&here, &id).await.is_some()
            })
            .await;
            if answers(&here, &id).await.as_deref() == Some(frozen.name.as_str()) {
                break;
            }
        }
        frozen.freeze();
        until("the child to answer here", WAIT, || async {
            answers(&here, &id).await.as_deref() == Some(here.name())
        })
        .await;
        frozen.thaw();
        until("the thawed node back among the members", WAIT, || async {
            sup.members().await.map(|m| m.len()) == Ok(2)
        })
        .await;
        until("one copy once the members agree again", WAIT, || async {
            sup.locate(&id, Duration::from_secs(1))
                .await
                .is_ok_and(|c| c.len() == 1)
        })
        .await;
        until("the name to answer", WAIT, || async {
            answers(&here, &id).await.is_some()
        })
        .await;
    });
}
