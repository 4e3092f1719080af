//! The acceptor's side of the handshake, fed what a peer may send: it ends with an error or
//! a peer, never a panic, and decides nothing for a peer that has not proved the cookie.
#![no_main]

use actors::NodeId;
use actors_net::testing::handshake::{self, Status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut stream = actors_fuzz::stream_of(data);
    let me = NodeId::new("me@127.0.0.1:1", 1);
    let mut decided = false;
    let result = actors::rt::block_on(handshake::accept(&mut stream, &me, b"cookie", true, |_| {
        decided = true;
        Status::Ok
    }));
    // Without the cookie's proof (which random bytes cannot forge) nothing is decided.
    assert!(!decided || result.is_ok());
});
