//! Cluster-wide names: register on one node, look up and call from the others; then split
//! the cluster, register the same name on both sides, heal, and see the conflict resolved.
//!
//! Run it with `cargo run --example registry`.

use std::time::{Duration, Instant};

use actors_net::prelude::*;

/// A named service.
#[actor]
struct Service {
    label: String,
}

#[actor]
impl Service {
    fn stopped(&mut self, reason: &ExitReason) {
        println!("    [{}] stopped: {reason}", self.label);
    }

    /// Says who answers.
    #[handle]
    fn hello(&self) -> String {
        format!("hello from {}", self.label)
    }
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actors::rt::sleep(Duration::from_millis(10)).await;
    }
}

/// Cuts every link between `left` and `right`, and waits until each side sees only itself.
async fn split(left: &[&Node], right: &[&Node]) {
    for a in left {
        for b in right {
            a.block(b.name());
            b.block(a.name());
        }
    }
    wait_for("the split", || {
        left.iter().all(|n| n.nodes().len() == left.len() - 1)
            && right.iter().all(|n| n.nodes().len() == right.len() - 1)
    })
    .await;
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors_net::logs::init();
    actors::rt::block_on(async {
        let mut nodes = Vec::new();
        for name in ["a", "b", "c"] {
            nodes.push(
                Node::builder(&format!("{name}@127.0.0.1:0"))
                    .cookie("registry")
                    .start()
                    .await?,
            );
        }
        let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
        b.connect(a.name()).await?;
        c.connect(a.name()).await?;
        wait_for("a full mesh", || nodes.iter().all(|n| n.nodes().len() == 2)).await;
        println!("three nodes: {}, {}, {}", a.name(), b.name(), c.name());

        println!("\n1. a name registered on one node is seen on every node");
        let service = b.spawn(Service {
            label: "the service on b".into(),
        });
        b.global().register("service", &service).await?;
        for n in &nodes {
            let found: Pid<Service> = n.global().whereis("service").ok_or("not visible")?;
            println!(
                "    on {}: \"service\" is {found} on {}: {}",
                n.name(),
                found.node(),
                found.hello().await?
            );
        }

        println!("\n2. the name follows its owner");
        b.stop(&service, ExitReason::Normal);
        wait_for("the name to go", || {
            nodes
                .iter()
                .all(|n| n.global().whereis_any("service").is_none())
        })
        .await;
        println!(
            "    after the service stopped: {:?}",
            a.global().registered_names()
        );

        println!(
            "\n3. a partition: {} alone, and {} with {}",
            a.name(),
            b.name(),
            c.name()
        );
        split(&[a], &[b, c]).await;
        let on_a = a.spawn(Service {
            label: "a's service".into(),
        });
        let on_c = c.spawn(Service {
            label: "c's service".into(),
        });
        a.global().register("service", &on_a).await?;
        c.global().register("service", &on_c).await?;
        println!("    each side registered \"service\" to its own process:");
        println!(
            "    a sees the one on {}, b sees the one on {}",
            a.global().whereis_any("service").ok_or("?")?.node(),
            b.global().whereis_any("service").ok_or("?")?.node()
        );

        println!("\n4. healing: the conflict is resolved once, for the whole cluster");
        for x in [b, c] {
            a.unblock(x.name());
            x.unblock(a.name());
        }
        a.connect(b.name()).await?;
        a.connect(c.name()).await?;
        wait_for("one owner everywhere", || {
            let views: Vec<_> = nodes
                .iter()
                .map(|n| n.global().whereis_any("service"))
                .collect();
            views.iter().all(|v| v.is_some() && *v == views[0])
        })
        .await;
        let winner: Pid<Service> = b.global().whereis("service").ok_or("gone")?;
        println!(
            "    the resolver kept the process on {} (the smaller node name keeps its process)",
            winner.node()
        );
        println!("    b calls it: {}", winner.hello().await?);
        let decided: u64 = nodes.iter().map(|n| n.global().decisions()).sum();
        println!("    decisions made in the cluster: {decided}");

        for n in &nodes {
            n.shutdown().await;
        }
        Ok(())
    })
}
