use actors::prelude::*;

/// An actor with hooks and no handlers: it only watches.
#[actor]
struct Watcher;

#[actor]
impl Watcher {
    fn started(&mut self) {}
}

fn main() {
    actors::rt::block_on(async {
        let node = Node::local();
        let pid = node.spawn(Watcher);
        assert!(node.is_alive(&pid));
    });
}
