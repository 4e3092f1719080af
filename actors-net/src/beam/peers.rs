//! Connections to BEAM nodes: dialled through EPMD, or accepted; one per node; forgotten,
//! with everything that depended on them, when they end.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::conn::{self, Conn, Handler};
use super::epmd;
use super::error::BeamError;
use super::handshake::{self, BeamHandshakeError, Me, flags};
use super::state::{Inner, Outcome, lock};
use crate::transport::{Listener, Tcp, Transport};

/// `(alive, host)` of `alive@host`.
pub(crate) fn split_name(name: &str) -> Option<(&str, &str)> {
    let (alive, host) = name.split_once('@')?;
    (!alive.is_empty() && !host.is_empty() && !host.contains(':')).then_some((alive, host))
}

impl Inner {
    fn me(&self) -> Me<'_> {
        Me {
            name: self.me.name(),
            flags: if self.visible {
                flags::OURS | flags::PUBLISHED
            } else {
                flags::OURS
            },
            creation: self.creation,
            cookie: &self.cookie,
        }
    }

    /// The connection to `name`, dialling it if there is none.
    pub(crate) async fn connect(self: &Arc<Self>, name: &str) -> Result<Arc<Conn>, BeamError> {
        if let Some(conn) = self.conn(name) {
            return Ok(conn);
        }
        let (alive, host) = split_name(name).ok_or_else(|| BeamError::BadName(name.to_string()))?;
        if name == self.me.name() {
            return Err(BeamError::BadName(name.to_string()));
        }
        let gate = lock(&self.dialing)
            .entry(name.to_string())
            .or_default()
            .clone();
        let result = {
            let _one_at_a_time = gate.lock().await;
            match self.conn(name) {
                Some(conn) => Ok(conn),
                None => self.dial(name, alive, host).await,
            }
        };
        // The last one through takes the gate away, so the table holds only dials under way.
        let mut dialing = lock(&self.dialing);
        if dialing.get(name).is_some_and(|g| Arc::ptr_eq(g, &gate)) && Arc::strong_count(&gate) == 2
        {
            dialing.remove(name);
        }
        result
    }

    async fn dial(
        self: &Arc<Self>,
        name: &str,
        alive: &str,
        host: &str,
    ) -> Result<Arc<Conn>, BeamError> {
        if lock(&self.peers).len() >= self.limits.max_peers {
            return Err(BeamError::TooManyPeers(self.limits.max_peers));
        }
        let epmd = format!("{host}:{}", self.epmd_port);
        let port = actors::rt::timeout(self.handshake_timeout, epmd::port_of(&epmd, alive))
            .await
            .map_err(|_| BeamError::Epmd(format!("{epmd} did not answer")))?
            .map_err(|e| BeamError::Epmd(format!("{epmd}: {e}")))?
            .ok_or_else(|| BeamError::NoSuchNode(name.to_string()))?;
        let attempt = async {
            let mut stream = Tcp.dial(&format!("{host}:{port}")).await?;
            let peer = handshake::initiate(&mut stream, &self.me(), name).await?;
            Ok::<_, BeamHandshakeError>((stream, peer))
        };
        match actors::rt::timeout(self.handshake_timeout, attempt).await {
            Err(_) => Err(BeamError::Handshake(name.to_string(), "timed out".into())),
            Ok(Ok((stream, peer))) => Ok(self.install(stream, peer)),
            // The peer is dialling us at the same moment, and its attempt wins.
            Ok(Err(BeamHandshakeError::Refused(status))) if status == "nok" => {
                self.arrival(name).await
            }
            Ok(Err(e)) => Err(BeamError::Handshake(name.to_string(), e.to_string())),
        }
    }

    /// Waits for the connection `name` is making to us.
    async fn arrival(&self, name: &str) -> Result<Arc<Conn>, BeamError> {
        let (tx, rx) = futures::channel::oneshot::channel();
        {
            let mut arriving = lock(&self.arriving);
            // Callers that gave up waiting (timed out, dropped) leave nothing behind.
            arriving.retain(|(_, waiting)| !waiting.is_canceled());
            arriving.push((name.to_string(), tx));
        }
        if let Some(conn) = self.conn(name) {
            return Ok(conn);
        }
        let _ = actors::rt::timeout(self.handshake_timeout, rx).await;
        self.conn(name).ok_or_else(|| {
            BeamError::Handshake(name.to_string(), "simultaneous connect lost".into())
        })
    }

    fn install(
        self: &Arc<Self>,
        stream: crate::transport::Stream,
        peer: handshake::Peer,
    ) -> Arc<Conn> {
        let name = peer.name.clone();
        let creation = peer.creation;
        let handler: Arc<dyn Handler> = self.clone();
        let (conn, opener) = conn::start(stream, peer, self.timing, handler);
        let old = lock(&self.peers).insert(name.clone(), conn.clone());
        if let Some(old) = old {
            // The old connection's loss is handled now, before the new one is announced: its
            // Down comes before the new Up, and what it carried fails before anything can use
            // the new one (its reader, when it ends, finds this done).
            old.close();
            Handler::lost(
                &**self,
                &old,
                "replaced by a new connection from the same node",
            );
        }
        tracing::info!(node = %self.me, peer = %name, creation, "BEAM node connected");
        let mut arriving = lock(&self.arriving);
        let (ready, waiting): (Vec<_>, Vec<_>) = arriving.drain(..).partition(|(n, _)| *n == name);
        *arriving = waiting;
        drop(arriving);
        for (_, tx) in ready {
            let _ = tx.send(());
        }
        if self.closing.load(Ordering::Acquire) {
            conn.close();
        } else {
            self.emit(super::dest::BeamNodeEvent::Up(name));
        }
        opener.open();
        conn
    }

    /// Accepts connections from BEAM nodes until the node shuts down.
    pub(crate) async fn accept_loop(self: Arc<Self>, listener: Box<dyn Listener>) {
        while let Ok(incoming) = listener.accept().await {
            let this = self.clone();
            actors::rt::spawn(async move {
                let from = incoming.peer.clone();
                let attempt = async {
                    let mut stream = incoming.stream.await?;
                    let peer = handshake::accept(&mut stream, &this.me(), |name| {
                        let peers = lock(&this.peers);
                        if name == this.me.name() {
                            "not_allowed"
                        } else if peers.get(name).is_some_and(|c| !c.is_closed()) {
                            "alive"
                        } else if peers.len() >= this.limits.max_peers {
                            "not_allowed"
                        } else {
                            "ok"
                        }
                    })
                    .await?;
                    Ok::<_, BeamHandshakeError>((stream, peer))
                };
                match actors::rt::timeout(this.handshake_timeout, attempt).await {
                    Ok(Ok((stream, peer))) => {
                        this.install(stream, peer);
                    }
                    Ok(Err(BeamHandshakeError::BadCookie)) => {
                        tracing::warn!(node = %this.me, %from, "connection attempt from a BEAM node rejected: bad cookie");
                    }
                    Ok(Err(e)) => {
                        tracing::info!(node = %this.me, %from, "BEAM handshake failed: {e}");
                    }
                    Err(_) => {
                        tracing::info!(node = %this.me, %from, "BEAM handshake timed out");
                    }
                }
            });
        }
    }

    /// Closes every connection: the node is shutting down.
    pub(crate) fn close_all(&self) {
        self.closing.store(true, Ordering::Release);
        let conns: Vec<Arc<Conn>> = lock(&self.peers).values().cloned().collect();
        for conn in conns {
            conn.close();
        }
    }
}

impl Handler for Inner {
    fn packet(&self, conn: &Arc<Conn>, packet: Vec<u8>) -> Result<(), String> {
        self.incoming(conn, &packet)
    }

    fn lost(&self, conn: &Arc<Conn>, reason: &str) {
        if !conn.take_loss() {
            return;
        }
        {
            let mut peers = lock(&self.peers);
            if peers.get(&conn.peer.name).is_some_and(|c| c.id == conn.id) {
                peers.remove(&conn.peer.name);
            }
        }
        tracing::info!(node = %self.me, peer = %conn.peer.name, "BEAM node disconnected: {reason}");
        // Calls that went out on this connection will not be answered.
        let lost: Vec<_> = {
            let mut calls = lock(&self.calls);
            let refs: Vec<_> = calls
                .iter()
                .filter(|(_, p)| p.conn == conn.id)
                .map(|(r, _)| r.clone())
                .collect();
            refs.into_iter().filter_map(|r| calls.remove(&r)).collect()
        };
        for pending in lost {
            let _ = pending.done.send(Outcome::NoConnection);
        }
        // Monitors its processes held end with it, as Erlang's do.
        for (target, monitor) in self.monitors.forget(conn) {
            self.demonitor(&target, monitor);
        }
        self.break_ties(conn);
        self.emit(super::dest::BeamNodeEvent::Down(conn.peer.name.clone()));
    }
}
