use actors::prelude::*;

#[actor]
struct A;

#[actor]
impl A {
    #[handle]
    fn name(&self, s: &str) -> usize {
        s.len()
    }
    #[handle]
    fn pick<T>(&self, t: T) -> T {
        t
    }
    #[handle]
    fn node(&self) {}
}

fn main() {}
