//! A lost node is redialled for minutes; its survivors log the first failure as a warning,
//! the retries at debug with their count, and the recovery once. One test, since it installs
//! the process-wide subscriber.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors_integration::child::ChildNode;
use actors_integration::{DistNode, join_child, until};

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
    /// The lines that contain every one of `parts`.
    fn lines_with(&self, parts: &[&str]) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .map(str::to_string)
            .collect()
    }
}

#[test]
fn a_lost_node_is_warned_of_once_while_it_is_redialled() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_env_filter("actors_net=debug")
        .init();
    actors::rt::block_on(async {
        let node = actors_integration::start("survivor").await;
        let bin = env!("CARGO_BIN_EXE_testnode");
        let mut child = join_child(bin, "lost@127.0.0.1:0", &node).await;
        let lost = child.name.clone();
        child.kill();

        // Redials back off (0.2 s, 0.4 s, 0.8 s, ...): three retries come within seconds.
        until("three failed retries", Duration::from_secs(20), || async {
            logs.lines_with(&["DEBUG", &format!("connection to {lost} failed again")])
                .len()
                >= 3
        })
        .await;
        let warnings = logs.lines_with(&["WARN", &format!("connection to {lost} failed")]);
        assert_eq!(warnings.len(), 1, "one warning for the run: {warnings:#?}");
        assert!(warnings[0].contains("retrying"), "{}", warnings[0]);

        // The node comes back on its address: the survivor connects, and says after how
        // many failures.
        let _back = ChildNode::start(bin, &lost, &[], &[]);
        until("the node back", Duration::from_secs(20), || async {
            node.nodes().contains(&lost)
        })
        .await;
        let recovered = logs.lines_with(&["INFO", &format!("connected to {lost} after")]);
        assert_eq!(recovered.len(), 1, "{recovered:#?}");
        let failed_again = logs
            .lines_with(&[&format!("connection to {lost} failed again")])
            .len();
        assert!(
            recovered[0].contains(&format!("after {} failed attempts", failed_again + 1)),
            "{} (retries logged: {failed_again})",
            recovered[0]
        );
    });
}
