//! EPMD, Erlang's port mapper: a node registers its name and port with the EPMD of its host,
//! and others ask that EPMD for the port. When no EPMD runs, the node starts one of its own
//! in the process, as `erl` starts the `epmd` daemon.

use actors::dist::Unpoisoned;
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use actors::dist::rt::io::{ReadExt, WriteExt};
use actors::dist::rt::net::{TcpListener, TcpStream};

use super::packet::{read2, write2};

/// EPMD's port, unless `ERL_EPMD_PORT` or the builder says otherwise.
pub const DEFAULT_PORT: u16 = 4369;

const ALIVE2_REQ: u8 = 120;
const ALIVE2_X_RESP: u8 = 118;
const ALIVE2_RESP: u8 = 121;
const PORT_PLEASE2_REQ: u8 = 122;
const PORT2_RESP: u8 = 119;
const NAMES_REQ: u8 = 110;

/// A hidden node (72): BEAM nodes connect to it and call it, but their `global` does not
/// count it among the nodes it keeps names in step with (it does not speak that protocol).
const HIDDEN: u8 = 72;
const NORMAL: u8 = 77;

/// The most names the built-in EPMD holds: one per node of the host.
const MAX_NAMES: usize = 1024;

/// The most connections the built-in EPMD serves at once (registrations hold theirs).
const MAX_CONNECTIONS: usize = 2048;

/// A registration: EPMD keeps the name while this connection stays open.
pub(crate) struct Registration {
    _stream: TcpStream,
    /// The creation EPMD gave this run of the node.
    pub(crate) creation: u32,
}

/// Registers `name` (the part before `@`) on `port` with the EPMD at `epmd`.
pub(crate) async fn register(epmd: &str, name: &str, port: u16) -> io::Result<Registration> {
    let mut stream = TcpStream::connect(epmd).await?;
    let mut req = vec![ALIVE2_REQ];
    req.extend_from_slice(&port.to_be_bytes());
    req.extend_from_slice(&[HIDDEN, 0]);
    req.extend_from_slice(&6u16.to_be_bytes());
    req.extend_from_slice(&6u16.to_be_bytes());
    req.extend_from_slice(&(name.len() as u16).to_be_bytes());
    req.extend_from_slice(name.as_bytes());
    req.extend_from_slice(&0u16.to_be_bytes());
    write2(&mut stream, &req).await?;
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await?;
    let creation = match head {
        [ALIVE2_X_RESP, 0] => {
            let mut c = [0u8; 4];
            stream.read_exact(&mut c).await?;
            u32::from_be_bytes(c)
        }
        [ALIVE2_RESP, 0] => {
            let mut c = [0u8; 2];
            stream.read_exact(&mut c).await?;
            u16::from_be_bytes(c) as u32
        }
        [_, code] => {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "EPMD refused the name {name:?} (code {code}): is a node of that name running?"
                ),
            ));
        }
    };
    Ok(Registration {
        _stream: stream,
        creation,
    })
}

/// The distribution port of node `name` (the part before `@`), from the EPMD at `epmd`.
pub(crate) async fn port_of(epmd: &str, name: &str) -> io::Result<Option<u16>> {
    let mut stream = TcpStream::connect(epmd).await?;
    let mut req = vec![PORT_PLEASE2_REQ];
    req.extend_from_slice(name.as_bytes());
    write2(&mut stream, &req).await?;
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await?;
    match head {
        [PORT2_RESP, 0] => {
            let mut port = [0u8; 2];
            stream.read_exact(&mut port).await?;
            Ok(Some(u16::from_be_bytes(port)))
        }
        [PORT2_RESP, _] => Ok(None),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "EPMD answered PORT_PLEASE2_REQ with something else",
        )),
    }
}

#[derive(Clone)]
struct Entry {
    port: u16,
    node_type: u8,
    creation: u32,
}

/// An EPMD of our own, for a host where none runs: registrations, port lookups and the list
/// of names, as the `epmd` daemon serves them.
pub(crate) struct Server {
    names: Mutex<HashMap<String, Entry>>,
    next_creation: Mutex<u32>,
    open: std::sync::atomic::AtomicUsize,
}

impl Server {
    /// Listens on `addr` and serves until the process ends; the port it listens on (port 0
    /// picks a free one). Fails if the port is taken (another EPMD may have started
    /// meanwhile).
    pub(crate) async fn start(addr: &str) -> io::Result<u16> {
        let listener = TcpListener::bind(addr).await?;
        let port = listener.local_addr()?.port();
        let mut seed = [0u8; 4];
        let _ = actors::dist::rt::fill_random(&mut seed);
        let server = Arc::new(Server {
            names: Mutex::new(HashMap::new()),
            next_creation: Mutex::new(u32::from_le_bytes(seed).max(1)),
            open: std::sync::atomic::AtomicUsize::new(0),
        });
        tracing::info!(%addr, port, "serving an EPMD in this process");
        actors::rt::spawn(async move {
            use std::sync::atomic::Ordering;
            while let Ok((stream, _)) = listener.accept().await {
                // Past the limit a connection is closed at once: no client holds this EPMD's
                // memory, however many connections it opens.
                if server.open.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                    server.open.fetch_sub(1, Ordering::AcqRel);
                    continue;
                }
                let server = server.clone();
                actors::rt::spawn(async move {
                    // A request must come within a few seconds; a registration then stays.
                    let _ = server.serve(stream).await;
                    server.open.fetch_sub(1, Ordering::AcqRel);
                });
            }
        });
        Ok(port)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.names.lock().unpoisoned()
    }

    async fn serve(&self, mut stream: TcpStream) -> io::Result<()> {
        let req = actors::rt::timeout(std::time::Duration::from_secs(5), read2(&mut stream, 1024))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        match req.first() {
            Some(&ALIVE2_REQ) => self.alive(stream, &req).await,
            Some(&PORT_PLEASE2_REQ) => {
                let name = String::from_utf8_lossy(&req[1..]).into_owned();
                let entry = self.lock().get(&name).cloned();
                let mut resp = vec![PORT2_RESP];
                match entry {
                    Some(e) => {
                        resp.push(0);
                        resp.extend_from_slice(&e.port.to_be_bytes());
                        resp.extend_from_slice(&[e.node_type, 0]);
                        resp.extend_from_slice(&6u16.to_be_bytes());
                        resp.extend_from_slice(&5u16.to_be_bytes());
                        resp.extend_from_slice(&(name.len() as u16).to_be_bytes());
                        resp.extend_from_slice(name.as_bytes());
                        resp.extend_from_slice(&0u16.to_be_bytes());
                    }
                    None => resp.push(1),
                }
                stream.write_all(&resp).await
            }
            Some(&NAMES_REQ) => {
                let port = stream.local_addr()?.port() as u32;
                let mut resp = port.to_be_bytes().to_vec();
                for (name, e) in self.lock().iter() {
                    resp.extend_from_slice(format!("name {name} at port {}\n", e.port).as_bytes());
                }
                stream.write_all(&resp).await
            }
            _ => Ok(()),
        }
    }

    /// A registration holds while its connection stays open.
    async fn alive(&self, mut stream: TcpStream, req: &[u8]) -> io::Result<()> {
        let parsed = (|| {
            let port = u16::from_be_bytes([*req.get(1)?, *req.get(2)?]);
            let node_type = *req.get(3)?;
            let nlen = u16::from_be_bytes([*req.get(9)?, *req.get(10)?]) as usize;
            let name = std::str::from_utf8(req.get(11..11 + nlen)?).ok()?;
            Some((port, node_type, name.to_string()))
        })();
        let Some((port, node_type, name)) = parsed else {
            return stream.write_all(&[ALIVE2_X_RESP, 1, 0, 0, 0, 0]).await;
        };
        let creation = {
            let mut names = self.lock();
            if names.contains_key(&name) || names.len() >= MAX_NAMES || name.is_empty() {
                None
            } else {
                let mut next = self.next_creation.lock().unpoisoned();
                let creation = *next;
                *next = next.wrapping_add(1).max(1);
                let node_type = if node_type == HIDDEN { HIDDEN } else { NORMAL };
                names.insert(
                    name.clone(),
                    Entry {
                        port,
                        node_type,
                        creation,
                    },
                );
                Some(creation)
            }
        };
        let Some(creation) = creation else {
            return stream.write_all(&[ALIVE2_X_RESP, 1, 0, 0, 0, 0]).await;
        };
        let mut resp = vec![ALIVE2_X_RESP, 0];
        resp.extend_from_slice(&creation.to_be_bytes());
        let result = stream.write_all(&resp).await;
        if result.is_ok() {
            // The name is the node's until it closes the connection.
            let mut sink = [0u8; 64];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        }
        let mut names = self.lock();
        if names.get(&name).is_some_and(|e| e.creation == creation) {
            names.remove(&name);
        }
        result
    }
}
