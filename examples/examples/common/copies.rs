//! For the examples that split a cluster: which copies of a child ran when and where, as the
//! copies themselves report it, and a split and a heal made by blocking connections.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actors_net::distributed::FencingToken;
use actors_net::prelude::*;

/// One copy of a child: where, when it started and stopped, and its fencing token.
pub struct Run {
    pub node: String,
    pub started: Instant,
    pub stopped: Option<Instant>,
    pub token: FencingToken,
}

static RUNS: Mutex<Vec<Run>> = Mutex::new(Vec::new());

/// A copy started on `node` (call it from the child's `started` hook).
pub fn started(node: &str, token: FencingToken) {
    RUNS.lock().unwrap().push(Run {
        node: node.to_string(),
        started: Instant::now(),
        stopped: None,
        token,
    });
}

/// The copy on `node` stopped (call it from the child's `stopped` hook).
pub fn stopped(node: &str) {
    let mut runs = RUNS.lock().unwrap();
    if let Some(run) = runs
        .iter_mut()
        .rev()
        .find(|r| r.node == node && r.stopped.is_none())
    {
        run.stopped = Some(Instant::now());
    }
}

/// The nodes running a copy now.
pub fn running() -> Vec<String> {
    RUNS.lock()
        .unwrap()
        .iter()
        .filter(|r| r.stopped.is_none())
        .map(|r| r.node.clone())
        .collect()
}

/// What the copy that stopped on `old` and the latest copy give: (when the old one stopped,
/// when the latest started, where, the old token, the latest token).
pub fn moved_from(old: &str) -> Option<(Instant, Instant, String, FencingToken, FencingToken)> {
    let runs = RUNS.lock().unwrap();
    let before = runs.iter().find(|r| r.node == old && r.stopped.is_some())?;
    let after = runs.last()?;
    Some((
        before.stopped?,
        after.started,
        after.node.clone(),
        before.token,
        after.token,
    ))
}

/// The most copies that ran at one instant.
pub fn most_at_once() -> i32 {
    let runs = RUNS.lock().unwrap();
    let mut events: Vec<(Instant, i32)> = Vec::new();
    for r in runs.iter() {
        events.push((r.started, 1));
        if let Some(s) = r.stopped {
            events.push((s, -1));
        }
    }
    // At one instant, a stop counts before a start.
    events.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0, 0);
    for (_, d) in events {
        now += d;
        most = most.max(now);
    }
    most
}

/// Waits (at most 20 s) until `done`.
pub async fn wait(what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let since = Instant::now();
    while !done() {
        if since.elapsed() > Duration::from_secs(20) {
            return Err(format!("timed out waiting for {what}"));
        }
        actors::rt::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Cuts every connection between the nodes at `minority` and the others, both ways.
pub fn split(nodes: &[Node], minority: &[usize]) {
    for a in 0..nodes.len() {
        for b in 0..nodes.len() {
            if minority.contains(&a) != minority.contains(&b) {
                nodes[a].block(nodes[b].name());
            }
        }
    }
}

/// Lifts every block and connects the nodes again.
pub async fn heal(nodes: &[Node]) {
    for a in nodes {
        for b in nodes {
            a.unblock(b.name());
        }
    }
    for node in nodes {
        for other in nodes {
            if node.name() != other.name() && !node.nodes().iter().any(|n| n == other.name()) {
                let _ = node.connect(other.name()).await;
            }
        }
    }
}
