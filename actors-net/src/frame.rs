//! Frames on a connection.
//!
//! Every frame is `length: u32 (big-endian)` followed by `length` bytes: a kind byte, then the
//! kind's fields. Messages (cast, call, reply) have a fixed binary header and a CBOR payload, so
//! the hot path parses no CBOR of its own; control frames are one CBOR value.
//!
//! ```text
//! tick     0
//! cast     1  creation:u32 to:u64 identity:u64 payload...
//! call     2  creation:u32 to:u64 identity:u64 call_ref:u64 payload...
//! reply    3  call_ref:u64 payload...        payload = CBOR Result<R, CallError>
//! control  4  CBOR Control
//! ```

use actors::{AnyPid, ExitReason};
use serde::{Deserialize, Serialize};

/// Bytes of the length prefix.
pub const LEN: usize = 4;

/// A frame's target: a process of the receiving node, in one of its runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The creation the sender believes the process belongs to.
    pub creation: u32,
    /// The process id.
    pub id: u64,
}

/// A parsed frame, borrowing its payload from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Keep-alive, sent only when nothing else was.
    Tick,
    /// A message that expects no reply.
    Cast {
        /// The receiving process.
        to: Target,
        /// Wire identity of the actor type the sender believes it is.
        identity: u64,
        /// CBOR of the message.
        payload: &'a [u8],
    },
    /// A message whose reply goes back as a `Reply` with the same `call_ref`.
    Call {
        /// The receiving process.
        to: Target,
        /// Wire identity of the actor type the sender believes it is.
        identity: u64,
        /// Matches the reply to the call on the caller's side.
        call_ref: u64,
        /// CBOR of the message.
        payload: &'a [u8],
    },
    /// The answer to a `Call`.
    Reply {
        /// The call answered.
        call_ref: u64,
        /// CBOR of `Result<R, CallError>`.
        payload: &'a [u8],
    },
    /// CBOR of a [`Control`].
    Control(&'a [u8]),
}

const TICK: u8 = 0;
const CAST: u8 = 1;
const CALL: u8 = 2;
const REPLY: u8 = 3;
const CONTROL: u8 = 4;

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix exceeds the limit.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes do not parse.
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
}

fn put_header(out: &mut Vec<u8>, body_len: usize, kind: u8) {
    // Frames are bounded by the frame limit long before 4 GiB.
    out.extend_from_slice(&(body_len as u32).to_be_bytes());
    out.push(kind);
}

/// Starts a cast whose payload the caller appends next; returns where the frame starts, for
/// [`finish`].
pub fn begin_cast(out: &mut Vec<u8>, to: Target, identity: u64) -> usize {
    let start = out.len();
    put_header(out, 0, CAST);
    out.extend_from_slice(&to.creation.to_be_bytes());
    out.extend_from_slice(&to.id.to_be_bytes());
    out.extend_from_slice(&identity.to_be_bytes());
    start
}

/// Starts a call whose payload the caller appends next; returns where the frame starts.
pub fn begin_call(out: &mut Vec<u8>, to: Target, identity: u64, call_ref: u64) -> usize {
    let start = begin_cast(out, to, identity);
    out[start + LEN] = CALL;
    out.extend_from_slice(&call_ref.to_be_bytes());
    start
}

/// Writes the length of the frame begun at `start`, now that its payload is appended.
pub fn finish(out: &mut [u8], start: usize) {
    let body = (out.len() - start - LEN) as u32;
    out[start..start + LEN].copy_from_slice(&body.to_be_bytes());
}

/// Appends a tick.
pub fn tick(out: &mut Vec<u8>) {
    put_header(out, 1, TICK);
}

/// Appends a cast (the router encodes in place with `begin_cast`; this is for tests).
#[cfg(any(test, feature = "testing"))]
pub fn cast(out: &mut Vec<u8>, to: Target, identity: u64, payload: &[u8]) {
    let start = begin_cast(out, to, identity);
    out.extend_from_slice(payload);
    finish(out, start);
}

/// Appends a call (the router encodes in place with `begin_call`; this is for tests).
#[cfg(any(test, feature = "testing"))]
pub fn call(out: &mut Vec<u8>, to: Target, identity: u64, call_ref: u64, payload: &[u8]) {
    let start = begin_call(out, to, identity, call_ref);
    out.extend_from_slice(payload);
    finish(out, start);
}

/// Appends a reply.
pub fn reply(out: &mut Vec<u8>, call_ref: u64, payload: &[u8]) {
    put_header(out, 1 + 8 + payload.len(), REPLY);
    out.extend_from_slice(&call_ref.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Appends a control frame holding already-encoded CBOR.
pub fn control(out: &mut Vec<u8>, cbor: &[u8]) {
    put_header(out, 1 + cbor.len(), CONTROL);
    out.extend_from_slice(cbor);
}

/// The body length a length prefix announces, if within `max`.
pub fn body_len(prefix: [u8; LEN], max: usize) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    if len == 0 {
        return Err(FrameError::Malformed("empty frame"));
    }
    Ok(len)
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(FrameError::Malformed("truncated header"))?;
        self.0 = rest;
        Ok(*head)
    }
    fn u32(&mut self) -> Result<u32, FrameError> {
        self.take::<4>().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Result<u64, FrameError> {
        self.take::<8>().map(u64::from_be_bytes)
    }
    fn target(&mut self) -> Result<Target, FrameError> {
        Ok(Target {
            creation: self.u32()?,
            id: self.u64()?,
        })
    }
}

/// Parses a frame body (what follows the length prefix).
pub fn parse(body: &[u8]) -> Result<Frame<'_>, FrameError> {
    let (&kind, rest) = body
        .split_first()
        .ok_or(FrameError::Malformed("empty frame"))?;
    let mut c = Cursor(rest);
    let frame = match kind {
        TICK => Frame::Tick,
        CAST => Frame::Cast {
            to: c.target()?,
            identity: c.u64()?,
            payload: c.0,
        },
        CALL => Frame::Call {
            to: c.target()?,
            identity: c.u64()?,
            call_ref: c.u64()?,
            payload: c.0,
        },
        REPLY => Frame::Reply {
            call_ref: c.u64()?,
            payload: c.0,
        },
        CONTROL => Frame::Control(rest),
        _ => return Err(FrameError::Malformed("unknown frame kind")),
    };
    Ok(frame)
}

/// Signals and bookkeeping between two nodes, carried in control frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// The nodes the sender is connected to, so that the receiver joins them (full mesh).
    Peers(Vec<String>),
    /// The sender closes the connection on purpose (`disconnect`, clean partitions, shutdown):
    /// the receiver takes it for no failure of the link. Nothing follows it.
    Bye,
    /// `from` links itself to process `to` of the receiver.
    Link {
        /// The linking process, on the sender.
        from: AnyPid,
        /// The linked process, on the receiver.
        to: Target,
    },
    /// `from` removes its link to `to`.
    Unlink {
        /// The unlinking process, on the sender.
        from: AnyPid,
        /// The process it was linked to, on the receiver.
        to: Target,
    },
    /// An exit signal from `from` to `to`.
    Exit {
        /// The sender's process.
        from: AnyPid,
        /// The receiving process.
        to: Target,
        /// Its reason.
        reason: ExitReason,
        /// Caused by a link.
        linked: bool,
    },
    /// Stop `to` gracefully with `reason`.
    Stop {
        /// The process to stop.
        to: Target,
        /// Why.
        reason: ExitReason,
    },
    /// Kill `to`.
    Kill {
        /// The process to kill.
        to: Target,
    },
    /// The sender watches process `to`; answer with `Down { monitor }` when it ends.
    Monitor {
        /// The watched process.
        to: Target,
        /// The sender's name for this monitor.
        monitor: u64,
    },
    /// The sender no longer watches `to` under `monitor`.
    Demonitor {
        /// The watched process.
        to: Target,
        /// The sender's name for the monitor.
        monitor: u64,
    },
    /// The answer to `Monitor`: the watched process ended.
    Down {
        /// The receiver's name for the monitor.
        monitor: u64,
        /// Why the process ended.
        reason: ExitReason,
    },
    /// Which process is registered as `name` here? (`{Name, Node}` addressing)
    WhereIs {
        /// The local name asked about.
        name: String,
        /// Matches the answer to the question.
        request: u64,
    },
    /// The answer to `WhereIs`.
    WhereIsReply {
        /// The question answered.
        request: u64,
        /// The process, if one holds the name.
        pid: Option<AnyPid>,
    },
    /// Start a process of actor type `actor` here, from its encoded state.
    Spawn {
        /// Matches the answer to the request.
        request: u64,
        /// The actor type's wire name.
        actor: String,
        /// Its wire identity hash: both nodes must be built from the same version of it.
        identity: u64,
        /// CBOR of the actor's initial state.
        state: serde_bytes::ByteBuf,
        /// Link the new process to this one from its first moment (`spawn_link`).
        link: Option<AnyPid>,
    },
    /// The answer to `Spawn`.
    Spawned {
        /// The request answered.
        request: u64,
        /// The new process, or why there is none.
        result: Result<AnyPid, String>,
    },
    /// Answer with `Pong` at once: measures the connection's round trip.
    Ping {
        /// Matches the answer to the ping.
        request: u64,
    },
    /// The answer to `Ping`.
    Pong {
        /// The ping answered.
        request: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let to = Target {
            creation: 7,
            id: 42,
        };
        let mut out = Vec::new();
        tick(&mut out);
        cast(&mut out, to, 9, b"abc");
        call(&mut out, to, 9, 77, b"de");
        reply(&mut out, 77, b"f");
        control(&mut out, b"\x80");
        let mut rest = &out[..];
        let mut frames = Vec::new();
        while !rest.is_empty() {
            let len = body_len(rest[..LEN].try_into().unwrap(), 1024).unwrap();
            frames.push(parse(&rest[LEN..LEN + len]).unwrap());
            rest = &rest[LEN + len..];
        }
        assert_eq!(
            frames,
            vec![
                Frame::Tick,
                Frame::Cast {
                    to,
                    identity: 9,
                    payload: b"abc"
                },
                Frame::Call {
                    to,
                    identity: 9,
                    call_ref: 77,
                    payload: b"de"
                },
                Frame::Reply {
                    call_ref: 77,
                    payload: b"f"
                },
                Frame::Control(b"\x80"),
            ]
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(
            body_len(u32::MAX.to_be_bytes(), 1 << 20),
            Err(FrameError::TooLarge {
                len: u32::MAX as usize,
                max: 1 << 20
            })
        );
        assert!(body_len(0u32.to_be_bytes(), 10).is_err());
        assert!(parse(&[]).is_err());
        assert!(parse(&[99]).is_err());
        assert!(parse(&[CAST, 1, 2]).is_err());
        assert!(parse(&[CALL, 0, 0, 0, 1]).is_err());
        assert!(parse(&[REPLY, 1]).is_err());
    }
}
