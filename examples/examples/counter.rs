//! A counter process: calls, casts, a timeout, and a registered name.
//!
//! Run it with `cargo run --example counter`.

use std::time::Duration;

use actors::prelude::*;

/// A counter: the state of one process.
#[actor]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    /// Adds `by` and replies with the new total.
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    /// Replies with the total.
    #[handle]
    async fn get(&self) -> u64 {
        self.n
    }

    /// Sets the total to zero; the sender does not wait.
    #[handle(cast)]
    fn reset(&mut self) {
        self.n = 0
    }

    /// Takes its time before replying.
    #[handle]
    async fn slow_get(&self, delay: Duration) -> u64 {
        actors::rt::sleep(delay).await;
        self.n
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors_net::logs::init();
    actors::rt::block_on(async {
        let node = Node::local();
        let counter = node.spawn(Counter { n: 0 });
        println!("spawned counter {counter} on {}", node.name());

        println!("call add(5)        -> {}", counter.add(5).await?);
        println!("call add(10)       -> {}", counter.add(10).await?);
        counter.reset()?;
        println!("cast reset()       -> sent, not awaited");
        println!("call get()         -> {}", counter.get().await?);

        let late = counter
            .slow_get(Duration::from_millis(500))
            .timeout(Duration::from_millis(50))
            .await;
        println!("call slow_get with a 50 ms timeout -> {late:?}");

        node.register("counter", &counter)?;
        let by_name: Pid<Counter> = node.whereis("counter").ok_or("not registered")?;
        println!(
            "whereis(\"counter\") -> {by_name}, add(1) -> {}",
            by_name.add(1).await?
        );

        let down = node.monitor(&counter);
        node.exit(&counter, ExitReason::Error("done".into()));
        println!("exit(counter, error) -> Down reason: {}", down.await.reason);
        println!(
            "whereis(\"counter\") after the exit -> {:?}",
            node.whereis_any("counter")
        );
        println!("call get() on the dead pid -> {:?}", counter.get().await);
        node.shutdown().await;
        Ok(())
    })
}
