//! What the generated message codecs call.
//!
//! A message crosses the wire as its handler's index (one byte for the first 128 handlers)
//! followed by each argument as one CBOR item: a CBOR sequence, not an array, so a message
//! with one argument costs the decoder what that argument alone does.
//!
//! A remote actor's argument and reply types must cross the wire. The generated code asserts
//! that once per argument, through [`WireArg`] and [`WireReply`], whose errors name the handler
//! and the argument. Encoding and decoding then pick the serde path by autoref dispatch when
//! the type allows it, and otherwise a path that only fails at run time: that path is never
//! compiled into a program, because the assertion has already stopped the build, but having it
//! keeps the compiler from repeating the same error.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::call::ReplyHalf;
use crate::error::WireError;
use crate::etf::Term;
use crate::kernel::actor::{WireArg, WireReply};
use crate::kernel::seam::{IncomingCall, Pending};

/// Checks that `T` can be argument `A` of handler `H`.
pub fn assert_wire_arg<H, A, T: WireArg<H, A>>() {}

/// Checks that `R` can be the reply of handler `H`.
pub fn assert_wire_reply<H, R: WireReply<H>>() {}

/// Appends a handler index as a LEB128 varint.
pub fn put_tag(out: &mut Vec<u8>, mut tag: u32) {
    while tag >= 0x80 {
        out.push((tag as u8) | 0x80);
        tag >>= 7;
    }
    out.push(tag as u8);
}

/// Reads a handler index.
pub fn take_tag(input: &mut &[u8]) -> Result<u32, WireError> {
    let mut tag: u32 = 0;
    for shift in (0..35).step_by(7) {
        let (&byte, rest) = input
            .split_first()
            .ok_or_else(|| WireError::Decode("empty message".into()))?;
        *input = rest;
        tag |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(tag);
        }
    }
    Err(WireError::Decode("handler index too long".into()))
}

/// Fails if bytes are left after the last argument.
pub fn expect_end(input: &[u8]) -> Result<(), WireError> {
    if input.is_empty() {
        Ok(())
    } else {
        Err(WireError::Decode(format!(
            "{} bytes left after the last argument",
            input.len()
        )))
    }
}

/// The error of a handler index no handler has.
pub fn unknown_handler(actor: &str, tag: u32) -> WireError {
    WireError::Decode(format!("{actor} has no handler with index {tag}"))
}

/// Encodes and decodes one value of type `T`, whichever path `T` allows.
pub struct Codec<T>(PhantomData<fn() -> T>);

impl<T> Codec<T> {
    /// The codec of `T`.
    pub fn new() -> Self {
        Codec(PhantomData)
    }
}

impl<T> Default for Codec<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The serde path.
pub trait ViaSerde<T> {
    /// Appends one argument as a CBOR item.
    fn ser_arg(&self, out: &mut Vec<u8>, value: &T) -> Result<(), WireError>;
    /// Reads one argument, advancing `input`.
    fn de_arg(&self, input: &mut &[u8]) -> Result<T, WireError>;
    /// Takes a call's reply slot, for the reply coming back over the wire to fill.
    fn pending(&self, reply: &ReplyHalf<T>) -> Result<Pending, WireError>;
    /// The reply half of a call decoded from the wire, answering `call`.
    fn reply_to(&self, call: &mut Option<IncomingCall>) -> Result<ReplyHalf<T>, WireError>;
    /// Reads argument `name` of `handler` from a term.
    fn de_term(&self, handler: &str, name: &str, term: &Term) -> Result<T, WireError>;
    /// The reply half of a call from a BEAM node, answering `call` with a term.
    fn reply_to_term(&self, call: &mut Option<IncomingCall>) -> Result<ReplyHalf<T>, WireError>;
    /// The hash of `T`'s wire shape, for the actor's identity.
    fn shape(&self) -> u64;
}

impl<T: Serialize + DeserializeOwned + Send + 'static> ViaSerde<T> for Codec<T> {
    fn ser_arg(&self, out: &mut Vec<u8>, value: &T) -> Result<(), WireError> {
        crate::cbor::encode(value, out)
    }
    fn de_arg(&self, input: &mut &[u8]) -> Result<T, WireError> {
        crate::cbor::decode_item(input)
    }
    fn pending(&self, reply: &ReplyHalf<T>) -> Result<Pending, WireError> {
        crate::call::pending(reply)
    }
    fn reply_to(&self, call: &mut Option<IncomingCall>) -> Result<ReplyHalf<T>, WireError> {
        crate::call::reply_to(call)
    }
    fn de_term(&self, handler: &str, name: &str, term: &Term) -> Result<T, WireError> {
        crate::dist::terms::arg(handler, name, term)
    }
    fn reply_to_term(&self, call: &mut Option<IncomingCall>) -> Result<ReplyHalf<T>, WireError> {
        crate::dist::terms::reply_to_term(call)
    }
    fn shape(&self) -> u64 {
        crate::shape::hash::<T>()
    }
}

fn cannot() -> WireError {
    WireError::Encode("this type cannot cross the wire".into())
}

/// The path of a type the assertions have already rejected.
pub trait Unencodable<T> {
    /// Fails.
    fn ser_arg(&self, _: &mut Vec<u8>, _: &T) -> Result<(), WireError> {
        Err(cannot())
    }
    /// Fails.
    fn de_arg(&self, _: &mut &[u8]) -> Result<T, WireError> {
        Err(cannot())
    }
    /// Fails.
    fn pending(&self, _: &ReplyHalf<T>) -> Result<Pending, WireError> {
        Err(cannot())
    }
    /// Fails.
    fn reply_to(&self, _: &mut Option<IncomingCall>) -> Result<ReplyHalf<T>, WireError> {
        Err(cannot())
    }
    /// Fails.
    fn de_term(&self, _: &str, _: &str, _: &Term) -> Result<T, WireError> {
        Err(cannot())
    }
    /// Fails.
    fn reply_to_term(&self, _: &mut Option<IncomingCall>) -> Result<ReplyHalf<T>, WireError> {
        Err(cannot())
    }
    /// No shape: the type never crosses the wire.
    fn shape(&self) -> u64 {
        0
    }
}

impl<T> Unencodable<T> for &Codec<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        for tag in [0, 1, 127, 128, 300, 1 << 20, u32::MAX] {
            let mut out = Vec::new();
            put_tag(&mut out, tag);
            let mut input = &out[..];
            assert_eq!(take_tag(&mut input), Ok(tag));
            assert!(input.is_empty());
        }
        assert!(take_tag(&mut &[][..]).is_err());
        assert!(take_tag(&mut &[0xff; 8][..]).is_err());
    }
}
