use actors::prelude::*;

#[actor(remote)]
struct A;

#[actor(fast)]
impl A {
    #[handle]
    fn x(&self) {}
}

#[actor]
struct B;

#[actor]
impl B {
    #[handle(later)]
    fn y(&self) {}
}

fn main() {}
