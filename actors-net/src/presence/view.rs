//! What a node knows of the cluster's presences, read without asking anyone: the replicas its
//! server holds, and the streams of joins and leaves it tells.

use std::sync::{Mutex, RwLock};

use actors::AnyPid;
use actors::dist::Unpoisoned;
use actors::dist::rt::HashMap;
use futures::channel::mpsc;

use super::state::{Entry, Replica, Seen};
use crate::connection::lock;

/// A node's view; an extension of the node, kept by its server (a restarted server takes its
/// own replica back from it).
#[derive(Default)]
pub(crate) struct View {
    /// By the server that writes each.
    pub(crate) replicas: RwLock<HashMap<AnyPid, Replica>>,
    watchers: Mutex<Vec<(String, mpsc::UnboundedSender<Seen>)>>,
}

impl actors::dist::Extension for View {
    fn shutdown(&self) {
        lock(&self.watchers).clear();
    }
}

impl View {
    /// Every presence in `topic`, sorted by key.
    pub(crate) fn list(&self, topic: &str) -> Vec<Entry> {
        let replicas = self.replicas.read().unpoisoned();
        let mut found: Vec<Entry> = replicas
            .values()
            .flat_map(|r| {
                r.entries
                    .range((topic.to_string(), String::new(), 0)..)
                    .take_while(|((t, _, _), _)| t == topic)
                    .map(|(_, e)| e.clone())
            })
            .collect();
        found.sort_by(|a, b| a.key.cmp(&b.key));
        found
    }

    /// A stream of what changes in `topic`.
    pub(crate) fn watch(&self, topic: &str) -> mpsc::UnboundedReceiver<Seen> {
        let (tx, rx) = mpsc::unbounded();
        lock(&self.watchers).push((topic.to_string(), tx));
        rx
    }

    /// Tells the watchers what changed; forgets those whose stream was dropped.
    pub(crate) fn tell(&self, seen: Vec<Seen>) {
        if seen.is_empty() {
            return;
        }
        let mut watchers = lock(&self.watchers);
        watchers.retain(|(topic, tx)| {
            seen.iter()
                .filter(|s| s.entry().topic == *topic)
                .all(|s| tx.unbounded_send(s.clone()).is_ok())
        });
    }

    /// Runs `f` on the replica of `server`, made empty if new.
    pub(crate) fn with<R>(&self, server: &AnyPid, f: impl FnOnce(&mut Replica) -> R) -> R {
        let mut replicas = self.replicas.write().unpoisoned();
        f(replicas.entry(server.clone()).or_default())
    }

    /// Forgets the replica of `server`: its entries leave.
    pub(crate) fn drop_replica(&self, server: &AnyPid) -> Vec<Seen> {
        let mut seen = Vec::new();
        if let Some(mut r) = self.replicas.write().unpoisoned().remove(server) {
            r.clear(&mut seen);
        }
        seen
    }

    /// Takes the replica of `server` out of the view, telling no one: its entries.
    pub(crate) fn take_replica(&self, server: &AnyPid) -> Vec<Entry> {
        self.replicas
            .write()
            .unpoisoned()
            .remove(server)
            .map(|r| r.entries.into_values().collect())
            .unwrap_or_default()
    }

    /// The servers whose replicas this view holds.
    pub(crate) fn servers(&self) -> Vec<AnyPid> {
        self.replicas.read().unpoisoned().keys().cloned().collect()
    }
}

impl Seen {
    pub(crate) fn entry(&self) -> &Entry {
        match self {
            Seen::Joined(e) | Seen::Updated(e) | Seen::Left(e) => e,
        }
    }
}
