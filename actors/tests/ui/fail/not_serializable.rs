use actors::prelude::*;

struct Opaque;

#[actor]
struct Worker;

#[actor]
impl Worker {
    #[handle(cast)]
    fn take(&mut self, count: u32, payload: Opaque) {
        let _ = (count, payload);
    }
}

fn main() {}
