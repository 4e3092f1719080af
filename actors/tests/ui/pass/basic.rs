use actors::prelude::*;

#[actor]
pub struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    /// Adds `by` and returns the total.
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
    fn many(&mut self, a: u8, b: String, ctx: &mut Ctx<Self>, c: Vec<u32>) -> (u8, String, Vec<u32>) {
        let _ = ctx.pid();
        (a, b, c)
    }
    #[handle]
    fn peer(&self, other: Pid<Self>) -> Pid<Self> {
        other
    }
    fn started(&mut self, _ctx: &mut Ctx<Self>) {}
    async fn stopped(&mut self, _reason: &ExitReason) {}
    fn on_down(&mut self, _down: Down) {}
    fn on_exit(&mut self, _exit: Exit, _ctx: &mut Ctx<Self>) {}
    /// A plain method stays a plain method.
    fn helper(&self) -> u64 {
        self.n
    }
}

fn main() {
    actors::rt::block_on(async {
        let node = Node::local();
        let c: Pid<Counter> = node.spawn(Counter { n: 0 });
        let _: Result<u64, CallError> = c.add(1).await;
        let _: Result<(), SendError> = c.reset();
        let _ = c.many(1, "x".into(), vec![1]).timeout(std::time::Duration::from_secs(1)).await;
        let _ = c.peer(c.clone()).await;
    });
}
