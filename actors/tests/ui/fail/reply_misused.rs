use actors::prelude::*;

#[actor]
struct Router;

#[actor]
impl Router {
    #[handle(cast)]
    fn cast_with_reply(&self, reply: Reply<u32>) {
        reply.send(1)
    }

    #[handle]
    fn both(&self, reply: Reply<u32>) -> u32 {
        drop(reply);
        1
    }
}

fn main() {}
