//! The handshake: both sides prove they know the cookie without sending it, and nothing is
//! decided about the initiator until it has.
//!
//! ```text
//! initiator A                                acceptor B
//!   Hello { version, name_a, creation_a, nonce_a }  ->
//!                    <-  Challenge { status, name_b, creation_b, nonce_b }
//!   Proof { HMAC(cookie, "A" | transcript) }        ->   B checks it, then decides
//!                    <-  Ack { status, HMAC(cookie, "B" | transcript | status) }   A checks it
//! ```
//!
//! The transcript holds both nonces, names and creations. The nonces are fresh from the OS
//! on every attempt, so a recorded handshake replayed later fails; the role label keeps one
//! side's proof from being echoed back as the other's. Erlang does the same with MD5 and one
//! nonce each way; this uses HMAC-SHA256.
//!
//! The challenge's status only refuses what the `Hello` itself shows (another version, the
//! acceptor's own name, a node shutting down). Whether the name is blocked, already connected
//! or dialled by both sides at once is decided after the proof, and travels in the `Ack`
//! under the acceptor's MAC: a peer that does not know the cookie can claim a name, but
//! reserves nothing and changes nothing by it.

use std::fmt;

use actors::NodeId;
use actors::dist::rt::io::{ReadExt, WriteExt};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::transport::Stream;

/// The protocol version spoken; a peer with another is refused.
pub const VERSION: u32 = 1;

/// Handshake messages are small: a larger one is an attack or a bug.
const MAX_MESSAGE: usize = 4096;

const NONCE: usize = 32;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// What the acceptor answers to a `Hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Go on.
    Ok,
    /// Both sides are dialling each other; the acceptor's own attempt wins.
    Nok,
    /// The acceptor is already connected to a node of this name.
    Alive,
    /// Refused, with the reason.
    Refused(String),
}

#[derive(Serialize, Deserialize)]
struct Hello {
    version: u32,
    name: String,
    creation: u32,
    nonce: ByteBuf,
}

#[derive(Serialize, Deserialize)]
struct Challenge {
    status: Status,
    name: String,
    creation: u32,
    nonce: ByteBuf,
}

#[derive(Serialize, Deserialize)]
struct Proof {
    mac: ByteBuf,
}

#[derive(Serialize, Deserialize)]
struct Ack {
    status: Status,
    mac: ByteBuf,
}

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The stream failed.
    #[error("i/o: {0}")]
    Io(String),
    /// A message was not what the protocol expects.
    #[error("malformed handshake: {0}")]
    Malformed(String),
    /// The peer speaks another version.
    #[error(
        "the peer speaks protocol version {0}, this node {VERSION}: run releases of actors-net that share it"
    )]
    Version(u32),
    /// The peer does not know the cookie.
    #[error("the cookies differ: start both nodes with the same cookie (NodeBuilder::cookie)")]
    BadCookie,
    /// The acceptor hung up on this node's proof, as it does when the cookies differ.
    #[error(
        "the peer hung up on this node's proof of the cookie: the cookies differ, most likely; start both nodes with the same cookie (NodeBuilder::cookie)"
    )]
    ProofRefused,
    /// The other direction's attempt won a simultaneous connect.
    #[error("simultaneous connect: the other attempt wins")]
    Lost,
    /// The acceptor is already connected to a node of this name.
    #[error("already connected to a node of that name")]
    Alive,
    /// The acceptor refused.
    #[error("refused: {0}")]
    Refused(String),
    /// The node that answered is not the one dialled.
    #[error("dialled {expected}, but {found} answered at that address: check the port in the name")]
    WrongNode {
        /// The name dialled.
        expected: String,
        /// The name that answered.
        found: String,
    },
}

impl From<std::io::Error> for HandshakeError {
    fn from(e: std::io::Error) -> Self {
        HandshakeError::Io(match e.kind() {
            std::io::ErrorKind::ConnectionRefused => format!(
                "nothing accepts connections at that address ({e}): is the node up, at the host and port its name says?"
            ),
            _ => e.to_string(),
        })
    }
}

/// The peer as the handshake established it.
pub struct Peer {
    /// Its name and creation.
    pub id: NodeId,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.id)
    }
}

fn nonce() -> Result<[u8; NONCE], HandshakeError> {
    let mut n = [0u8; NONCE];
    actors::dist::rt::fill_random(&mut n).map_err(HandshakeError::Io)?;
    Ok(n)
}

async fn send<T: Serialize>(stream: &mut Stream, msg: &T) -> Result<(), HandshakeError> {
    let mut body = Vec::new();
    actors::dist::encode(msg, &mut body).map_err(|e| HandshakeError::Malformed(e.to_string()))?;
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    stream.writer.write_all(&out).await?;
    stream.writer.flush().await?;
    Ok(())
}

async fn recv<T: serde::de::DeserializeOwned>(stream: &mut Stream) -> Result<T, HandshakeError> {
    let mut len = [0u8; 4];
    stream.reader.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(HandshakeError::Malformed(format!(
            "message of {len} bytes exceeds {MAX_MESSAGE}"
        )));
    }
    let mut body = vec![0u8; len];
    stream.reader.read_exact(&mut body).await?;
    // Handshake messages hold no pids, so the plain codec (no node binding) suffices.
    actors::dist::decode_plain(&body).map_err(|e| HandshakeError::Malformed(e.to_string()))
}

struct Transcript<'a> {
    nonce_a: &'a [u8],
    nonce_b: &'a [u8],
    a: &'a NodeId,
    b: &'a NodeId,
}

impl Transcript<'_> {
    fn mac(&self, cookie: &[u8], role: &[u8]) -> HmacSha256 {
        self.mac_with(cookie, role, &[])
    }

    fn mac_with(&self, cookie: &[u8], role: &[u8], extra: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(cookie).expect("HMAC takes a key of any length");
        mac.update(role);
        mac.update(self.nonce_a);
        mac.update(self.nonce_b);
        for id in [self.a, self.b] {
            mac.update(&(id.name().len() as u32).to_be_bytes());
            mac.update(id.name().as_bytes());
            mac.update(&id.creation().to_be_bytes());
        }
        mac.update(extra);
        mac
    }

    fn proof(&self, cookie: &[u8], role: &[u8]) -> ByteBuf {
        ByteBuf::from(self.mac(cookie, role).finalize().into_bytes().to_vec())
    }

    fn check(&self, cookie: &[u8], role: &[u8], mac: &[u8]) -> Result<(), HandshakeError> {
        self.mac(cookie, role)
            .verify_slice(mac)
            .map_err(|_| HandshakeError::BadCookie)
    }

    /// The acceptor's proof, which also vouches for its decision.
    fn ack(&self, cookie: &[u8], status: &Status) -> Result<ByteBuf, HandshakeError> {
        let mut said = Vec::new();
        actors::dist::encode(status, &mut said)
            .map_err(|e| HandshakeError::Malformed(e.to_string()))?;
        Ok(ByteBuf::from(
            self.mac_with(cookie, ROLE_B, &said)
                .finalize()
                .into_bytes()
                .to_vec(),
        ))
    }

    fn check_ack(&self, cookie: &[u8], ack: &Ack) -> Result<(), HandshakeError> {
        let mut said = Vec::new();
        actors::dist::encode(&ack.status, &mut said)
            .map_err(|e| HandshakeError::Malformed(e.to_string()))?;
        self.mac_with(cookie, ROLE_B, &said)
            .verify_slice(&ack.mac)
            .map_err(|_| HandshakeError::BadCookie)
    }
}

fn outcome(status: Status) -> Result<(), HandshakeError> {
    match status {
        Status::Ok => Ok(()),
        Status::Nok => Err(HandshakeError::Lost),
        Status::Alive => Err(HandshakeError::Alive),
        Status::Refused(why) => Err(HandshakeError::Refused(why)),
    }
}

const ROLE_A: &[u8] = b"initiator";
const ROLE_B: &[u8] = b"acceptor";

/// Runs the initiator's side towards the node named `expect`.
pub async fn initiate(
    stream: &mut Stream,
    me: &NodeId,
    cookie: &[u8],
    expect: &str,
) -> Result<Peer, HandshakeError> {
    let nonce_a = nonce()?;
    send(
        stream,
        &Hello {
            version: VERSION,
            name: me.name().to_string(),
            creation: me.creation(),
            nonce: ByteBuf::from(nonce_a.to_vec()),
        },
    )
    .await?;
    let ch: Challenge = recv(stream).await?;
    outcome(ch.status)?;
    if ch.name != expect {
        return Err(HandshakeError::WrongNode {
            expected: expect.to_string(),
            found: ch.name,
        });
    }
    if ch.nonce.len() != NONCE {
        return Err(HandshakeError::Malformed("nonce of the wrong size".into()));
    }
    let peer = NodeId::new(&ch.name, ch.creation);
    let t = Transcript {
        nonce_a: &nonce_a,
        nonce_b: &ch.nonce,
        a: me,
        b: &peer,
    };
    send(
        stream,
        &Proof {
            mac: t.proof(cookie, ROLE_A),
        },
    )
    .await?;
    // An acceptor that finds the proof wrong hangs up without a word (as Erlang's does: a
    // stranger learns nothing from it); hanging up right here is what that looks like.
    let ack: Ack = recv(stream).await.map_err(|e| match e {
        HandshakeError::Io(_) => HandshakeError::ProofRefused,
        other => other,
    })?;
    t.check_ack(cookie, &ack)?;
    outcome(ack.status)?;
    Ok(Peer { id: peer })
}

/// Runs the acceptor's side; once the initiator has proved the cookie, `decide` answers for
/// its name (simultaneous connects, names already connected, blocked peers).
pub async fn accept(
    stream: &mut Stream,
    me: &NodeId,
    cookie: &[u8],
    open: bool,
    decide: impl FnOnce(&NodeId) -> Status,
) -> Result<Peer, HandshakeError> {
    let hello: Hello = recv(stream).await?;
    let nonce_b = nonce()?;
    let peer = NodeId::new(&hello.name, hello.creation);
    let status = if hello.version != VERSION {
        Status::Refused(format!(
            "protocol version {} is not {VERSION}",
            hello.version
        ))
    } else if hello.nonce.len() != NONCE {
        Status::Refused("nonce of the wrong size".into())
    } else if hello.name == me.name() {
        Status::Refused("that is this node's own name".into())
    } else if !open {
        Status::Refused("node shutting down".into())
    } else {
        Status::Ok
    };
    send(
        stream,
        &Challenge {
            status: status.clone(),
            name: me.name().to_string(),
            creation: me.creation(),
            nonce: ByteBuf::from(nonce_b.to_vec()),
        },
    )
    .await?;
    if hello.version != VERSION {
        return Err(HandshakeError::Version(hello.version));
    }
    outcome(status)?;
    let t = Transcript {
        nonce_a: &hello.nonce,
        nonce_b: &nonce_b,
        a: &peer,
        b: me,
    };
    let proof: Proof = recv(stream).await?;
    t.check(cookie, ROLE_A, &proof.mac)?;
    let status = decide(&peer);
    let mac = t.ack(cookie, &status)?;
    send(
        stream,
        &Ack {
            status: status.clone(),
            mac,
        },
    )
    .await?;
    outcome(status)?;
    Ok(Peer { id: peer })
}
