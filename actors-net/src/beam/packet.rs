//! Length-prefixed packets: two-byte lengths during the handshake and to EPMD, four-byte
//! ones once connected. A packet longer than the caller's limit is refused before anything
//! is allocated for it.

use std::io;

use actors::dist::rt::io::{AsyncRead, AsyncWrite, ReadExt, WriteExt};

/// Reads one packet with a two-byte length.
pub(crate) async fn read2<R: AsyncRead + Unpin + ?Sized>(
    r: &mut R,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len).await?;
    read_body(r, u16::from_be_bytes(len) as usize, max).await
}

/// Reads one packet with a four-byte length; an empty one is a tick.
pub(crate) async fn read4<R: AsyncRead + Unpin + ?Sized>(
    r: &mut R,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    read_body(r, u32::from_be_bytes(len) as usize, max).await
}

async fn read_body<R: AsyncRead + Unpin + ?Sized>(
    r: &mut R,
    len: usize,
    max: usize,
) -> io::Result<Vec<u8>> {
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a packet of {len} bytes exceeds the limit of {max}"),
        ));
    }
    // Grown as the bytes arrive, not sized by what the peer claims.
    let mut body = Vec::with_capacity(len.min(64 * 1024));
    let got = (&mut *r).take(len as u64).read_to_end(&mut body).await?;
    if got < len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(body)
}

/// Writes one packet with a two-byte length.
pub(crate) async fn write2<W: AsyncWrite + Unpin + ?Sized>(
    w: &mut W,
    body: &[u8],
) -> io::Result<()> {
    let len = u16::try_from(body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too long"))?;
    let mut packet = Vec::with_capacity(body.len() + 2);
    packet.extend_from_slice(&len.to_be_bytes());
    packet.extend_from_slice(body);
    w.write_all(&packet).await?;
    w.flush().await
}
