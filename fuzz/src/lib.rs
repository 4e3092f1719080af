//! What the fuzz targets share.

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
