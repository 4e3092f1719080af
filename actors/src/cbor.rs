//! Values as CBOR (serde + ciborium), without a node: the codec under messages, replies and
//! the state of actors spawned remotely. Decoding that binds pids to a node is `decoding`.

use std::cell::RefCell;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{CallError, WireError};

// Decoding relies on ciborium's own recursion limit (256 levels): deeper input is rejected,
// not recursed into, whatever a peer sends.

/// Encodes `value` as CBOR, appending to `out`.
pub fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), WireError> {
    ciborium::into_writer(value, out).map_err(|e| WireError::Encode(e.to_string()))
}

thread_local! {
    /// ciborium's scratch space for text and byte strings; reused, since zeroing a fresh 4 KiB
    /// buffer for every message costs more than decoding a small one.
    static SCRATCH: RefCell<Box<[u8; 4096]>> = RefCell::new(Box::new([0; 4096]));
}

/// Decodes a value without binding pids to a node: for values that hold none.
pub fn decode_plain<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    decode_item(&mut { bytes })
}

/// Decodes one CBOR item from the front of `input`, advancing it past the item.
pub(crate) fn decode_item<T: DeserializeOwned>(input: &mut &[u8]) -> Result<T, WireError> {
    let decode = |scratch: &mut [u8], input: &mut &[u8]| {
        ciborium::de::from_reader_with_buffer(input, scratch)
            .map_err(|e| WireError::Decode(e.to_string()))
    };
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut scratch) => decode(&mut scratch[..], input),
        Err(_) => decode(&mut [0u8; 4096], input),
    })
}

/// CBOR of `Result<R, CallError>`; an unencodable value becomes an error reply.
pub(crate) fn encode_reply<R: Serialize>(result: Result<&R, CallError>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(e) = encode(&result, &mut out) {
        out.clear();
        let err: Result<(), CallError> = Err(CallError::Wire(e));
        // Encoding a unit-or-error value cannot fail.
        let _ = encode(&err, &mut out);
    }
    out
}
