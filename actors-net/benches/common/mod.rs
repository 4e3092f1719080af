//! What the cluster benchmarks share: three nodes over loopback, and a latency summary.

use std::time::Duration;

use actors_net::prelude::*;

/// Starts nodes `a`, `b` and `c` on loopback and waits until they form a full mesh.
pub async fn three_nodes() -> Vec<Node> {
    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        let n = Node::builder(&format!("{name}@127.0.0.1:0"))
            .cookie("bench")
            .start()
            .await
            .expect("a node starts");
        nodes.push(n);
    }
    for n in &nodes[1..] {
        n.connect(nodes[0].name()).await.expect("connects");
    }
    while nodes.iter().any(|n| n.nodes().len() < 2) {
        actors::rt::sleep(Duration::from_millis(5)).await;
    }
    nodes
}

/// The median and the 99th percentile of `us`.
pub fn spread(mut us: Vec<f64>) -> (f64, f64) {
    us.sort_by(|a, b| a.total_cmp(b));
    (us[us.len() / 2], us[(us.len() - 1) * 99 / 100])
}
