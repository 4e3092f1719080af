//! A peer that speaks Erlang's handshake by hand, then sends what it likes.

use actors::dist::rt::io::{ReadExt, WriteExt};
use actors::dist::rt::net::TcpStream;
use actors::etf::{Atom, ErlPid, Term, decode_prefix, encode};
use md5::{Digest, Md5};

/// The flags a node requires of its peers.
const FLAGS: u64 = 0x4 | 0x100 | 0x800 | 0x10000 | 0x20000 | 0x40000 | 0x100_0000;

pub async fn send2(s: &mut TcpStream, body: &[u8]) {
    let mut p = (body.len() as u16).to_be_bytes().to_vec();
    p.extend_from_slice(body);
    s.write_all(&p).await.unwrap();
}

/// Writes `bytes` from a task of its own, while the caller reads the answers: a peer that
/// wrote a large batch before reading could wait forever on a node whose answers fill the
/// socket's buffer, as the node waits for the peer to read them.
pub fn write_while_reading(s: &TcpStream, bytes: Vec<u8>) -> actors::rt::JoinHandle<()> {
    let mut writer = s.clone();
    actors::rt::spawn(async move { writer.write_all(&bytes).await.unwrap() })
}

/// The next packet the node sends, past its ticks: the control tuple's items, and the
/// message after them if there is one.
pub async fn next_packet(s: &mut TcpStream) -> (Vec<Term>, Option<Term>) {
    loop {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).await.unwrap();
        if body.is_empty() {
            continue;
        }
        let mut rest = &body[1..];
        let control = decode_prefix(&mut rest).expect("a control term");
        let items = control.as_tuple().expect("a control tuple").to_vec();
        let message = (!rest.is_empty()).then(|| decode_prefix(&mut rest).expect("a message"));
        return (items, message);
    }
}

pub async fn read2(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.ok()?;
    Some(body)
}

fn digest(cookie: &str, challenge: u32) -> Vec<u8> {
    let mut md5 = Md5::new();
    md5.update(cookie.as_bytes());
    md5.update(challenge.to_string().as_bytes());
    md5.finalize().to_vec()
}

/// Dials the node's BEAM port as `name` and answers its challenge with `cookie`; the
/// stream if the node accepted.
pub async fn connect(port: u16, name: &str, cookie: &str) -> Option<TcpStream> {
    connect_with(port, name, cookie, &[]).await
}

/// As [`connect`], with `first` (framed packets) written together with the answer to the
/// challenge, so it waits in the node's buffer as the connection comes up.
pub async fn connect_with(port: u16, name: &str, cookie: &str, first: &[u8]) -> Option<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut hello = vec![b'N'];
    hello.extend_from_slice(&FLAGS.to_be_bytes());
    hello.extend_from_slice(&7u32.to_be_bytes());
    hello.extend_from_slice(&(name.len() as u16).to_be_bytes());
    hello.extend_from_slice(name.as_bytes());
    send2(&mut s, &hello).await;
    let status = read2(&mut s).await?;
    if status == b"salive" {
        // A connection of ours stands there already: this one replaces it.
        send2(&mut s, b"strue").await;
    } else {
        assert_eq!(status, b"sok");
    }
    let challenge = read2(&mut s).await?;
    let theirs = u32::from_be_bytes(challenge[9..13].try_into().unwrap());
    let mut reply = vec![b'r'];
    reply.extend_from_slice(&1234u32.to_be_bytes());
    reply.extend_from_slice(&digest(cookie, theirs));
    let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&reply);
    framed.extend_from_slice(first);
    s.write_all(&framed).await.unwrap();
    let ack = read2(&mut s).await?;
    assert_eq!(
        ack[1..],
        digest(cookie, 1234)[..],
        "the node proves the cookie too"
    );
    Some(s)
}

/// A framed packet (four-byte length first) that sends `message` from `from` to the process
/// registered as `to` on the node (`REG_SEND`).
pub fn reg_send(from: &ErlPid, to: &str, message: &Term) -> Vec<u8> {
    let control = Term::tuple([
        Term::Int(6),
        Term::Pid(from.clone()),
        Term::Atom(Atom::from("")),
        Term::Atom(Atom::from(to)),
    ]);
    let mut p = vec![112];
    p.extend_from_slice(&encode(&control));
    p.extend_from_slice(&encode(message));
    let mut framed = (p.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(&p);
    framed
}

/// Sends one packet with a four-byte length.
pub async fn send4(s: &mut TcpStream, body: &[u8]) {
    let mut p = (body.len() as u32).to_be_bytes().to_vec();
    p.extend_from_slice(body);
    s.write_all(&p).await.unwrap();
}

/// True once the node closed the connection (within `limit`); ticks are read past.
pub async fn closed(s: &mut TcpStream, limit: std::time::Duration) -> bool {
    let read = async {
        let mut buf = [0u8; 256];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    };
    actors::rt::timeout(limit, read).await.unwrap_or(false)
}
