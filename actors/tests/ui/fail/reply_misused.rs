use actors::prelude::*;

#[actor]
struct Router;

#[actor]
impl Router {
    #[handle]
    fn both(&self, reply: Reply<u32>) -> u32 {
        drop(reply);
        1
    }
}

fn main() {}
