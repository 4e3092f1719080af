//! A term as a BEAM peer may send it: decoded with the limits, re-encoded to the same term,
//! and read as a request by the generated term decoder of an actor with handlers of several
//! shapes. It decodes or is refused, never panics.
#![no_main]

use actors::etf::{decode, encode};
use actors::prelude::*;
use libfuzzer_sys::fuzz_target;

#[actor]
struct Target {
    n: u64,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
enum Shape {
    Point { x: i64, y: i64 },
    Named(String),
    Empty,
}

#[actor]
impl Target {
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }
    #[handle(cast)]
    fn note(&mut self, text: String, tags: Vec<String>, when: Option<u32>) {
        let _ = (text, tags, when);
    }
    #[handle(cast)]
    fn draw(&mut self, shapes: Vec<Shape>, bytes: Vec<u8>) {
        let _ = (shapes, bytes);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(term) = decode(data) else { return };
    assert_eq!(
        decode(&encode(&term)).as_ref(),
        Ok(&term),
        "a term re-encodes to itself"
    );
    let _ = <Target as Actor>::decode_term(&term, &mut None);
});
