use actors::prelude::*;

struct Plain;

impl Plain {
    #[handle]
    fn ping(&self) {}
}

fn main() {}
