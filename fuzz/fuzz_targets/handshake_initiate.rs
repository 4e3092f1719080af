//! The initiator's side of the handshake, fed what an acceptor may answer: an error or a
//! peer, never a panic.
#![no_main]

use actors::NodeId;
use actors_net::testing::handshake;
use actors_net::transport::Stream;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut stream = Stream {
        reader: Box::new(futures::io::Cursor::new(data.to_vec())),
        writer: Box::new(futures::io::sink()),
        close: Box::new(|| {}),
        peer: "fuzz".into(),
    };
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
