//! A node's subscriptions, by topic: what a broadcast hands its message to here.

use std::any::Any;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use actors::Node;
use actors::dist::rt::HashMap;
use futures::channel::mpsc;

use super::topic::{Key, Message};
use crate::connection::lock;

/// The subscribers of one topic on this node, of its message type.
struct Subscribers<M> {
    senders: Vec<(u64, mpsc::UnboundedSender<M>)>,
}

/// [`Subscribers`] with the type erased, as the table and the server hold them.
trait Sinks: Send {
    fn as_any(&mut self) -> &mut dyn Any;
    /// Decodes a message that came from another node and hands it to every subscriber.
    fn deliver_encoded(&mut self, node: &Node, bytes: &[u8]) -> Result<usize, String>;
    fn remove(&mut self, id: u64);
    fn is_empty(&self) -> bool;
}

impl<M: Message> Subscribers<M> {
    /// Hands `msg` to every subscriber but `except`; drops those whose receiver is gone.
    fn deliver(&mut self, msg: &M, except: Option<u64>) -> usize {
        let mut handed = 0;
        self.senders.retain(|(id, tx)| {
            if Some(*id) == except {
                return true;
            }
            let kept = tx.unbounded_send(msg.clone()).is_ok();
            handed += usize::from(kept);
            kept
        });
        handed
    }
}

impl<M: Message> Sinks for Subscribers<M> {
    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn deliver_encoded(&mut self, node: &Node, bytes: &[u8]) -> Result<usize, String> {
        let msg: M = actors::dist::decode(node, bytes).map_err(|e| e.to_string())?;
        Ok(self.deliver(&msg, None))
    }

    fn remove(&mut self, id: u64) {
        self.senders.retain(|(i, _)| *i != id);
    }

    fn is_empty(&self) -> bool {
        self.senders.iter().all(|(_, tx)| tx.is_closed())
    }
}

/// A node's subscriptions; an extension of the node, shared by the handles and the server
/// (a restarted server finds them here).
#[derive(Default)]
pub(crate) struct Registry {
    topics: Mutex<HashMap<Key, Box<dyn Sinks>>>,
    next: AtomicU64,
}

impl actors::dist::Extension for Registry {
    fn shutdown(&self) {
        lock(&self.topics).clear();
    }
}

impl Registry {
    /// A new subscriber of `key`: its id and its receiver.
    pub(crate) fn subscribe<M: Message>(&self, key: &Key) -> (u64, mpsc::UnboundedReceiver<M>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded();
        let mut topics = lock(&self.topics);
        let sinks = topics.entry(key.clone()).or_insert_with(|| {
            Box::new(Subscribers::<M> {
                senders: Vec::new(),
            })
        });
        if let Some(subs) = sinks.as_any().downcast_mut::<Subscribers<M>>() {
            subs.senders.push((id, tx));
        }
        (id, rx)
    }

    /// Forgets subscriber `id` of `key`; true if the topic has none left here.
    pub(crate) fn unsubscribe(&self, key: &Key, id: u64) -> bool {
        let mut topics = lock(&self.topics);
        let Some(sinks) = topics.get_mut(key) else {
            return true;
        };
        sinks.remove(id);
        if sinks.is_empty() {
            topics.remove(key);
            return true;
        }
        false
    }

    /// Whether `key` has a live subscriber here.
    pub(crate) fn has(&self, key: &Key) -> bool {
        lock(&self.topics).get(key).is_some_and(|s| !s.is_empty())
    }

    /// Every topic with subscribers here.
    pub(crate) fn keys(&self) -> Vec<Key> {
        lock(&self.topics)
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Hands `msg` to the subscribers of `key` here, but `except`: how many took it.
    pub(crate) fn deliver<M: Message>(&self, key: &Key, msg: &M, except: Option<u64>) -> usize {
        let mut topics = lock(&self.topics);
        topics
            .get_mut(key)
            .and_then(|s| s.as_any().downcast_mut::<Subscribers<M>>())
            .map_or(0, |subs| subs.deliver(msg, except))
    }

    /// Hands a message that came from another node to the subscribers of `key` here.
    pub(crate) fn deliver_encoded(
        &self,
        node: &Node,
        key: &Key,
        bytes: &[u8],
    ) -> Result<usize, String> {
        let mut topics = lock(&self.topics);
        match topics.get_mut(key) {
            Some(sinks) => sinks.deliver_encoded(node, bytes),
            None => Ok(0),
        }
    }
}
