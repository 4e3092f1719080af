use actors::prelude::*;

struct Forgot;

#[actor]
impl Forgot {
    #[handle]
    fn x(&self) {}
}

fn main() {}
