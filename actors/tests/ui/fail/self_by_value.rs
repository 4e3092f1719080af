use actors::prelude::*;

#[actor]
struct Worker;

#[actor]
impl Worker {
    #[handle]
    fn consume(self) -> u32 {
        1
    }
}

fn main() {}
