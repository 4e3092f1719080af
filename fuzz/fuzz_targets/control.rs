//! A control frame's CBOR as a peer may send it: it decodes or is refused, never panics, and
//! what decodes encodes and decodes to the same value.
#![no_main]

use std::sync::OnceLock;

use actors::Node;
use actors_net::testing::frame::Control;
use libfuzzer_sys::fuzz_target;

fn node() -> &'static Node {
    static NODE: OnceLock<Node> = OnceLock::new();
    NODE.get_or_init(Node::local)
}

fuzz_target!(|data: &[u8]| {
    let Ok(control) = actors::dist::decode::<Control>(node(), data) else {
        return;
    };
    let mut again = Vec::new();
    actors::dist::encode(&control, &mut again).expect("a decoded control frame encodes");
    let back: Control = actors::dist::decode(node(), &again).expect("and decodes again");
    assert_eq!(back, control);
});
