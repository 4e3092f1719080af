//! Run only where a majority is: five nodes run a consistent distributed supervisor (Raft
//! underneath), whose one `Batch` must never run twice, and hold a consistent name. The
//! cluster is split 3/2 with the batch's node in the minority: the minority stops its copy
//! before the majority starts one, the minority cannot read or write the name, and after the
//! heal one copy runs. Each copy carries a fencing token above its predecessor's, so that
//! what the batch acts on (here a ledger) refuses a copy that was replaced.
//!
//! Run it with `cargo run --example quorum`.

use std::time::{Duration, Instant};

use actors_net::distributed::{
    ChildDef, DEFAULT_MAX_CHILDREN, DistributedSupervisor, Fence, FencingToken, Mode,
};
use actors_net::prelude::*;

#[path = "common/copies.rs"]
mod copies;
use copies::{heal, most_at_once, moved_from, running, split, wait};

/// A payment batch: at most one may run in the cluster at any instant. The supervisor fills
/// in its token at each start.
#[actor]
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Batch {
    token: FencingToken,
}

#[actor]
impl Batch {
    #[handle]
    fn status(&self, ctx: &mut Ctx<Self>) -> String {
        format!("running on {}", ctx.node().name())
    }

    fn started(&mut self, ctx: &mut Ctx<Self>) {
        copies::started(ctx.node().name(), self.token);
    }

    fn stopped(&mut self, _reason: &ExitReason, ctx: &mut Ctx<Self>) {
        copies::stopped(ctx.node().name());
    }
}

/// The process that holds the consistent name.
#[actor]
struct Holder;

#[actor(local)]
impl Holder {
    #[handle]
    fn hold(&self) {}
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors::rt::block_on(async {
        println!("1. five nodes, five voters of the consistent supervisor \"payments\"");
        let mut nodes = Vec::new();
        for i in 0..5 {
            let node = Node::builder(&format!("n{i}@127.0.0.1:0"))
                .cookie("quorum")
                .start()
                .await?;
            node.allow_spawn::<Batch>();
            nodes.push(node);
        }
        for node in &nodes[1..] {
            node.connect(nodes[0].name()).await?;
        }
        wait("a full mesh", || nodes.iter().all(|n| n.nodes().len() == 4)).await?;
        let voters: Vec<String> = nodes.iter().map(|n| n.name().to_string()).collect();
        let short = |name: &str| {
            voters
                .iter()
                .position(|v| v == name)
                .map(|i| format!("n{i}"))
                .unwrap_or_default()
        };
        let mut sups = Vec::new();
        for node in &nodes {
            let mode = Mode::Consistent(voters.clone());
            sups.push(
                DistributedSupervisor::start_with(node, "payments", mode, DEFAULT_MAX_CHILDREN)
                    .await?,
            );
        }
        let since = Instant::now();
        while sups[1]
            .start_child(ChildDef::new("batch", &Batch::default())?)
            .await
            .is_err()
        {
            if since.elapsed() > Duration::from_secs(20) {
                return Err("no leader was elected".into());
            }
        }
        wait("the batch to run", || running().len() == 1).await?;
        let home = running().remove(0);
        println!("    the batch runs on {} (the log's leader)", short(&home));
        let pid = nodes[0].spawn(Holder);
        sups[0].register_name("payments-lock", &pid).await?;
        let holder = sups[3].whereis_name("payments-lock").await?;
        println!(
            "    the name \"payments-lock\" is held by {:?}, as n3 reads it through the log",
            holder.map(|p| short(p.node()))
        );

        println!("\n2. split 3/2, the batch's node in the minority");
        let hi = voters.iter().position(|v| *v == home).ok_or("no home")?;
        split(&nodes, &[hi, (hi + 1) % 5]);
        let split_at = Instant::now();
        wait("the batch to move to the majority", || {
            running().len() == 1 && running()[0] != home
        })
        .await?;
        let (stopped, started, new_node, old_token, new_token) =
            moved_from(&home).ok_or("the old copy did not stop")?;
        println!(
            "    the minority stopped its copy {:.0} ms after the split; the majority started one on {} {:.0} ms after it",
            stopped.saturating_duration_since(split_at).as_secs_f64() * 1e3,
            short(&new_node),
            started.saturating_duration_since(split_at).as_secs_f64() * 1e3
        );
        println!("    the stop came first: {}", stopped <= started);
        // A ledger the batch writes to keeps a fence: once the new copy wrote, a late write
        // of the old one is refused.
        let mut ledger = Fence::default();
        ledger.admit(new_token)?;
        println!(
            "    fencing tokens: old {:#x}, new {:#x}; the ledger refuses the old copy's late write: {}",
            old_token.get(),
            new_token.get(),
            ledger.admit(old_token).is_err()
        );
        match sups[hi].whereis_name("payments-lock").await {
            Err(e) => println!("    the minority asks for the name: {e}"),
            Ok(found) => println!("    the minority read {found:?}"),
        }

        println!("\n3. healed");
        heal(&nodes).await;
        wait("one copy", || running().len() == 1).await?;
        let most = most_at_once();
        println!(
            "    one copy runs, on {}; the most that ever ran at once: {most}",
            short(&running()[0])
        );
        for node in &nodes {
            node.shutdown().await;
        }
        Ok(())
    })
}
