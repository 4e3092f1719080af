//! What the logs say (through `tracing`): a crash report for a process that crashes, and
//! supervisors' restarts and giving up. One test, since it installs the process-wide
//! subscriber.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::rt::block_on;
use actors::supervisor::{ChildSpec, StartError, Strategy, Supervisor};
use actors_integration::Counter;
use actors_net::prelude::*;

/// Everything logged, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[test]
fn crashes_restarts_and_giving_up_are_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .init();
    block_on(async {
        let nodes = actors_integration::cluster(2).await;
        let (node, other) = (&nodes[0], &nodes[1]);
        // A crash report: pid, name, reason, and the handler it was in. The process runs on
        // `other` and crashes there; its pid in that node's log reads as `node` prints it, with
        // the home node's name (Erlang's `#PID<0.5.0>` on one node is `#PID<1.5.0>` on another).
        let counter = other.spawn(Counter { n: 0 });
        other.register("the-counter", &counter).unwrap();
        let seen: Pid<Counter> = node.whereis_on("the-counter", other.name()).await.unwrap();
        assert_ne!(seen.to_string(), counter.to_string());
        assert_eq!(seen.logged().to_string(), counter.logged().to_string());
        assert!(
            seen.logged()
                .to_string()
                .starts_with(&format!("#PID<{}.", other.name())),
            "{}",
            seen.logged()
        );
        let _ = seen.crash().await;
        let report = format!("pid={}", seen.logged());
        let mut found = false;
        for _ in 0..500 {
            let text = logs.text();
            if let Some(line) = text
                .lines()
                .find(|l| l.contains("process crashed") && l.contains(&report))
            {
                assert!(line.contains("ERROR"), "{line}");
                assert!(line.contains("name=\"the-counter\""), "{line}");
                assert!(line.contains("handler=\"crash\""), "{line}");
                assert!(line.contains("counter crashed on request"), "{line}");
                found = true;
                break;
            }
            actors::rt::sleep(Duration::from_millis(2)).await;
        }
        assert!(found, "a crash report: {}", logs.text());
        // A clean stop is no crash.
        let quiet = node.spawn(Counter { n: 0 });
        let _ = quiet.quit(ExitReason::Normal).await;
        let _ = node.monitor(&quiet).await;
        assert!(!logs.text().contains(&format!("pid={}", quiet.logged())));

        // A supervisor logs a restart, and when it gives up.
        let sup = Supervisor::new(Strategy::OneForOne)
            .intensity(1, Duration::from_secs(10))
            .child(ChildSpec::new("c", || Counter { n: 0 }).name("c"))
            .start(node)
            .await
            .expect("the children start");
        let child: Pid<Counter> = node.whereis("c").unwrap();
        let _ = child.crash().await;
        let mut restarted = None;
        for _ in 0..500 {
            restarted = node.whereis::<Counter>("c").filter(|p| *p != child);
            if restarted.is_some() {
                break;
            }
            actors::rt::sleep(Duration::from_millis(2)).await;
        }
        assert!(
            logs.text().contains("child exited; restarting"),
            "{}",
            logs.text()
        );
        let _ = restarted.expect("restarted").crash().await;
        let _ = node.monitor(&sup).await;
        assert!(logs.text().contains("giving up"), "{}", logs.text());

        // A supervisor whose children cannot start returns why, not a pid.
        let failing = Supervisor::new(Strategy::OneForOne)
            .intensity(2, Duration::from_secs(10))
            .child(ChildSpec::with_start("never", |_| {
                Box::pin(async { Err("no room for it".to_string()) })
            }))
            .start(node)
            .await;
        assert!(
            matches!(&failing, Err(StartError::GaveUp(ExitReason::Error(why))) if why.contains("intensity")),
            "{failing:?}"
        );
        assert!(logs.text().contains("could not start: no room for it"));
    });
}
