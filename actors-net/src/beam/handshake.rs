//! Erlang's distribution handshake, version 6: names and capability flags are exchanged,
//! then each side proves it knows the cookie by answering the other's challenge with
//! MD5(cookie ++ challenge). Nothing about the peer is acted on until both proofs are in.

use std::io;

use md5::{Digest, Md5};

use super::packet::{read2, write2};
use crate::transport::Stream;

/// Capability flags (`DFLAG_*` of OTP's `dist.hrl`).
pub(crate) mod flags {
    pub const EXTENDED_REFERENCES: u64 = 0x4;
    pub const DIST_MONITOR: u64 = 0x8;
    pub const FUN_TAGS: u64 = 0x10;
    pub const DIST_MONITOR_NAME: u64 = 0x20;
    pub const NEW_FUN_TAGS: u64 = 0x80;
    pub const EXTENDED_PIDS_PORTS: u64 = 0x100;
    pub const EXPORT_PTR_TAG: u64 = 0x200;
    pub const BIT_BINARIES: u64 = 0x400;
    pub const NEW_FLOATS: u64 = 0x800;
    pub const UTF8_ATOMS: u64 = 0x10000;
    pub const MAP_TAG: u64 = 0x20000;
    pub const BIG_CREATION: u64 = 0x40000;
    pub const SEND_SENDER: u64 = 0x80000;
    pub const HANDSHAKE_23: u64 = 0x100_0000;
    pub const UNLINK_ID: u64 = 0x200_0000;
    pub const MANDATORY_25_DIGEST: u64 = 0x400_0000;
    pub const PUBLISHED: u64 = 0x1;
    pub const SPAWN: u64 = 1 << 32;
    pub const V4_NC: u64 = 1 << 34;
    pub const ALIAS: u64 = 1 << 35;

    /// What this side offers (and `PUBLISHED` for a visible node). Not offered, so never
    /// sent to us: the atom cache and fragments (every message arrives whole, in
    /// pass-through form), exit payloads (exit reasons arrive in the control message).
    pub const OURS: u64 = EXTENDED_REFERENCES
        | SPAWN
        | DIST_MONITOR
        | FUN_TAGS
        | DIST_MONITOR_NAME
        | NEW_FUN_TAGS
        | EXTENDED_PIDS_PORTS
        | EXPORT_PTR_TAG
        | BIT_BINARIES
        | NEW_FLOATS
        | UTF8_ATOMS
        | MAP_TAG
        | BIG_CREATION
        | SEND_SENDER
        | HANDSHAKE_23
        | UNLINK_ID
        | MANDATORY_25_DIGEST
        | V4_NC
        | ALIAS;

    /// What a peer must offer: what this side relies on to read its messages.
    pub const REQUIRED: u64 = EXTENDED_REFERENCES
        | EXTENDED_PIDS_PORTS
        | UTF8_ATOMS
        | MAP_TAG
        | BIG_CREATION
        | NEW_FLOATS
        | HANDSHAKE_23;
}

/// Why a handshake with a BEAM node failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BeamHandshakeError {
    /// The peer does not know the cookie (or we do not know its).
    #[error("the cookies differ: give the Rust node the Erlang node's cookie (erl -setcookie)")]
    BadCookie,
    /// The peer refused the connection, with its status.
    #[error("refused by the peer: {0}")]
    Refused(String),
    /// The peer answered with a name other than the one dialled.
    #[error("the peer calls itself {0}")]
    WrongName(String),
    /// The peer lacks a capability this side needs.
    #[error("the peer lacks capability flags {0:#x}")]
    MissingFlags(u64),
    /// Bytes that are not the handshake.
    #[error("malformed handshake: {0}")]
    Malformed(&'static str),
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Who is on the other end, once proved.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) name: String,
    pub(crate) flags: u64,
    pub(crate) creation: u32,
}

/// This side of a handshake.
pub(crate) struct Me<'a> {
    pub(crate) name: &'a str,
    /// What this side offers: `flags::OURS`, and `PUBLISHED` for a visible node.
    pub(crate) flags: u64,
    pub(crate) creation: u32,
    pub(crate) cookie: &'a [u8],
}

/// The longest handshake packet: names are at most 255 bytes.
const MAX_PACKET: usize = 1024;

fn digest(cookie: &[u8], challenge: u32) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(cookie);
    md5.update(challenge.to_string().as_bytes());
    md5.finalize().into()
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn challenge() -> u32 {
    let mut bytes = [0u8; 4];
    // Without the OS's randomness a challenge would be guessable: better none at all.
    actors::dist::rt::fill_random(&mut bytes).expect("random bytes for a handshake challenge");
    u32::from_le_bytes(bytes)
}

fn name_packet(tag: u8, flags: u64, challenge: Option<u32>, me: &Me<'_>) -> Vec<u8> {
    let mut p = vec![tag];
    p.extend_from_slice(&flags.to_be_bytes());
    if let Some(c) = challenge {
        p.extend_from_slice(&c.to_be_bytes());
    }
    p.extend_from_slice(&me.creation.to_be_bytes());
    p.extend_from_slice(&(me.name.len() as u16).to_be_bytes());
    p.extend_from_slice(me.name.as_bytes());
    p
}

/// Reads `flags(8) [challenge(4)] creation(4) nlen(2) name` after a tag byte.
fn parse_name(body: &[u8], with_challenge: bool) -> Result<(Peer, u32), BeamHandshakeError> {
    let bad = BeamHandshakeError::Malformed("name packet");
    let mut at = 1;
    let mut take = |n: usize| -> Result<&[u8], BeamHandshakeError> {
        let s = body
            .get(at..at + n)
            .ok_or(BeamHandshakeError::Malformed("name packet"))?;
        at += n;
        Ok(s)
    };
    let flags = u64::from_be_bytes(
        take(8)?
            .try_into()
            .map_err(|_| BeamHandshakeError::Malformed("flags"))?,
    );
    let challenge = if with_challenge {
        u32::from_be_bytes(
            take(4)?
                .try_into()
                .map_err(|_| BeamHandshakeError::Malformed("challenge"))?,
        )
    } else {
        0
    };
    let creation = u32::from_be_bytes(
        take(4)?
            .try_into()
            .map_err(|_| BeamHandshakeError::Malformed("creation"))?,
    );
    let nlen = u16::from_be_bytes(
        take(2)?
            .try_into()
            .map_err(|_| BeamHandshakeError::Malformed("name"))?,
    ) as usize;
    let name = std::str::from_utf8(take(nlen)?).map_err(|_| bad)?;
    if !name.contains('@') || name.len() > 255 {
        return Err(BeamHandshakeError::Malformed("node name"));
    }
    if flags & flags::REQUIRED != flags::REQUIRED {
        return Err(BeamHandshakeError::MissingFlags(flags::REQUIRED & !flags));
    }
    Ok((
        Peer {
            name: name.to_string(),
            flags,
            creation,
        },
        challenge,
    ))
}

/// Dials side: sends our name, reads the status and the peer's challenge, answers it with
/// a challenge of our own, and checks the peer's answer.
pub(crate) async fn initiate(
    stream: &mut Stream,
    me: &Me<'_>,
    expect: &str,
) -> Result<Peer, BeamHandshakeError> {
    write2(&mut stream.writer, &name_packet(b'N', me.flags, None, me)).await?;
    let status = read2(&mut stream.reader, MAX_PACKET).await?;
    match status.as_slice() {
        [b's', rest @ ..] if rest == b"ok" || rest == b"ok_simultaneous" => {}
        [b's', rest @ ..] if rest == b"alive" => {
            // A connection of an earlier run of ours still stands there: this run replaces it.
            write2(&mut stream.writer, b"strue").await?;
        }
        [b's', rest @ ..] => {
            return Err(BeamHandshakeError::Refused(
                String::from_utf8_lossy(rest).into_owned(),
            ));
        }
        _ => return Err(BeamHandshakeError::Malformed("status")),
    }
    let body = read2(&mut stream.reader, MAX_PACKET).await?;
    if body.first() != Some(&b'N') {
        return Err(BeamHandshakeError::Malformed("challenge"));
    }
    let (peer, theirs) = parse_name(&body, true)?;
    if peer.name != expect {
        return Err(BeamHandshakeError::WrongName(peer.name));
    }
    let ours = challenge();
    let mut reply = vec![b'r'];
    reply.extend_from_slice(&ours.to_be_bytes());
    reply.extend_from_slice(&digest(me.cookie, theirs));
    write2(&mut stream.writer, &reply).await?;
    let ack = read2(&mut stream.reader, MAX_PACKET).await?;
    match ack.split_first() {
        Some((b'a', d)) if same(d, &digest(me.cookie, ours)) => Ok(peer),
        Some((b'a', _)) => Err(BeamHandshakeError::BadCookie),
        // A peer that finds our answer wrong closes the socket without a word.
        _ => Err(BeamHandshakeError::Malformed("challenge ack")),
    }
}

/// Accepting side: reads the peer's name, says whether it may go on (`status`), sends our
/// challenge, checks the peer's answer and answers its challenge.
pub(crate) async fn accept(
    stream: &mut Stream,
    me: &Me<'_>,
    status: impl FnOnce(&str) -> &'static str,
) -> Result<Peer, BeamHandshakeError> {
    let body = read2(&mut stream.reader, MAX_PACKET).await?;
    match body.first() {
        Some(b'N') => {}
        Some(b'n') => {
            return Err(BeamHandshakeError::Refused(
                "handshake versions before 6".into(),
            ));
        }
        _ => return Err(BeamHandshakeError::Malformed("send_name")),
    }
    let (peer, _) = parse_name(&body, false)?;
    let verdict = status(&peer.name);
    write2(
        &mut stream.writer,
        &[b"s".as_slice(), verdict.as_bytes()].concat(),
    )
    .await?;
    match verdict {
        "ok" => {}
        "alive" => {
            let answer = read2(&mut stream.reader, MAX_PACKET).await?;
            if answer != b"strue" {
                return Err(BeamHandshakeError::Refused(
                    "the peer kept its old connection".into(),
                ));
            }
        }
        other => return Err(BeamHandshakeError::Refused(other.to_string())),
    }
    let ours = challenge();
    write2(
        &mut stream.writer,
        &name_packet(b'N', me.flags, Some(ours), me),
    )
    .await?;
    let reply = read2(&mut stream.reader, MAX_PACKET).await?;
    let (theirs, answer) = match reply.as_slice() {
        [b'r', c0, c1, c2, c3, d @ ..] if d.len() == 16 => {
            (u32::from_be_bytes([*c0, *c1, *c2, *c3]), d)
        }
        _ => return Err(BeamHandshakeError::Malformed("challenge reply")),
    };
    if !same(answer, &digest(me.cookie, ours)) {
        return Err(BeamHandshakeError::BadCookie);
    }
    let mut ack = vec![b'a'];
    ack.extend_from_slice(&digest(me.cookie, theirs));
    write2(&mut stream.writer, &ack).await?;
    Ok(peer)
}

#[cfg(test)]
mod tests {
    use crate::beam::handshake::digest;

    #[test]
    fn the_digest_is_erlangs() {
        // erlang:md5(["cookie", integer_to_list(1234567)])
        assert_eq!(
            digest(b"cookie", 1234567),
            [
                2, 152, 124, 100, 135, 162, 148, 241, 113, 233, 174, 136, 255, 43, 141, 46
            ]
        );
    }
}
