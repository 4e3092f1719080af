//! Global names on the overlay: each node's claims travel in its note, and every node's
//! table is worked out from the claims of the nodes up, so no registration speaks to every
//! node (on the overlay, that would take a session to each).
//!
//! A name is claimed by the node that registered it, under `global` in its note; the table
//! binds each name to one claim by an order every node shares (the pid of the smaller node
//! name, as the built-in resolvers choose), so nodes that see the same claims bind the same
//! pids without a word. Two claims of one name made at once both succeed where they were
//! made; once each node sees the other's, the one that lost drops its claim and acts on its
//! process as the resolver says. A node's claims go when it is down for the overlay, as its
//! names go with a lost connection in a full mesh; a claimed process that ends is dropped by
//! the node that claimed it, which alone monitors it.

use actors::dist::rt::HashSet;
use actors::dist::{Origin, Unpoisoned};
use actors::{AnyPid, Ctx, ExitReason};

use super::state::{GlobalServer, OnOverlay};
use crate::global::table::{GlobalError, Resolver};
use crate::links::Noted;

/// The key of the claims in a node's note.
const KEY: &str = "global";

fn order(pid: &AnyPid) -> (&str, u32, u64) {
    (pid.node(), pid.creation(), pid.id())
}

impl GlobalServer {
    /// Starts reading the other nodes' claims and publishes this node's (a restarted server
    /// has them from the shared table's claims). Returns whether the node runs an overlay.
    pub(super) fn start_on_overlay(&mut self, ctx: &mut Ctx<Self>) -> bool {
        let Some(overlay) = crate::node::overlay(&ctx.node()) else {
            return false;
        };
        self.overlay = Some(OnOverlay::default());
        // Others' claims come back with the notes shown now; this node's stand.
        let claims = self.shared.claims.lock().unpoisoned().clone();
        let bound = self.shared.read().entries();
        for (name, pid) in bound {
            if claims.get(&name) != Some(&pid) {
                self.set_binding(&name, None);
            }
        }
        for pid in claims.values() {
            self.watch(pid.clone(), ctx);
        }
        let (me, node) = (ctx.pid(), ctx.node());
        // A server that ended (restarted) reads its own stream: this one's ends with it (a
        // cast to an ended process is dropped without a word, so it asks).
        overlay.forward_notes(KEY, move |Noted { node: from, body }| {
            node.is_alive(me.clone()) && me.noted(Origin::local(), from, body).is_ok()
        });
        self.publish_later(ctx);
        true
    }

    /// Claims `name` for `pid` here (moves it, with `moving`, if this node claims it for
    /// another): refused if the table binds it to another process, or the pid to another
    /// name, as a registration in a full mesh is.
    pub(super) fn claim(
        &mut self,
        name: String,
        pid: AnyPid,
        moving: bool,
        ctx: &mut Ctx<Self>,
    ) -> Result<(), GlobalError> {
        let ours = self.shared.claims.lock().unpoisoned().get(&name).cloned();
        {
            let names = self.shared.read();
            match names.by_name.get(&name) {
                Some(p) if *p == pid => return Ok(()),
                Some(_) if moving && ours.is_some() => {}
                Some(_) => return Err(GlobalError::NameTaken(name)),
                None if names.by_name.len() >= self.shared.limits.max_names => {
                    return Err(GlobalError::TableFull(names.by_name.len()));
                }
                None => {}
            }
            if let Some(other) = names.by_pid.get(&pid) {
                return Err(GlobalError::AlreadyNamed(other.clone()));
            }
        }
        // The claims travel in this node's note: what they would take is bounded.
        let bytes: usize = self
            .shared
            .claims
            .lock()
            .unpoisoned()
            .keys()
            .chain(std::iter::once(&name))
            .map(|n| n.len() + pid.node().len() + 48)
            .sum();
        if bytes > crate::overlay::RoutesConfig::default().max_notes / 2 {
            return Err(GlobalError::TableFull(
                self.shared.claims.lock().unpoisoned().len(),
            ));
        }
        // Registered anew: a loss of an earlier conflict no longer counts against it.
        if let Some(losers) = self.excluded.get_mut(&name) {
            losers.retain(|p| *p != pid);
        }
        self.shared
            .claims
            .lock()
            .unpoisoned()
            .insert(name.clone(), pid.clone());
        if let Some(old) = ours {
            self.unwatch_unclaimed(&old, ctx);
        }
        self.watch(pid, ctx);
        self.recompute(&name, ctx);
        self.publish_later(ctx);
        Ok(())
    }

    /// Drops this node's claim of `name`, if it has one.
    pub(super) fn disclaim(&mut self, name: &str, ctx: &mut Ctx<Self>) {
        let old = self.shared.claims.lock().unpoisoned().remove(name);
        if let Some(old) = old {
            self.unwatch_unclaimed(&old, ctx);
            self.recompute(name, ctx);
            self.publish_later(ctx);
        }
    }

    /// The node that claims the name bound now, if any.
    pub(super) fn claimant(&self, name: &str) -> Option<String> {
        let pid = self.shared.read().by_name.get(name).cloned()?;
        if self.shared.claims.lock().unpoisoned().get(name) == Some(&pid) {
            return None;
        }
        let on = self.overlay.as_ref()?;
        on.claimed
            .get(name)?
            .iter()
            .find(|(_, p)| *p == pid)
            .map(|(node, _)| node.clone())
    }

    /// A process this node claimed names for ended: its claims go.
    pub(super) fn claimed_ended(&mut self, pid: &AnyPid, ctx: &mut Ctx<Self>) {
        let names: Vec<String> = {
            let mut claims = self.shared.claims.lock().unpoisoned();
            let names = claims
                .iter()
                .filter(|(_, p)| *p == pid)
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>();
            for name in &names {
                claims.remove(name);
            }
            names
        };
        for name in &names {
            self.recompute(name, ctx);
        }
        if !names.is_empty() {
            self.publish_later(ctx);
        }
    }

    /// `node`'s claims now (none when it is down, or its note does not decode).
    pub(super) fn apply_note(&mut self, node: String, body: Option<Vec<u8>>, ctx: &mut Ctx<Self>) {
        let Some(on) = &mut self.overlay else {
            return;
        };
        let mut claims: Vec<(String, AnyPid)> = match body {
            None => Vec::new(),
            Some(body) => actors::dist::decode(&ctx.node(), &body).unwrap_or_else(|e| {
                tracing::warn!(%node, "a note of global names that does not decode: {e}");
                Vec::new()
            }),
        };
        claims.truncate(self.shared.limits.max_names);
        let old = match claims.is_empty() {
            true => on.nodes.remove(&node),
            false => on.nodes.insert(node.clone(), claims.clone()),
        }
        .unwrap_or_default();
        for (name, pid) in &old {
            if let Some(by) = on.claimed.get_mut(name) {
                by.retain(|(n, p)| !(*n == node && p == pid));
                if by.is_empty() {
                    on.claimed.remove(name);
                }
            }
        }
        for (name, pid) in &claims {
            on.claimed
                .entry(name.clone())
                .or_default()
                .push((node.clone(), pid.clone()));
        }
        // Only the claims that came or went: a node's note holds all its claims each time.
        let (before, now): (HashSet<_>, HashSet<_>) =
            (old.iter().collect(), claims.iter().collect());
        let mut changed: Vec<String> = before
            .symmetric_difference(&now)
            .map(|(n, _)| n.clone())
            .collect();
        changed.sort();
        changed.dedup();
        for name in changed {
            self.recompute(&name, ctx);
        }
    }

    /// Binds `name` to the first of its claims in the shared order (this node's and those of
    /// the nodes up), passing over pids that lost it before. A claim of this node's that
    /// loses is dropped, and its process acted on as the resolver says.
    fn recompute(&mut self, name: &str, ctx: &mut Ctx<Self>) {
        let Some(on) = &self.overlay else {
            return;
        };
        let ours = self.shared.claims.lock().unpoisoned().get(name).cloned();
        let mut claims: Vec<AnyPid> = on
            .claimed
            .get(name)
            .into_iter()
            .flatten()
            .map(|(_, p)| p.clone())
            .chain(ours.clone())
            .filter(|p| !self.is_excluded(name, p) && !Self::is_stale(p, ctx))
            .collect();
        claims.sort_by(|a, b| order(a).cmp(&order(b)));
        claims.dedup();
        let winner = claims.first().cloned();
        let bound = self.shared.read().by_name.get(name).cloned();
        if bound != winner {
            self.set_binding(name, winner.clone());
        }
        if let (Some(ours), Some(winner)) = (ours, winner)
            && ours != winner
        {
            tracing::info!(name, winner = %winner.logged(), loser = %ours.logged(), "name conflict on the overlay: this node's claim lost");
            self.shared.claims.lock().unpoisoned().remove(name);
            self.excluded
                .entry(name.to_string())
                .or_default()
                .push(ours.clone());
            self.unwatch_unclaimed(&ours, ctx);
            self.act_on_loser(name, &ours, ctx);
            self.publish_later(ctx);
        }
    }

    /// The resolver's word on a process of this node's claim that lost: on the overlay the
    /// order decides who keeps a name, and the resolver what befalls the loser.
    fn act_on_loser(&mut self, name: &str, loser: &AnyPid, ctx: &mut Ctx<Self>) {
        let node = ctx.node();
        if !loser.is_local() || !self.acted.insert((name.to_string(), loser.clone())) {
            return;
        }
        match self.resolver() {
            Resolver::StopLoser => node.stop(loser, ExitReason::NameConflict),
            Resolver::NotifyLoser | Resolver::NotifyBoth => {
                node.exit(loser, ExitReason::NameConflict)
            }
            Resolver::Custom(_) => {}
        }
        self.count_decision();
    }

    /// Sets the table's binding of `name`; the pids of other nodes' claims are not watched
    /// here (their nodes watch them).
    fn set_binding(&mut self, name: &str, pid: Option<AnyPid>) {
        let mut names = self.shared.write();
        if let Some(old) = names.by_name.remove(name) {
            names.by_pid.remove(&old);
            self.shared.flip(name, &old);
        }
        if let Some(pid) = pid {
            if let Some(previous) = names.by_pid.insert(pid.clone(), name.to_string())
                && previous != name
            {
                names.by_name.remove(&previous);
                self.shared.flip(&previous, &pid);
            }
            names.by_name.insert(name.to_string(), pid.clone());
            self.shared.flip(name, &pid);
        }
    }

    /// Stops watching `pid` unless this node still claims a name for it.
    fn unwatch_unclaimed(&mut self, pid: &AnyPid, ctx: &mut Ctx<Self>) {
        if !self
            .shared
            .claims
            .lock()
            .unpoisoned()
            .values()
            .any(|p| p == pid)
        {
            self.unwatch(pid, ctx);
        }
    }

    /// Queues one publish behind what the mailbox holds, unless one is queued.
    fn publish_later(&mut self, ctx: &mut Ctx<Self>) {
        if let Some(on) = &mut self.overlay
            && !std::mem::replace(&mut on.queued, true)
        {
            let _ = ctx.pid().publish(Origin::local());
        }
    }

    /// Publishes this node's claims now.
    pub(super) fn publish_now(&mut self, ctx: &mut Ctx<Self>) {
        let Some(on) = &mut self.overlay else {
            return;
        };
        on.queued = false;
        let Some(overlay) = crate::node::overlay(&ctx.node()) else {
            return;
        };
        let claims: Vec<(String, AnyPid)> = self
            .shared
            .claims
            .lock()
            .unpoisoned()
            .iter()
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect();
        if let Err(e) = overlay.publish(KEY, &claims) {
            tracing::error!("global names not published: {e}");
        }
    }
}
