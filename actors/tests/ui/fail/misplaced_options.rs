use actors::prelude::*;

#[actor(local)]
struct A;

#[actor(name = "a")]
impl A {
    #[handle]
    fn x(&self) {}
}

fn main() {}
