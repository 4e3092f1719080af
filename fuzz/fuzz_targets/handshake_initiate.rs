//! The initiator's side of the handshake, fed what an acceptor may answer: an error or a
//! peer, never a panic.
#![no_main]

use actors::NodeId;
use actors_net::testing::handshake;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut stream = actors_fuzz::stream_of(data);
    let me = NodeId::new("me@127.0.0.1:1", 1);
    let result = actors::rt::block_on(handshake::initiate(
        &mut stream,
        &me,
        b"cookie",
        "them@127.0.0.1:2",
    ));
    // The acceptor's proof depends on this side's fresh nonce: random bytes never pass it.
    assert!(result.is_err());
});
