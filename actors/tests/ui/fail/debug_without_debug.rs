use actors::prelude::*;

// The state is printed for introspection, so it must be `Debug`.
#[actor]
struct Secret {
    key: u64,
}

#[actor(debug)]
impl Secret {
    #[handle]
    fn key(&self) -> u64 {
        self.key
    }
}

fn main() {}
