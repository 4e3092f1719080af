//! The errors of sends, calls, registration and the wire.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::exit::ExitReason;

/// Why a call failed. The caller never waits past its timeout.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CallError {
    /// No reply within the timeout (default 5 s).
    #[error(
        "no reply within the call's timeout (5 s unless set with .timeout(..)): the process is busy, or its node slow or cut off"
    )]
    Timeout,
    /// The process did not exist when the call reached it.
    #[error("no such process")]
    NoProc,
    /// The process's node is not connected, or the connection was lost before the reply.
    #[error("no connection to the process's node")]
    NoConnection,
    /// The process ended before it replied.
    #[error("the process exited before replying: {0}")]
    Exited(ExitReason),
    /// The connection to the process's node has far too much queued: the peer is not
    /// keeping up.
    #[error("the connection to the process's node is overloaded")]
    Overloaded,
    /// The far process is of another actor type, or another version of it.
    #[error("actor type mismatch: {0}")]
    TypeMismatch(String),
    /// The request or the reply could not cross the wire.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The handler took the call's `Reply` and dropped it unanswered.
    #[error("the call's reply was dropped unanswered")]
    NoReply,
    /// A process called itself: it would wait for its own reply, which it can only give
    /// once the call is over (Erlang's `calling_self`).
    #[error("a process cannot call itself")]
    CallingSelf,
}

impl CallError {
    /// The error a caller sees when its callee ended with `reason`.
    pub(crate) fn exited(reason: ExitReason) -> Self {
        match reason {
            ExitReason::NoProc => CallError::NoProc,
            ExitReason::NoConnection => CallError::NoConnection,
            other => CallError::Exited(other),
        }
    }
}

/// Why a cast could not be sent. A cast to a dead process is not an error: like an Erlang
/// send, it is dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SendError {
    /// No process is registered under this name.
    #[error("no process is registered as {0:?}")]
    NotRegistered(String),
    /// The message could not be encoded for the wire.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The connection to the process's node has far too much queued: the peer is not keeping
    /// up, and the message was not queued.
    #[error("the connection to the process's node is overloaded")]
    Overloaded,
}

/// Why a message could not be encoded or decoded for the wire.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum WireError {
    /// The actor is `#[actor(local)]`: its messages never cross the wire.
    #[error("{0} is a local actor: its messages cannot cross the wire")]
    NotRemote(String),
    /// Encoding failed.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// The bytes are not a valid message of the expected type.
    #[error("cannot decode: {0}")]
    Decode(String),
    /// The encoded message is larger than a frame may be: it was not sent, and the connection
    /// and everything else on it carry on.
    #[error("the message of {size} bytes exceeds the frame limit of {max}")]
    TooLarge {
        /// The encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// Why a local name could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// Another process holds the name.
    #[error("the name {0:?} is taken by another process: unregister it first, or choose another")]
    NameTaken(String),
    /// The process already holds another name.
    #[error("the process is already registered as {0:?}")]
    AlreadyNamed(String),
    /// The process has ended.
    #[error("no such process")]
    NoProc,
    /// Local names are for local processes.
    #[error("the process lives on another node")]
    NotLocal,
}
