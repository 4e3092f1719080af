use actors::prelude::*;

#[actor]
struct Worker;

#[actor]
impl Worker {
    fn start(&mut self, ctx: &mut Ctx<Self>) {
        let _ = ctx;
    }

    fn terminate(&mut self, reason: &ExitReason) {
        let _ = reason;
    }

    fn on_down(&mut self) {}

    #[handle]
    fn work(&self) {}
}

fn main() {}
