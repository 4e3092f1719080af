//! A router in front of shards: `cargo run --example router`.
//!
//! Shards on nodes `b` and `c` join the process group "shards"; a router on node `a` follows
//! the group as messages (`ctx.attach_stream`), so it always knows the shards that live, and
//! answers each `get` later, once the shard has (`Reply<T>`): a slow shard does not hold up
//! the router's mailbox, and a quick `stats` call goes through at once. Then shard `c`'s node
//! shuts down, the router sees the shard leave, and the keys go to `b`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use actors_net::groups::GroupEvent;
use actors_net::prelude::*;

/// Holds some keys; answers slowly, as a disk would.
#[actor]
#[derive(Default)]
struct Shard {
    data: BTreeMap<u64, String>,
}

#[actor]
impl Shard {
    #[handle]
    async fn get(&self, key: u64, ctx: &mut Ctx<Self>) -> (String, Option<String>) {
        actors::rt::sleep(Duration::from_millis(200)).await;
        (ctx.node().name().to_string(), self.data.get(&key).cloned())
    }

    #[handle]
    fn put(&mut self, key: u64, value: String) {
        self.data.insert(key, value);
    }
}

/// Routes each key to a shard, by the live members of the group.
#[actor]
#[derive(Default)]
struct Router {
    shards: Vec<Pid<Shard>>,
    routed: u64,
}

#[actor(local)]
impl Router {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        let (now, changes) = ctx.node().groups().monitor("shards");
        self.shards = now.iter().filter_map(|p| p.clone().downcast()).collect();
        ctx.attach_stream(changes, |me, change| me.shards_changed(change), |_| Ok(()));
    }

    #[handle(cast)]
    fn shards_changed(&mut self, change: GroupEvent) {
        match change {
            GroupEvent::Joined { pids, .. } => {
                self.shards
                    .extend(pids.into_iter().filter_map(|p| p.downcast()));
            }
            GroupEvent::Left { pids, .. } => self.shards.retain(|s| !pids.contains(&s.any())),
        }
        self.shards.sort_by_key(|s| s.to_string());
    }

    /// Asks the key's shard and answers when it does, without waiting here.
    #[handle]
    fn get(&mut self, key: u64, reply: Reply<(String, Option<String>)>) {
        self.routed += 1;
        let Some(shard) = self.shard_for(key) else {
            return reply.send(("nowhere".into(), None));
        };
        actors::rt::spawn(async move {
            match shard.get(key).await {
                Ok(found) => reply.send(found),
                Err(e) => reply.fail(e),
            }
        });
    }

    #[handle]
    async fn put(&mut self, key: u64, value: String) -> Result<(), CallError> {
        match self.shard_for(key) {
            Some(shard) => shard.put(key, value).await,
            None => Err(CallError::NoProc),
        }
    }

    /// How many shards it knows and how many gets it routed: answered at once.
    #[handle]
    fn stats(&self) -> (usize, u64) {
        (self.shards.len(), self.routed)
    }
}

impl Router {
    fn shard_for(&self, key: u64) -> Option<Pid<Shard>> {
        let n = self.shards.len() as u64;
        (n > 0).then(|| self.shards[(key % n) as usize].clone())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors_net::logs::init();
    actors::rt::block_on(async {
        let mut nodes = Vec::new();
        for name in ["a", "b", "c"] {
            let node = Node::builder(&format!("{name}@127.0.0.1:0"))
                .cookie("router")
                .start()
                .await?;
            nodes.push(node);
        }
        let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
        for n in [b, c] {
            n.connect(a.name()).await?;
            let shard = n.spawn(Shard::default());
            n.groups().join("shards", &shard).await?;
            a.groups().synced(n.name(), Duration::from_secs(5)).await?;
        }
        let router = a.spawn(Router::default());
        println!(
            "1. the router on a follows the group: {:?} shards",
            router.stats().await?.0
        );
        for key in 0..4 {
            router.put(key, format!("value {key}")).await??;
        }

        println!("\n2. eight gets at once, each 200 ms at its shard; a stats call meanwhile");
        let started = Instant::now();
        let gets: Vec<_> = (0..8u64)
            .map(|key| {
                let router = router.clone();
                actors::rt::spawn(async move { router.get(key % 4).await })
            })
            .collect();
        while router.stats().await?.1 < 8 {
            actors::rt::yield_now().await;
        }
        let asked = Instant::now();
        let (shards, routed) = router.stats().await?;
        println!(
            "    with {routed} gets routed and waiting on {shards} shards, stats answered in {} ms",
            asked.elapsed().as_millis()
        );
        for get in gets {
            let (from, value) = get.await?;
            let from = if from == b.name() { "b" } else { "c" };
            println!("    {} from {from}", value.unwrap_or_default());
        }

        println!(
            "    all eight answered after {} ms (four at each shard, one at a time)",
            started.elapsed().as_millis()
        );

        println!("\n3. c shuts down: its shard leaves the group, and the router knows");
        c.shutdown().await;
        for _ in 0..500 {
            if router.stats().await?.0 == 1 {
                break;
            }
            actors::rt::sleep(Duration::from_millis(10)).await;
        }
        println!("    shards now: {}", router.stats().await?.0);
        router.put(9, "value 9".into()).await??;
        let (from, value) = router.get(9).await?;
        println!(
            "    {} from {}",
            value.unwrap_or_default(),
            if from == b.name() { "b" } else { "c" }
        );
        a.shutdown().await;
        b.shutdown().await;
        println!("\ndone");
        Ok(())
    })
}
