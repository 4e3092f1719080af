//! A registration in two steps: the lowest node first, then every other node at once, each
//! taking the locks and binding the name in one message (`lock_commit`).
//!
//! Any two registrations of one name meet at the lowest node's lock, so one waits while the
//! other binds: a node that answers `Busy` or refuses further on is a node whose view
//! differs (a registration not synced yet, a peer seen by one side only). Then the names
//! bound so far are unbound again under the same locks (`abort`), so no node keeps a name
//! that was not registered everywhere; a name is only ever bound under its lock, so a
//! refusal always reflects a registration that went through.

use std::future::IntoFuture;

use actors::dist::Origin;
use actors::{AnyPid, CallError, Pid};
use futures::future::join_all;

use super::guard::{FreeOnDrop, release};
use super::server::GlobalServer;
use super::table::{GlobalError, Hold, Prepared};
use super::{Global, Patience};

/// What one attempt came to.
enum Attempt {
    /// Bound everywhere, or refused for good.
    Done(Result<(), GlobalError>),
    /// Another registration holds a lock somewhere: nothing is left bound; try again.
    Contended,
}

/// What a server holds for an attempt, to undo.
#[derive(Clone, Copy)]
enum Held {
    /// The locks only.
    Locks,
    /// The locks, and the name bound anew.
    Binding,
}

/// What a server that answered `prepared` holds.
fn held(prepared: &Prepared) -> Held {
    match prepared {
        Prepared::Bound => Held::Binding,
        _ => Held::Locks,
    }
}

impl Global {
    /// Registers `pid` under `name` on every server, as [`Global::register`].
    pub(super) async fn register_everywhere(
        &self,
        name: &str,
        pid: AnyPid,
    ) -> Result<(), GlobalError> {
        let shared = self.shared()?;
        let servers = self.servers().await?;
        let hold = Self::registration_hold(shared, name, &pid)?;
        let step = Step {
            servers: &servers,
            hold: &hold,
            name,
            pid: &pid,
        };
        let mut patience = Patience::new();
        // Whatever ends this task before an attempt is through (a timeout around `register`,
        // a caller that gave up), no lock of it stays held.
        let guard = FreeOnDrop::new(&servers, &hold);
        loop {
            match self.attempt(&step).await {
                Attempt::Done(result) => {
                    // Each way out of an attempt frees the locks itself (`committed`,
                    // `abort`, `unlock`): no need for the guard's second round of unlocks.
                    guard.disarm();
                    return result;
                }
                Attempt::Contended => patience.wait(&hold.ids, &hold.holder, hold.request).await?,
            }
        }
    }

    async fn attempt(&self, step: &Step<'_>) -> Attempt {
        let Some((lowest, rest)) = step.servers.split_first() else {
            return Attempt::Done(Ok(()));
        };
        // A server lost meanwhile (`Err`) takes its node's view with it: passed over.
        let first = step.prepare(lowest).await.unwrap_or(Prepared::AlreadyBound);
        match &first {
            Prepared::Busy => return Attempt::Contended,
            Prepared::Refused(e) => {
                step.undo(&[(lowest, Held::Locks)]).await;
                return Attempt::Done(Err(e.clone()));
            }
            Prepared::Bound | Prepared::AlreadyBound => {}
        }
        // A bridged registry (Erlang's `global`) takes the name too, or refuses it.
        let bridge = self
            .shared
            .as_ref()
            .and_then(|s| s.bridge())
            .filter(|_| step.pid.is_local());
        if let Some(bridge) = &bridge
            && let Err(e) = bridge
                .claim(step.name.to_string(), step.pid.clone(), false)
                .await
        {
            step.undo(&[(lowest, held(&first))]).await;
            return Attempt::Done(Err(e));
        }
        let replies = join_all(rest.iter().map(|s| step.prepare(s))).await;
        let mut holding = vec![(lowest, held(&first))];
        let mut refused = None;
        let mut contended = false;
        for (server, reply) in rest.iter().zip(replies) {
            match reply {
                Ok(Prepared::Busy) => contended = true,
                Ok(Prepared::Refused(e)) => {
                    refused = refused.or(Some(e));
                    holding.push((server, Held::Locks));
                }
                Ok(prepared) => holding.push((server, held(&prepared))),
                Err(_) => {}
            }
        }
        if refused.is_none() && !contended {
            for (server, _) in &holding {
                let _ = server.committed(Origin::local(), step.hold.clone(), step.name.to_string());
            }
            return Attempt::Done(Ok(()));
        }
        step.undo(&holding).await;
        if let Some(bridge) = bridge {
            bridge.release(step.name.to_string()).await;
        }
        match refused {
            Some(e) => Attempt::Done(Err(e)),
            None => Attempt::Contended,
        }
    }
}

/// One registration: what every attempt sends.
struct Step<'a> {
    servers: &'a [Pid<GlobalServer>],
    hold: &'a Hold,
    name: &'a str,
    pid: &'a AnyPid,
}

impl Step<'_> {
    async fn prepare(&self, server: &Pid<GlobalServer>) -> Result<Prepared, CallError> {
        server
            .lock_commit(
                Origin::local(),
                self.hold.clone(),
                self.name.to_string(),
                self.pid.clone(),
            )
            .into_future()
            .await
    }

    /// Unbinds what this attempt bound, and frees its locks: both in one message to each
    /// server, so no other registration sees the name there before it is gone. Returns once
    /// every name is gone.
    async fn undo(&self, held: &[(&Pid<GlobalServer>, Held)]) {
        let mut unbinding = Vec::new();
        for (server, kind) in held {
            match kind {
                Held::Binding => unbinding.push(
                    server
                        .abort(
                            Origin::local(),
                            self.hold.clone(),
                            self.name.to_string(),
                            self.pid.clone(),
                        )
                        .into_future(),
                ),
                Held::Locks => release(
                    std::slice::from_ref(*server),
                    &self.hold.ids,
                    &self.hold.holder,
                    self.hold.request,
                ),
            }
        }
        // A server lost meanwhile took the name with it.
        join_all(unbinding).await;
    }
}
