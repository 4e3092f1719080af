// `#[cfg]` on handlers: two versions of one handler, one kept; a handler compiled out is
// gone from the stub, the message type and the codec alike.
use actors::prelude::*;

#[actor]
pub struct Flags;

#[actor]
impl Flags {
    #[cfg(all())]
    #[handle]
    fn mode(&self) -> String {
        "kept".into()
    }

    #[cfg(not(all()))]
    #[handle]
    fn mode(&self) -> String {
        "compiled out".into()
    }

    #[cfg(not(all()))]
    #[handle(cast)]
    fn only_elsewhere(&mut self, n: u32) {
        let _ = n;
    }

    #[handle]
    fn always(&self) -> u8 {
        1
    }
}

fn main() {
    actors::rt::block_on(async {
        let node = Node::local();
        let f = node.spawn(Flags);
        assert_eq!(f.mode().await, Ok("kept".to_string()));
        assert_eq!(f.always().await, Ok(1));
    });
}
