//! What the fuzz targets share.

use actors::prelude::*;
use actors_net::transport::Stream;

/// A stream that reads `data` and swallows what is written: a peer that says exactly that.
pub fn stream_of(data: &[u8]) -> Stream {
    Stream {
        reader: Box::new(futures::io::Cursor::new(data.to_vec())),
        writer: Box::new(futures::io::sink()),
        close: Box::new(|| {}),
        peer: "fuzz".into(),
    }
}

/// An actor with handlers of several shapes, whose generated decoders (CBOR and Erlang
/// terms) the fuzz targets feed.
#[actor]
pub struct Target {
    n: u64,
}

/// An argument type with every kind of variant.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub enum Shape {
    /// Fields.
    Point {
        /// x.
        x: i64,
        /// y.
        y: i64,
    },
    /// One value.
    Named(String),
    /// None.
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
