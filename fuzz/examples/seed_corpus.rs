//! Writes seed corpora for the fuzz targets from a real session: two nodes over loopback TCP,
//! one recording every byte it reads and writes, doing calls, casts, a lookup, a monitor, a
//! link and a global registration. Run from `fuzz/`: `cargo run --example seed_corpus`; the fuzz
//! runs start from `seeds/<target>` and write what they find to a corpus folder of their own.

use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use actors::dist::rt::io::{AsyncRead, AsyncWrite};
use actors_net::prelude::*;
use actors_net::testing::frame;
use actors_net::transport::{Listener, Stream, Tcp, Transport};
use futures::future::BoxFuture;

type Tape = Arc<Mutex<Vec<u8>>>;

struct Tee<T> {
    inner: T,
    tape: Tape,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tee<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = std::task::ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        self.tape.lock().expect("tape").extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tee<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.tape.lock().expect("tape").extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// TCP that records what the dialling side reads and writes.
struct Recording {
    read: Tape,
    written: Tape,
}

impl Transport for Recording {
    fn listen<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, std::io::Result<Box<dyn Listener>>> {
        Tcp.listen(addr)
    }
    fn dial<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, std::io::Result<Stream>> {
        Box::pin(async move {
            let s = Tcp.dial(addr).await?;
            Ok(Stream {
                reader: Box::new(Tee {
                    inner: s.reader,
                    tape: self.read.clone(),
                }),
                writer: Box::new(Tee {
                    inner: s.writer,
                    tape: self.written.clone(),
                }),
                close: s.close,
                peer: s.peer,
            })
        })
    }
}

#[actor]
struct Echo;

#[actor]
impl Echo {
    #[handle]
    fn echo(&self, text: String) -> String {
        text
    }
    #[handle(cast)]
    fn note(&mut self, n: u64) {
        let _ = n;
    }
}

/// The length-prefixed messages at the front of `bytes`: (the first `count`, what follows).
fn split(bytes: &[u8], count: usize) -> (Vec<&[u8]>, &[u8]) {
    let mut rest = bytes;
    let mut out = Vec::new();
    while out.len() < count && rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().expect("four")) as usize;
        let Some(whole) = rest.get(..4 + len) else {
            break;
        };
        out.push(whole);
        rest = &rest[4 + len..];
    }
    (out, rest)
}

fn save(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus folder");
    std::fs::write(dir.join(name), bytes).expect("corpus file");
}

fn main() {
    let read = Tape::default();
    let written = Tape::default();
    actors::rt::block_on(async {
        let a = Node::builder("a@127.0.0.1:0")
            .cookie("seed")
            .transport(Recording {
                read: read.clone(),
                written: written.clone(),
            })
            .start()
            .await
            .expect("a starts");
        let b = Node::builder("b@127.0.0.1:0")
            .cookie("seed")
            .start()
            .await
            .expect("b starts");
        a.connect(b.name()).await.expect("connects");
        b.register("echo", b.spawn(Echo)).expect("free");
        let echo: Pid<Echo> = a.whereis_on("echo", b.name()).await.expect("found");
        echo.echo("hello".into()).await.expect("answers");
        echo.note(7).expect("sent");
        let watch = a.monitor(&echo);
        let mine = a.spawn(Echo);
        a.global()
            .register("seeded", &mine)
            .await
            .expect("registers");
        a.groups().join("seeded", &mine).await.expect("joins");
        b.stop(&echo, actors::ExitReason::Normal);
        watch.await;
        a.disconnect(b.name());
        actors::rt::sleep(std::time::Duration::from_millis(100)).await;
    });
    let corpus = Path::new("seeds");
    let read = read.lock().expect("tape").clone();
    let written = written.lock().expect("tape").clone();
    // The dialler wrote Hello and Proof, and read Challenge and Ack; frames follow.
    let (ours, our_frames) = split(&written, 2);
    let (theirs, their_frames) = split(&read, 2);
    save(&corpus.join("handshake_accept"), "session", &ours.concat());
    save(
        &corpus.join("handshake_initiate"),
        "session",
        &theirs.concat(),
    );
    save(&corpus.join("frames"), "sent", our_frames);
    save(&corpus.join("frames"), "received", their_frames);
    let mut n = 0;
    for frames in [our_frames, their_frames] {
        let (all, _) = split(frames, usize::MAX);
        for f in all {
            let Ok(parsed) = frame::parse(&f[4..]) else {
                continue;
            };
            n += 1;
            match parsed {
                frame::Frame::Control(cbor) => {
                    save(&corpus.join("control"), &format!("c{n}"), cbor)
                }
                frame::Frame::Cast { payload, .. } | frame::Frame::Call { payload, .. } => {
                    save(&corpus.join("message"), &format!("m{n}"), payload)
                }
                _ => {}
            }
        }
    }
    println!("wrote seed corpora to {} from {n} frames", corpus.display());
}
