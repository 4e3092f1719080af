//! What the generated message codecs call.
//!
//! A remote actor's argument and reply types must cross the wire. The generated code asserts
//! that once per argument, through [`WireArg`] and [`WireReply`], whose errors name the handler
//! and the argument. The encoding and decoding below then pick the serde path by autoref
//! dispatch when the type allows it, and otherwise a path that only fails at run time: that
//! path is never compiled into a program, because the assertion has already stopped the build,
//! but having it keeps the compiler from repeating the same error four times.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::{DeserializeOwned, Error as _, Expected, SeqAccess};
use serde::ser::{Error as _, SerializeTuple};

use crate::actor::{WireArg, WireReply};
use crate::call::Reply;

/// Checks that `T` can be argument `A` of handler `H`.
pub fn assert_wire_arg<H, A, T: WireArg<H, A>>() {}

/// Checks that `R` can be the reply of handler `H`.
pub fn assert_wire_reply<H, R: WireReply<H>>() {}

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
    /// Encodes one tuple element.
    fn ser_arg<S: SerializeTuple>(&self, tuple: &mut S, value: &T) -> Result<(), S::Error>;
    /// Decodes the `index`th tuple element.
    fn de_arg<'de, V: SeqAccess<'de>>(
        &self,
        seq: &mut V,
        index: usize,
        expected: &dyn Expected,
    ) -> Result<T, V::Error>;
    /// Hands a call's reply slot to the encoding call.
    fn capture<E: serde::ser::Error>(&self, reply: &Reply<T>) -> Result<(), E>;
    /// The reply half of a call decoded from the wire.
    fn decode_reply<E: serde::de::Error>(&self) -> Result<Reply<T>, E>;
}

impl<T: Serialize + DeserializeOwned + Send + 'static> ViaSerde<T> for Codec<T> {
    fn ser_arg<S: SerializeTuple>(&self, tuple: &mut S, value: &T) -> Result<(), S::Error> {
        tuple.serialize_element(value)
    }
    fn de_arg<'de, V: SeqAccess<'de>>(
        &self,
        seq: &mut V,
        index: usize,
        expected: &dyn Expected,
    ) -> Result<T, V::Error> {
        seq.next_element()?
            .ok_or_else(|| V::Error::invalid_length(index, expected))
    }
    fn capture<E: serde::ser::Error>(&self, reply: &Reply<T>) -> Result<(), E> {
        reply.capture().map_err(E::custom)
    }
    fn decode_reply<E: serde::de::Error>(&self) -> Result<Reply<T>, E> {
        Reply::from_wire().map_err(E::custom)
    }
}

/// The path of a type the assertions have already rejected.
pub trait Unencodable<T> {
    /// Fails.
    fn ser_arg<S: SerializeTuple>(&self, _: &mut S, _: &T) -> Result<(), S::Error> {
        Err(S::Error::custom("this type cannot cross the wire"))
    }
    /// Fails.
    fn de_arg<'de, V: SeqAccess<'de>>(
        &self,
        _: &mut V,
        _: usize,
        _: &dyn Expected,
    ) -> Result<T, V::Error> {
        Err(V::Error::custom("this type cannot cross the wire"))
    }
    /// Fails.
    fn capture<E: serde::ser::Error>(&self, _: &Reply<T>) -> Result<(), E> {
        Err(E::custom("this type cannot cross the wire"))
    }
    /// Fails.
    fn decode_reply<E: serde::de::Error>(&self) -> Result<Reply<T>, E> {
        Err(E::custom("this type cannot cross the wire"))
    }
}

impl<T> Unencodable<T> for &Codec<T> {}
