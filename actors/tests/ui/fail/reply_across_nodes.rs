use actors::prelude::*;

/// Takes a `Reply` handed over in a cast: fine for a local actor, but this one's messages
/// may cross the wire, and a `Reply` cannot.
#[actor]
struct Clerk;

#[actor]
impl Clerk {
    #[handle(cast)]
    fn answer(&mut self, reply: Reply<u32>) {
        reply.send(1)
    }
}

fn main() {}
