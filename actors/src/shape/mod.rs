//! The shape of a type on the wire, folded into the identity of actor types: two builds
//! whose message or reply types differ in a way decoding would reject have different
//! identities, so each refuses the other's pids (`TypeMismatch`) instead of dropping what
//! arrives.
//!
//! The shape is read from the type's own `Deserialize`, driven by a deserializer that
//! answers every request with a placeholder and writes down what was requested. What the
//! CBOR wire ignores, the shape ignores too: the names of structs and enums, the order of a
//! struct's fields, and fields of type `Option` (a missing one decodes as `None`, an unknown
//! one is passed over), which is how a type grows compatibly. Field and variant names,
//! primitive types and the order of tuple elements are part of it.
//!
//! An enum is traced one variant per pass, until every variant is; a type that refers to
//! itself is cut where it does, through a variant already known to end or an empty
//! collection. A type whose `Deserialize` cannot be driven so (one that asks for
//! `deserialize_any`, or validates the placeholders) has its type name for a shape instead.

mod access;
mod deserializer;
mod fnv;
mod render;
mod tracer;
mod untraceable;

use std::cell::Cell;

use serde::de::DeserializeOwned;

use fnv::fnv1a;
use tracer::{Frame, Tracer};
pub use untraceable::Untraceable;

thread_local! {
    static TRACING: Cell<u32> = const { Cell::new(0) };
}

/// Whether this thread is tracing a shape: types whose decoding needs a node (pids, lent
/// replies) then give a placeholder without one.
pub(crate) fn tracing() -> bool {
    TRACING.with(|t| t.get() > 0)
}

/// The hash of `T`'s wire shape (64-bit FNV-1a of [`describe`]'s text).
pub fn hash<T: DeserializeOwned>() -> u64 {
    let text = describe::<T>().unwrap_or_else(|_| format!("opaque {}", std::any::type_name::<T>()));
    fnv1a(text.as_bytes())
}

/// The wire shape of `T` as text, or why `T` cannot be traced.
pub fn describe<T: DeserializeOwned>() -> Result<String, Untraceable> {
    struct Tracing;
    impl Drop for Tracing {
        fn drop(&mut self) {
            TRACING.with(|t| t.set(t.get() - 1));
        }
    }
    TRACING.with(|t| t.set(t.get() + 1));
    let _tracing = Tracing;

    let mut tracer = Tracer::default();
    let mut root = None;
    let mut stalls = 0;
    for _ in 0..MAX_PASSES {
        let before = tracer.progress();
        tracer.stack.clear();
        tracer.stack.push(Frame::root());
        tracer.pending = None;
        tracer.depth = 0;
        match T::deserialize(&mut tracer) {
            Ok(value) => {
                drop(value);
                root = tracer.result.take();
                if tracer.complete() {
                    break;
                }
            }
            Err(Untraceable::Recursion) => {}
            Err(e) => return Err(e),
        }
        if tracer.progress() > before {
            // Something learnt: every variant may be worth choosing again.
            tracer.attempted.clear();
            stalls = 0;
        } else {
            // Nothing learnt: the next pass chooses variants not attempted yet.
            stalls += 1;
            if stalls > MAX_STALLS {
                return Err(Untraceable::Recursion);
            }
        }
    }
    let (Some(root), true) = (root, tracer.complete()) else {
        return Err(Untraceable::Recursion);
    };
    let mut out = String::new();
    tracer.render(&root, &mut out, &mut Vec::new());
    Ok(out)
}

/// Passes over a type before its enums count as untraceable.
const MAX_PASSES: usize = 512;
/// Passes in a row that learn nothing before giving up.
const MAX_STALLS: u32 = 64;
