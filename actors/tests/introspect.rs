//! Looking into a running node: its processes, what each holds and has done, its state when
//! the actor opts in, and its supervision trees.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actors::introspect::{INFO_WAIT, SupervisionTree};
use actors::prelude::*;
use actors::rt::block_on;
use actors::supervisor::{ChildSpec, Restart, Strategy, Supervisor};

#[actor]
#[derive(Debug)]
struct Worker {
    jobs: u32,
}

#[actor(debug)]
impl Worker {
    #[handle]
    fn work(&mut self) -> u32 {
        self.jobs += 1;
        self.jobs
    }
    #[handle]
    fn watch(&mut self, other: AnyPid, ctx: &mut Ctx<Self>) {
        ctx.monitor(other);
    }
    #[handle]
    fn crash(&self) {
        panic!("asked to")
    }
}

/// An actor that keeps its state to itself: it does not opt in.
#[actor]
#[derive(Debug)]
struct Private {
    key: u64,
}

#[actor]
impl Private {
    #[handle]
    fn key(&self) -> u64 {
        self.key
    }
}

async fn until<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actors::rt::sleep(Duration::from_millis(2)).await;
    }
}

#[test]
fn every_process_is_listed_with_what_it_holds_and_has_done() {
    block_on(async {
        let node = Node::local();
        let sup = Supervisor::new(Strategy::OneForOne)
            .child(ChildSpec::new("worker", || Worker { jobs: 0 }).name("worker"))
            .start(&node)
            .await
            .unwrap();
        let worker: Pid<Worker> = node.whereis("worker").unwrap();
        let loner = node.spawn(Private { key: 7 });
        worker.work().await.unwrap();
        worker.work().await.unwrap();
        worker.watch(loner.any()).await.unwrap();

        let all = node.processes().await;
        assert_eq!(all.len(), 3, "{all:?}");
        let of = |pid: AnyPid| all.iter().find(|i| i.pid == pid).unwrap().clone();
        let w = of(worker.any());
        assert_eq!(w.name.as_deref(), Some("worker"));
        assert!(w.actor.ends_with("Worker"), "{}", w.actor);
        assert_eq!(w.messages_handled, 3);
        assert_eq!(w.parent, Some(sup.any()));
        assert_eq!(w.links, vec![sup.any()]);
        assert_eq!(w.monitors, vec![loner.any()]);
        assert_eq!(w.restarts, Some(0));
        assert_eq!(w.state, None, "processes() does not print states");
        let l = of(loner.any());
        assert_eq!((l.name, l.parent, l.restarts), (None, None, None));
        assert_eq!(l.monitored_by, 1);
        let s = of(sup.any());
        assert!(s.actor.ends_with("Supervisor"), "{}", s.actor);
        assert!(s.trap_exit);

        // A crash and a restart: the new instance is listed, its restart counted.
        let _ = worker.crash().await;
        until("the restart", || async {
            node.whereis::<Worker>("worker")
                .is_some_and(|p| p != worker)
        })
        .await;
        let again: Pid<Worker> = node.whereis("worker").unwrap();
        let info = node.process_info(&again).await.unwrap();
        assert_eq!((info.restarts, info.messages_handled), (Some(1), 0));
        assert_eq!(
            node.process_info(&worker).await,
            None,
            "the old one is gone"
        );
    });
}

#[test]
fn a_state_is_shown_only_when_its_actor_opts_in() {
    block_on(async {
        let node = Node::local();
        let worker = node.spawn(Worker { jobs: 0 });
        worker.work().await.unwrap();
        let info = node.inspect(&worker).await.unwrap();
        assert_eq!(info.state.as_deref(), Some("Worker {\n    jobs: 1,\n}"));
        assert_eq!(node.process_info(&worker).await.unwrap().state, None);

        let private = node.spawn(Private { key: 42 });
        assert_eq!(private.key().await, Ok(42));
        assert_eq!(node.inspect(&private).await.unwrap().state, None);
    });
}

#[test]
fn supervision_trees_are_data_down_to_the_workers() {
    block_on(async {
        let node = Node::local();
        let inner = || {
            Supervisor::new(Strategy::OneForAll)
                .child(ChildSpec::new("a", || Worker { jobs: 0 }).name("a"))
                .child(ChildSpec::new("b", || Worker { jobs: 0 }))
        };
        let root = Supervisor::new(Strategy::RestForOne)
            .child(ChildSpec::new("inner", inner).name("inner"))
            .child(ChildSpec::new("c", || Worker { jobs: 0 }).restart(Restart::Transient))
            .start(&node)
            .await
            .unwrap();
        node.register("root", &root).unwrap();
        // Unsupervised work beside the tree is no tree.
        let _loner = node.spawn(Worker { jobs: 0 });

        let a: Pid<Worker> = node.whereis("a").unwrap();
        let _ = a.crash().await;
        until("a's restart", || async {
            node.whereis::<Worker>("a").is_some_and(|p| p != a)
        })
        .await;

        let trees = node.supervision_trees().await;
        assert_eq!(trees.len(), 1, "{trees:#?}");
        let root_tree: &SupervisionTree = &trees[0];
        assert_eq!(root_tree.pid, root.any());
        assert_eq!(root_tree.name.as_deref(), Some("root"));
        assert_eq!(root_tree.strategy, Strategy::RestForOne);
        let ids: Vec<_> = root_tree
            .children
            .iter()
            .map(|c| c.info.id.as_str())
            .collect();
        assert_eq!(ids, ["inner", "c"]);
        assert_eq!(root_tree.children[1].info.restart, Restart::Transient);
        assert!(root_tree.children[1].tree.is_none(), "a worker has no tree");
        let inner_tree = root_tree.children[0]
            .tree
            .as_ref()
            .expect("a nested supervisor");
        assert_eq!(inner_tree.name.as_deref(), Some("inner"));
        assert_eq!(inner_tree.strategy, Strategy::OneForAll);
        // One for all: both were restarted when `a` crashed.
        let restarts: Vec<_> = inner_tree
            .children
            .iter()
            .map(|c| c.info.restarts)
            .collect();
        assert_eq!(restarts, [1, 1]);
        assert_eq!(
            inner_tree.children[0].info.pid,
            node.whereis::<Worker>("a").map(|p| p.any())
        );
    });
}

/// A process that naps in a handler and says when the nap has begun.
#[actor]
struct Napper {
    began: Arc<AtomicBool>,
}

#[actor(local)]
impl Napper {
    #[handle(cast)]
    async fn nap(&self, ms: u64) {
        self.began.store(true, Ordering::SeqCst);
        actors::rt::sleep(Duration::from_millis(ms)).await;
    }
    #[handle(cast)]
    fn poke(&self) {}
}

#[test]
fn a_busy_process_is_listed_without_holding_up_the_list() {
    block_on(async {
        let node = Node::local();
        let began = Arc::new(AtomicBool::new(false));
        let busy = node.spawn(Napper {
            began: began.clone(),
        });
        let idle = node.spawn(Worker { jobs: 0 });
        // In a handler for far longer than the list waits, with a message queued behind.
        busy.nap(30_000).unwrap();
        busy.poke().unwrap();
        until("the nap to begin", || {
            let began = began.clone();
            async move { began.load(Ordering::SeqCst) }
        })
        .await;
        // Listed again and again: it is asked once, so its mailbox does not fill with
        // requests while it is stuck.
        let mut lengths = Vec::new();
        for _ in 0..3 {
            let began = Instant::now();
            let all = node.processes().await;
            assert!(began.elapsed() < INFO_WAIT * 8, "{:?}", began.elapsed());
            let b = all.iter().find(|i| i.pid == busy.any()).expect("listed");
            assert_eq!(b.messages_handled, 1, "the nap, taken");
            assert!(b.actor.ends_with("Napper"), "{}", b.actor);
            lengths.push(b.message_queue_len);
            let i = all.iter().find(|i| i.pid == idle.any()).expect("listed");
            assert_eq!(i.message_queue_len, 0);
        }
        assert_eq!(lengths, [2, 2, 2], "the cast and one request");
        node.kill(&busy);
    });
}

#[test]
fn the_load_counts_messages_of_ended_processes_too() {
    block_on(async {
        let node = Node::local();
        let before = node.load();
        let a = node.spawn(Worker { jobs: 0 });
        for _ in 0..5 {
            a.work().await.unwrap();
        }
        let down = node.monitor(&a);
        node.stop(&a, ExitReason::Normal);
        down.await;
        let b = node.spawn(Worker { jobs: 0 });
        b.work().await.unwrap();
        let after = node.load();
        assert_eq!(after.spawned - before.spawned, 2);
        assert_eq!(after.messages_handled - before.messages_handled, 6);
        assert_eq!(after.processes, before.processes + 1);
    });
}

/// An actor whose state serialises, and shows it.
#[actor]
#[derive(Debug, serde::Serialize)]
struct Ledger {
    entries: Vec<u32>,
}

#[actor(debug)]
impl Ledger {
    #[handle]
    fn add(&mut self, n: u32) {
        self.entries.push(n);
    }
}

/// An actor whose state does not serialise, but shows its `Debug` text.
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
fn a_state_is_shown_as_a_term_when_it_serialises_and_as_text_otherwise() {
    use actors::dist::{ShownState, shown_state};
    block_on(async {
        let node = Node::local();
        let ledger = node.spawn(Ledger { entries: vec![] });
        ledger.add(7).await.unwrap();
        let expected = actors::etf::to_term(&Ledger { entries: vec![7] }).unwrap();
        assert_eq!(
            shown_state(&ledger.any()).await,
            Some(ShownState::Term(expected))
        );

        let opaque = node.spawn(Opaque { seen: 0 });
        opaque.see().await.unwrap();
        assert_eq!(
            shown_state(&opaque.any()).await,
            Some(ShownState::Text("Opaque {\n    seen: 1,\n}".into()))
        );

        let private = node.spawn(Private { key: 1 });
        assert_eq!(shown_state(&private.any()).await, Some(ShownState::Hidden));
        node.kill(&private);
        let down = node.monitor(&private);
        down.await;
        assert_eq!(shown_state(&private.any()).await, None, "gone");
    });
}
