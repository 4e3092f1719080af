use actors::prelude::*;

struct Opaque;

#[actor]
struct Worker;

#[actor]
impl Worker {
    #[handle]
    fn make(&self) -> Opaque {
        Opaque
    }
}

#[actor]
struct Holder<T: Send + 'static> {
    item: T,
}

#[actor]
impl<T: Send + 'static> Holder<T> {
    #[handle]
    fn set(&mut self, item: T) {
        self.item = item;
    }
}

fn main() {}
