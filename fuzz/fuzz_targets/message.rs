//! A message payload as a peer may send it, decoded by the generated decoder of an actor
//! with handlers of several shapes: it decodes or is refused, never panics.
#![no_main]

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
    #[handle]
    fn ping(&self) {}
}

fuzz_target!(|data: &[u8]| {
    let _ = <Target as Actor>::decode_msg(data, &mut None);
});
