// A handler under a `cfg` that is off has no stub: calling it is an error at the call.
use actors::prelude::*;

#[actor]
pub struct Flags;

#[actor]
impl Flags {
    #[cfg(not(all()))]
    #[handle]
    fn debug_dump(&self) -> String {
        String::new()
    }
}

fn main() {
    actors::rt::block_on(async {
        let node = Node::local();
        let f = node.spawn(Flags);
        let _ = f.debug_dump().await;
    });
}
