//! Bytes off a connection, cut into frames as the reader does: no panic, no frame larger
//! than the limit, and whatever parses re-encodes to the same bytes.
#![no_main]

use actors_net::testing::frame::{self, Frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while rest.len() >= frame::LEN {
        let prefix: [u8; frame::LEN] = rest[..frame::LEN].try_into().expect("four bytes");
        let Ok(len) = frame::body_len(prefix, 1 << 16) else {
            return;
        };
        assert!(len <= 1 << 16);
        let Some(body) = rest.get(frame::LEN..frame::LEN + len) else {
            return;
        };
        if let Ok(parsed) = frame::parse(body) {
            let mut again = Vec::new();
            match parsed {
                Frame::Tick => frame::tick(&mut again),
                Frame::Cast {
                    to,
                    identity,
                    payload,
                } => frame::cast(&mut again, to, identity, payload),
                Frame::Call {
                    to,
                    identity,
                    call_ref,
                    payload,
                } => frame::call(&mut again, to, identity, call_ref, payload),
                Frame::Reply { call_ref, payload } => frame::reply(&mut again, call_ref, payload),
                Frame::Control(cbor) => frame::control(&mut again, cbor),
            }
            // A tick's body is its kind byte alone; anything after it is ignored.
            if !matches!(parsed, Frame::Tick) {
                assert_eq!(&again[frame::LEN..], body);
            }
        }
        rest = &rest[frame::LEN + len..];
    }
});
