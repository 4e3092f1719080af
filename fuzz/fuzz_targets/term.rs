//! A term as a BEAM peer may send it: decoded with the limits, re-encoded to the same term,
//! and read as a request by the generated term decoder of an actor with handlers of several
//! shapes. It decodes or is refused, never panics.
#![no_main]

use actors::Actor;
use actors::etf::{decode, encode};
use actors_fuzz::Target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(term) = decode(data) else { return };
    assert_eq!(
        decode(&encode(&term)).as_ref(),
        Ok(&term),
        "a term re-encodes to itself"
    );
    let _ = <Target as Actor>::decode_term(&term, &mut None);
});
