use actors::prelude::*;

#[actor]
struct Worker;

#[actor]
impl Worker {
    #[handle(cast)]
    fn work(&mut self) -> u32 {
        1
    }
}

fn main() {}
