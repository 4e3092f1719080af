//! Rust calling BEAM processes: `gen_server` calls and casts, and plain sends.

use std::sync::Arc;
use std::time::Duration;

use actors::etf::{self, Atom, ErlPid, Term};
use futures::channel::oneshot;

use super::conn::{Conn, Refused};
use super::control::{self, Control, Proc};
use super::dest::BeamDest;
use super::error::BeamError;
use super::state::{Inner, Outcome, Pending, lock};

impl From<Refused> for BeamError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::Closed => BeamError::NoConnection,
            Refused::Overloaded => BeamError::Overloaded,
        }
    }
}

impl Inner {
    async fn conn_for(self: &Arc<Self>, to: &BeamDest) -> Result<Arc<Conn>, BeamError> {
        self.connect(to.node()).await
    }

    fn send_control(&self, conn: &Conn, to: &BeamDest, message: &Term) -> Result<(), BeamError> {
        self.send_control_from(conn, self.caller(), to, message)
    }

    fn send_control_from(
        &self,
        conn: &Conn,
        from: ErlPid,
        to: &BeamDest,
        message: &Term,
    ) -> Result<(), BeamError> {
        let control = match to {
            BeamDest::Name { name, .. } => Control::RegSend {
                from,
                to: Atom::from(name.as_str()),
            },
            BeamDest::Pid(pid) => Control::SendSender {
                from,
                to: pid.clone(),
            },
        };
        conn.send(control::encode(&control, Some(message)))?;
        Ok(())
    }

    /// Sends `message` as it is (Erlang's `!`).
    pub(crate) async fn send(
        self: &Arc<Self>,
        to: &BeamDest,
        message: Term,
    ) -> Result<(), BeamError> {
        let conn = self.conn_for(to).await?;
        self.send_control(&conn, to, &message)
    }

    /// `gen_server:call(To, Request, Timeout)`: monitors the server, sends
    /// `{'$gen_call', {Caller, Ref}, Request}`, and waits for `{Ref, Reply}`, the server's
    /// end, the connection's loss, or the timeout, whichever comes first.
    pub(crate) async fn call(
        self: &Arc<Self>,
        to: &BeamDest,
        request: Term,
        timeout: Duration,
    ) -> Result<Term, BeamError> {
        self.call_from(self.caller(), to, request, timeout).await
    }

    /// [`Inner::call`] made by local process `from`, as the server sees it (`global` takes
    /// the caller of `set_lock` for the lock's holder, and monitors it).
    pub(crate) async fn call_from(
        self: &Arc<Self>,
        from: ErlPid,
        to: &BeamDest,
        request: Term,
        timeout: Duration,
    ) -> Result<Term, BeamError> {
        let call = async {
            let conn = self.conn_for(to).await?;
            let reference = self.make_ref();
            let (done, outcome) = oneshot::channel();
            {
                let mut calls = lock(&self.calls);
                if calls.len() >= self.limits.max_calls {
                    return Err(BeamError::Overloaded);
                }
                calls.insert(
                    reference.clone(),
                    Pending {
                        conn: conn.id,
                        done,
                    },
                );
            }
            let target = match to {
                BeamDest::Name { name, .. } => Proc::Name(Atom::from(name.as_str())),
                BeamDest::Pid(pid) => Proc::Pid(pid.clone()),
            };
            let demonitor = Control::Demonitor {
                from: from.clone(),
                to: target.clone(),
                reference: reference.clone(),
            };
            let mut guard = Forget {
                inner: self,
                reference: reference.clone(),
                conn: conn.clone(),
                demonitor: control::encode(&demonitor, None),
            };
            let monitor = Control::Monitor {
                from: from.clone(),
                to: target.clone(),
                reference: reference.clone(),
            };
            conn.send(control::encode(&monitor, None))?;
            let message = Term::tuple([
                Term::atom("$gen_call"),
                Term::tuple([Term::Pid(from.clone()), Term::Ref(reference.clone())]),
                request,
            ]);
            self.send_control_from(&conn, from.clone(), to, &message)?;
            let outcome = outcome.await.map_err(|_| BeamError::NoConnection)?;
            if !matches!(outcome, Outcome::Down(_)) {
                let _ = conn.send(std::mem::take(&mut guard.demonitor));
            }
            match outcome {
                Outcome::Reply(reply) => Ok(reply),
                Outcome::Down(reason) if reason.is_atom("noproc") => Err(BeamError::NoProc),
                Outcome::Down(reason) if reason.is_atom("noconnection") => {
                    Err(BeamError::NoConnection)
                }
                Outcome::Down(reason) => Err(BeamError::Exited(reason)),
                Outcome::NoConnection => Err(BeamError::NoConnection),
            }
        };
        actors::rt::timeout(timeout, call)
            .await
            .unwrap_or(Err(BeamError::Timeout))
    }
}

/// Forgets a call that ended, however it ended: one given up before its answer (a timeout
/// drops the future mid-wait) also takes its monitor back, as `gen_server:call` does.
struct Forget<'a> {
    inner: &'a Inner,
    reference: etf::ErlRef,
    conn: Arc<Conn>,
    demonitor: Vec<u8>,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if lock(&self.inner.calls).remove(&self.reference).is_some() {
            let _ = self.conn.send(std::mem::take(&mut self.demonitor));
        }
    }
}
