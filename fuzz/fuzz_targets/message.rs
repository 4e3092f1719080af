//! A message payload as a peer may send it, decoded by the generated decoder of an actor
//! with handlers of several shapes: it decodes or is refused, never panics.
#![no_main]

use actors::Actor;
use actors_fuzz::Target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = <Target as Actor>::decode_msg(data, &mut None);
});
