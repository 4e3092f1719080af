//! What crosses an overlay link: the views' protocol, the routes' adverts, and the bytes of
//! sessions relayed between nodes that are not neighbours. Each frame is a length prefix
//! (four bytes, big-endian) and a CBOR body.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::{Adverts, Message};

/// Where a relayed frame goes, and which session it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Hop {
    /// The node that sent it.
    pub(crate) from: String,
    /// The node it is for.
    pub(crate) to: String,
    /// Whether `from` opened the session (else `to` did). With `session`, the opener's own
    /// number for it, this names the session at both ends.
    pub(crate) opener: bool,
    pub(crate) session: u64,
}

impl Hop {
    /// The same session, the other way.
    pub(crate) fn back(&self) -> Hop {
        Hop {
            from: self.to.clone(),
            to: self.from.clone(),
            opener: !self.opener,
            session: self.session,
        }
    }
}

/// One frame on a link.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum LinkFrame {
    /// The partial views' protocol, between the link's two ends.
    View(Message),
    /// Routes, between the link's two ends.
    Adverts(Adverts),
    /// Bytes of a session, passed hop by hop to `hop.to`. `seq` counts the frames of the
    /// session's direction from 0: a receiver that sees one out of turn (a frame lost with a
    /// link, or overtaken on a new route) resets the session, as a broken TCP stream ends.
    Relay { hop: Hop, seq: u64, bytes: ByteBuf },
    /// The session ended at `hop.from`, or could not be carried on toward it.
    Reset { hop: Hop },
    /// Nothing else went out for a heartbeat interval.
    Tick,
}

/// A `Relay` frame written from borrowed parts: the same bytes as [`LinkFrame::Relay`], without
/// copying the session's hop and the bytes for every write.
#[derive(Serialize)]
enum RelayRef<'a> {
    Relay {
        hop: &'a Hop,
        seq: u64,
        bytes: &'a serde_bytes::Bytes,
    },
}

/// A `Relay` frame with its length prefix.
pub(crate) fn encode_relay(hop: &Hop, seq: u64, bytes: &[u8]) -> Result<Vec<u8>, String> {
    prefixed(&RelayRef::Relay {
        hop,
        seq,
        bytes: serde_bytes::Bytes::new(bytes),
    })
}

/// The length prefix's size.
pub(crate) const LEN: usize = 4;

/// `frame` with its length prefix.
pub(crate) fn encode(frame: &LinkFrame) -> Result<Vec<u8>, String> {
    prefixed(frame)
}

fn prefixed(frame: &impl Serialize) -> Result<Vec<u8>, String> {
    let mut out = vec![0; LEN];
    actors::dist::encode(frame, &mut out).map_err(|e| e.to_string())?;
    let len = u32::try_from(out.len() - LEN).map_err(|_| "frame too large".to_string())?;
    out[..LEN].copy_from_slice(&len.to_be_bytes());
    Ok(out)
}

/// A frame body (what follows the prefix).
pub(crate) fn decode(body: &[u8]) -> Result<LinkFrame, String> {
    actors::dist::decode_plain(body).map_err(|e| format!("malformed overlay frame: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{Hop, LinkFrame, decode, encode};

    #[test]
    fn a_frame_reads_back_as_written_and_garbage_is_an_error() {
        let hop = Hop {
            from: "a@h:1".into(),
            to: "b@h:2".into(),
            opener: true,
            session: 7,
        };
        let bytes = encode(&LinkFrame::Relay {
            hop: hop.clone(),
            seq: 3,
            bytes: serde_bytes::ByteBuf::from(vec![1, 2, 3]),
        })
        .unwrap();
        let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len() - 4);
        match decode(&bytes[4..]).unwrap() {
            LinkFrame::Relay { hop: h, seq, bytes } => {
                assert_eq!((h, seq, bytes.into_vec()), (hop.clone(), 3, vec![1, 2, 3]));
            }
            other => panic!("read back {other:?}"),
        }
        assert_eq!(hop.back().back(), hop);
        assert_eq!(super::encode_relay(&hop, 3, &[1, 2, 3]).unwrap(), bytes);
        assert!(decode(&[0xff, 0x00, 0x13]).is_err());
    }
}
