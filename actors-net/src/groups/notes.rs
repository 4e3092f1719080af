//! A scope on the overlay: this node's members travel in its note, and the other nodes'
//! members are read from theirs, so no server speaks to every other (on the overlay, that
//! would take a session to every node).
//!
//! The note under `pg:<scope>` is all of this node's members of the scope; it is published
//! again after each burst of joins and leaves (once the server's mailbox has no more of
//! them), and replaces what the others knew of this node. A node's members go when it is
//! down for the overlay, as they go with a lost connection in a full mesh.

use actors::dist::rt::HashMap;
use actors::{AnyPid, Ctx};

use super::server::{GroupServer, OnOverlay};
use super::table::GroupError;
use crate::links::Noted;

/// What one membership is counted as against the note's bound: the group's name, and a pid
/// (this node's name and its numbers) with room to spare.
fn membership_bytes(group: &str, node: &str) -> usize {
    group.len() + node.len() + 48
}

impl GroupServer {
    fn key(&self) -> String {
        format!("pg:{}", self.shared.scope)
    }

    /// Starts reading the other nodes' notes, and publishes this node's members: a server on
    /// the overlay publishes even none, so that others can tell it runs.
    pub(super) fn start_on_overlay(&mut self, ctx: &mut Ctx<Self>) -> bool {
        let Some(overlay) = crate::node::overlay(&ctx.node()) else {
            return false;
        };
        let node = ctx.node();
        let bytes = self
            .local
            .values()
            .flat_map(|m| m.groups.iter())
            .map(|g| membership_bytes(g, node.name()))
            .sum();
        self.overlay = Some(OnOverlay {
            nodes: HashMap::default(),
            queued: false,
            bytes,
        });
        let (me, node) = (ctx.pid(), ctx.node());
        // A server that ended (restarted) reads its own stream: this one's ends with it (a
        // cast to an ended process is dropped without a word, so it asks).
        overlay.forward_notes(&self.key(), move |Noted { node: from, body }| {
            node.is_alive(me.clone()) && me.noted(actors::dist::Origin::local(), from, body).is_ok()
        });
        self.publish_later(ctx);
        true
    }

    /// Whether `group` can take one more of this node's members on the overlay.
    pub(super) fn room_for(&self, group: &str, ctx: &Ctx<Self>) -> Result<(), GroupError> {
        let Some(on) = &self.overlay else {
            return Ok(());
        };
        let bytes = on.bytes + membership_bytes(group, ctx.node().name());
        match bytes > crate::overlay::RoutesConfig::default().max_notes {
            true => Err(GroupError::NoteFull(bytes)),
            false => Ok(()),
        }
    }

    /// This node's memberships changed by `joined` (one more, or one fewer when negative).
    pub(super) fn counted(&mut self, group: &str, joined: bool, ctx: &mut Ctx<Self>) {
        let bytes = membership_bytes(group, ctx.node().name());
        if let Some(on) = &mut self.overlay {
            on.bytes = match joined {
                true => on.bytes + bytes,
                false => on.bytes.saturating_sub(bytes),
            };
        }
        self.publish_later(ctx);
    }

    /// Queues one publish behind what the mailbox holds, unless one is queued: a burst of
    /// joins costs one note.
    fn publish_later(&mut self, ctx: &mut Ctx<Self>) {
        if let Some(on) = &mut self.overlay
            && !std::mem::replace(&mut on.queued, true)
        {
            let _ = ctx.pid().publish(actors::dist::Origin::local());
        }
    }

    /// Publishes this node's members now.
    pub(super) fn publish_now(&mut self, ctx: &mut Ctx<Self>) {
        let Some(on) = &mut self.overlay else {
            return;
        };
        on.queued = false;
        let Some(overlay) = crate::node::overlay(&ctx.node()) else {
            return;
        };
        if let Err(e) = overlay.publish(&self.key(), &self.local_groups()) {
            tracing::error!(scope = %self.shared.scope, "members not published: {e}");
        }
    }

    /// `node`'s note: its members now (none when it is down, or its note does not decode).
    pub(super) fn apply_note(&mut self, node: String, body: Option<Vec<u8>>, ctx: &Ctx<Self>) {
        let Some(on) = &mut self.overlay else {
            return;
        };
        let heard = body.is_some();
        let groups: Vec<(String, Vec<AnyPid>)> = match body {
            None => Vec::new(),
            Some(body) => match actors::dist::decode(&ctx.node(), &body) {
                Ok(groups) => groups,
                Err(e) => {
                    tracing::warn!(%node, scope = %self.shared.scope, "a note that does not decode: {e}");
                    Vec::new()
                }
            },
        };
        // A node speaks only for its own processes.
        let new: HashMap<String, Vec<AnyPid>> = groups
            .into_iter()
            .map(|(group, mut pids)| {
                pids.retain(|p| p.node() == node);
                (group, pids)
            })
            .filter(|(_, pids)| !pids.is_empty())
            .collect();
        let old = match heard {
            true => on.nodes.insert(node.clone(), new.clone()),
            false => on.nodes.remove(&node),
        }
        .unwrap_or_default();
        self.replace(&old, &new);
        if let Some(replies) = self.waiting.remove(&node) {
            for reply in replies {
                reply.send(());
            }
        }
    }

    /// Whether a note of `node`'s was read (it runs this scope and is up).
    pub(super) fn heard_from(&self, node: &str) -> Option<bool> {
        self.overlay.as_ref().map(|on| on.nodes.contains_key(node))
    }
}
