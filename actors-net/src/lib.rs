//! Distribution for `actors`: nodes that connect over TCP and carry calls, casts and signals
//! between processes on different nodes.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use actors;
