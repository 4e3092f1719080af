use actors::prelude::*;
use std::time::Duration;

#[actor]
pub struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    /// Adds.
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }
    #[handle]
    async fn get(&self) -> u64 {
        self.n
    }
    #[handle(cast)]
    fn reset(&mut self) {
        self.n = 0
    }
    #[handle]
    fn me(&self, ctx: &mut Ctx<Self>) -> Pid<Self> {
        ctx.pid()
    }
    #[handle]
    async fn sleepy(&self, d: Duration) {
        actors::rt::sleep(d).await
    }
    fn started(&mut self) {
        self.n = 1;
    }
}

#[test]
fn smoke() {
    actors::rt::block_on(async {
        let node = Node::local();
        let c = node.spawn(Counter { n: 0 });
        assert_eq!(c.add(5).await, Ok(6));
        c.reset().unwrap();
        assert_eq!(c.get().await, Ok(0));
        assert_eq!(c.me().await.unwrap(), c);
        assert_eq!(
            c.sleepy(Duration::from_secs(1))
                .timeout(Duration::from_millis(20))
                .await,
            Err(CallError::Timeout)
        );
        println!("{c}");
    });
}
