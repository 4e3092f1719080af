//! Supervisors: strategies, restart types, intensity, shutdown order, dynamic and named
//! children, and no leaks over many restarts.

use std::future::{Future, IntoFuture};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actors::prelude::*;
use actors::rt::block_on;
use actors::supervisor::{
    ChildCounts, ChildSpec, Restart, StartError, Strategy, Supervisor, SupervisorError,
};

type Log = Arc<Mutex<Vec<String>>>;

#[actor]
struct Worker {
    name: String,
    log: Log,
}

#[actor(local)]
impl Worker {
    fn started(&mut self) {
        self.log
            .lock()
            .unwrap()
            .push(format!("start {}", self.name));
    }
    fn stopped(&mut self, reason: &ExitReason) {
        self.log
            .lock()
            .unwrap()
            .push(format!("stop {} {reason}", self.name));
    }
    #[handle]
    fn fail(&mut self, reason: ExitReason, ctx: &mut Ctx<Self>) {
        ctx.stop(reason)
    }
    #[handle]
    fn who(&self) -> String {
        self.name.clone()
    }
    #[handle]
    async fn hang(&self) {
        actors::rt::sleep(Duration::from_secs(30)).await
    }
}

fn spec(name: &str, log: &Log) -> ChildSpec {
    let (name, log) = (name.to_string(), log.clone());
    ChildSpec::new(name.clone(), move || Worker {
        name: name.clone(),
        log: log.clone(),
    })
}

/// Polls `check` until it holds, for at most 5 seconds.
async fn until<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "waited 5 s for {what}");
        actors::rt::sleep(Duration::from_millis(2)).await;
    }
}

async fn pids(sup: &Pid<Supervisor>) -> Vec<Option<AnyPid>> {
    sup.which_children()
        .await
        .expect("supervisor alive")
        .into_iter()
        .map(|c| c.pid)
        .collect()
}

fn worker(pid: &Option<AnyPid>) -> Pid<Worker> {
    pid.as_ref()
        .and_then(|p| p.downcast())
        .expect("a running worker")
}

fn three(strategy: Strategy, log: &Log) -> Supervisor {
    Supervisor::new(strategy)
        .child(spec("a", log))
        .child(spec("b", log))
        .child(spec("c", log))
}

/// Fails child `b` and waits until it has been replaced.
async fn fail_b(sup: &Pid<Supervisor>) -> (Vec<Option<AnyPid>>, Vec<Option<AnyPid>>) {
    let before = pids(sup).await;
    worker(&before[1])
        .fail(ExitReason::Error("boom".into()))
        .await
        .expect("call");
    let old_b = before[1].clone();
    until("b to be restarted", || async {
        let now = pids(sup).await;
        now[1].is_some() && now[1] != old_b && now.iter().all(Option::is_some)
    })
    .await;
    (before, pids(sup).await)
}

fn log_after(log: &Log, start: usize) -> Vec<String> {
    log.lock().unwrap()[start..].to_vec()
}

#[test]
fn one_for_one_restarts_only_the_failed_child() {
    block_on(async {
        let node = Node::local();
        let log = Log::default();
        let sup = three(Strategy::OneForOne, &log)
            .start(&node)
            .await
            .expect("the children start");
        assert_eq!(*log.lock().unwrap(), ["start a", "start b", "start c"]);
        let (before, after) = fail_b(&sup).await;
        assert_eq!(before[0], after[0]);
        assert_eq!(before[2], after[2]);
        assert_eq!(log_after(&log, 3), ["stop b error: boom", "start b"]);
    });
}

#[test]
fn one_for_all_restarts_every_child_in_order() {
    block_on(async {
        let node = Node::local();
        let log = Log::default();
        let sup = three(Strategy::OneForAll, &log)
            .start(&node)
            .await
            .expect("the children start");
        let (before, after) = fail_b(&sup).await;
        for i in 0..3 {
            assert_ne!(before[i], after[i]);
        }
        assert_eq!(
            log_after(&log, 3),
            [
                "stop b error: boom",
                "stop c shutdown",
                "stop a shutdown",
                "start a",
                "start b",
                "start c"
            ]
        );
    });
}

#[test]
fn rest_for_one_restarts_the_failed_child_and_those_after_it() {
    block_on(async {
        let node = Node::local();
        let log = Log::default();
        let sup = three(Strategy::RestForOne, &log)
            .start(&node)
            .await
            .expect("the children start");
        let (before, after) = fail_b(&sup).await;
        assert_eq!(before[0], after[0]);
        assert_ne!(before[2], after[2]);
        assert_eq!(
            log_after(&log, 3),
            [
                "stop b error: boom",
                "stop c shutdown",
                "start b",
                "start c"
            ]
        );
    });
}

#[test]
fn restart_types() {
    block_on(async {
        let node = Node::local();
        let log = Log::default();
        let sup = Supervisor::new(Strategy::OneForOne)
            .child(spec("t1", &log).restart(Restart::Transient))
            .child(spec("t2", &log).restart(Restart::Transient))
            .child(spec("tmp", &log).restart(Restart::Temporary))
            .start(&node)
            .await
            .expect("the children start");
        let first = pids(&sup).await;
        // Transient, normal exit: not restarted, but still known.
        worker(&first[0]).fail(ExitReason::Normal).await.unwrap();
        until("t1 to end", || async { pids(&sup).await[0].is_none() }).await;
        // Transient, abnormal exit: restarted.
        worker(&first[1])
            .fail(ExitReason::Error("x".into()))
            .await
            .unwrap();
        until("t2 to restart", || async {
            let now = pids(&sup).await;
            now[1].is_some() && now[1] != first[1]
        })
        .await;
        // Temporary: never restarted, and forgotten.
        worker(&first[2])
            .fail(ExitReason::Error("x".into()))
            .await
            .unwrap();
        until("tmp to be forgotten", || async {
            sup.count_children().await.unwrap().specs == 2
        })
        .await;
        assert_eq!(
            sup.count_children().await.unwrap(),
            ChildCounts {
                specs: 2,
                active: 1
            }
        );
    });
}

#[test]
fn past_its_intensity_a_supervisor_exits_and_its_own_supervisor_restarts_it() {
    block_on(async {
        let node = Node::local();
        let log = Log::default();
        let inner_log = log.clone();
        let top = Supervisor::new(Strategy::OneForOne)
            .intensity(5, Duration::from_secs(60))
            .child(ChildSpec::new("inner", move || {
                Supervisor::new(Strategy::OneForOne)
                    .intensity(2, Duration::from_secs(60))
                    .child(spec("w", &inner_log))
            }))
            .start(&node)
            .await
            .expect("the children start");
        let inner = pids(&top).await[0].clone().expect("inner running");
        let inner_pid: Pid<Supervisor> = inner.downcast().expect("a supervisor");
        let inner_down = node.monitor(&inner);
        // Two restarts are allowed; the third failure is one too many.
        for _ in 0..3 {
            let w = pids(&inner_pid).await[0].clone();
            worker(&w)
                .fail(ExitReason::Error("again".into()))
                .await
                .unwrap();
            until("a restart or the end", || async {
                match inner_pid.which_children().await {
                    Ok(c) => c[0].pid.is_some() && c[0].pid != w,
                    Err(_) => true,
                }
            })
            .await;
        }
        let down = inner_down.await;
        assert_eq!(
            down.reason,
            ExitReason::Error("restart intensity exceeded: more than 2 restarts in 60s".into())
        );
        until("the top supervisor to restart inner", || async {
            let now = pids(&top).await;
            now[0].is_some() && now[0] != Some(inner.clone())
        })
        .await;
        let new_inner: Pid<Supervisor> = pids(&top).await[0].clone().unwrap().downcast().unwrap();
        assert_eq!(new_inner.count_children().await.unwrap().active, 1);
    });
}

#[test]
fn children_stop_in_reverse_order_and_stragglers_are_killed() {
    block_on(async {
        let node = Node::local();
        let log = Log::default();
        let sup = Supervisor::new(Strategy::OneForOne)
            .child(spec("a", &log))
            .child(spec("b", &log).shutdown(Duration::from_millis(100)))
            .child(spec("c", &log))
            .start(&node)
            .await
            .expect("the children start");
        let children = pids(&sup).await;
        // b is busy in a long handler: it cannot stop in time, and is killed. Polling the call
        // once sends it, so it is queued before the stop.
        let b = worker(&children[1]);
        let mut hang = std::pin::pin!(b.hang().into_future());
        assert!(futures::poll!(hang.as_mut()).is_pending());
        let b_down = node.monitor(children[1].clone().unwrap());
        let sup_down = node.monitor(&sup);
        let started = Instant::now();
        node.stop(&sup, ExitReason::Shutdown);
        assert_eq!(sup_down.await.reason, ExitReason::Shutdown);
        assert_eq!(b_down.await.reason, ExitReason::Killed);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            log_after(&log, 3),
            ["stop c shutdown", "stop a shutdown"],
            "c first, then b (killed: no stopped hook), then a"
        );
        assert_eq!(node.process_count(), 0);
    });
}

#[test]
fn dynamic_children() {
    block_on(async {
        let node = Node::local();
        let log = Log::default();
        let sup = Supervisor::new(Strategy::OneForOne)
            .start(&node)
            .await
            .expect("the children start");
        assert_eq!(
            sup.count_children().await.unwrap(),
            ChildCounts {
                specs: 0,
                active: 0
            }
        );
        let x = sup.start_child(spec("x", &log)).await.unwrap().unwrap();
        let y = sup.start_child(spec("y", &log)).await.unwrap().unwrap();
        assert_eq!(
            sup.start_child(spec("x", &log)).await.unwrap(),
            Err(SupervisorError::DuplicateId("x".into()))
        );
        let listed: Vec<(String, Option<AnyPid>)> = sup
            .which_children()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.id, c.pid))
            .collect();
        assert_eq!(
            listed,
            vec![("x".into(), Some(x.clone())), ("y".into(), Some(y))]
        );
        let x_down = node.monitor(&x);
        assert_eq!(sup.terminate_child("x".into()).await.unwrap(), Ok(()));
        assert_eq!(x_down.await.reason, ExitReason::Shutdown);
        assert_eq!(
            sup.terminate_child("x".into()).await.unwrap(),
            Err(SupervisorError::NotFound("x".into()))
        );
        assert_eq!(
            sup.count_children().await.unwrap(),
            ChildCounts {
                specs: 1,
                active: 1
            }
        );
    });
}

#[test]
fn a_named_child_is_found_by_name_across_restarts() {
    block_on(async {
        let node = Node::local();
        let log = Log::default();
        let _sup = Supervisor::new(Strategy::OneForOne)
            .child(spec("w", &log).name("worker"))
            .start(&node)
            .await
            .expect("the children start");
        let first: Pid<Worker> = node.whereis("worker").expect("registered");
        assert_eq!(first.who().await, Ok("w".to_string()));
        first.fail(ExitReason::Error("crash".into())).await.unwrap();
        until("a new worker under the name", || async {
            node.whereis::<Worker>("worker").is_some_and(|p| p != first)
        })
        .await;
        let second: Pid<Worker> = node.whereis("worker").unwrap();
        assert_eq!(second.who().await, Ok("w".to_string()));
    });
}

#[test]
fn a_thousand_restarts_leak_nothing() {
    block_on(async {
        let node = Node::local();
        let log = Log::default();
        let sup = Supervisor::new(Strategy::OneForOne)
            .intensity(2_000, Duration::from_secs(600))
            .child(spec("w", &log).name("worker"))
            .start(&node)
            .await
            .expect("the children start");
        let mut current: Pid<Worker> = node.whereis("worker").expect("registered");
        for i in 0..1_000 {
            if i % 2 == 0 {
                current
                    .fail(ExitReason::Error("cycle".into()))
                    .await
                    .unwrap();
            } else {
                let _ = current.hang().timeout(Duration::from_millis(1));
                node.kill(&current);
            }
            let old = current.clone();
            until("the next worker", || async {
                node.whereis::<Worker>("worker").is_some_and(|p| p != old)
            })
            .await;
            current = node.whereis("worker").unwrap();
        }
        assert_eq!(current.who().await, Ok("w".to_string()));
        assert_eq!(node.process_count(), 2, "the supervisor and one worker");
        assert_eq!(node.registered(), vec!["worker".to_string()]);
        let info = node.process_info(&sup).await.expect("supervisor alive");
        assert_eq!(info.links, vec![current.any()]);
        assert_eq!((info.monitors.len(), info.monitored_by), (0, 0));
        let info = node.process_info(&current).await.expect("worker alive");
        assert_eq!(info.links, vec![sup.any()]);
    });
}

/// A supervisor that gives up inside its own start may end before `start` watches it: the
/// reason returned is still why it gave up, every time, not `NoProc`.
#[test]
fn a_supervisor_that_gives_up_at_once_says_why_every_time() {
    actors::rt::block_on(async {
        let node = Node::local();
        for _ in 0..200 {
            let failing = Supervisor::new(Strategy::OneForOne)
                .intensity(0, Duration::from_secs(10))
                .child(ChildSpec::with_start("never", |_| {
                    Box::pin(async { Err("no room".to_string()) })
                }))
                .start(&node)
                .await;
            assert!(
                matches!(&failing, Err(StartError::GaveUp(ExitReason::Error(why))) if why.contains("intensity")),
                "{failing:?}"
            );
        }
    });
}
