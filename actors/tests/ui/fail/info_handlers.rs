use actors::etf::Term;
use actors::prelude::*;

#[actor]
struct Inbox;

// One info handler takes whatever fits no other handler, whole.
#[actor]
impl Inbox {
    #[handle(info)]
    fn first(&mut self, message: Term) {
        let _ = message;
    }
    #[handle(info)]
    fn second(&mut self, message: Term) {
        let _ = message;
    }
    #[handle(info)]
    fn pair(&mut self, a: Term, b: Term) {
        let _ = (a, b);
    }
}

fn main() {}
