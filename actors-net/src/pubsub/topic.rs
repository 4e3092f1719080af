//! A topic: a name and the one message type it carries.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// What a topic may carry: sent to other nodes once per node, handed to each subscriber there
/// as a clone.
pub trait Message: Clone + Serialize + DeserializeOwned + Send + 'static {}

impl<M: Clone + Serialize + DeserializeOwned + Send + 'static> Message for M {}

/// A topic of [`PubSub`](super::PubSub): its name and the type of its messages, checked
/// across nodes as pids are (by the hash of the type's wire shape): a node that subscribes
/// to the same name with another type is another topic, and never receives these.
///
/// ```
/// use actors_net::pubsub::Topic;
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Line { from: String, text: String }
/// let lobby: Topic<Line> = Topic::new("room:lobby");
/// assert_eq!(lobby.name(), "room:lobby");
/// ```
pub struct Topic<M> {
    name: String,
    shape: u64,
    _message: PhantomData<fn(M) -> M>,
}

impl<M: Message> Topic<M> {
    /// The topic `name`, carrying `M`.
    pub fn new(name: impl Into<String>) -> Self {
        Topic {
            name: name.into(),
            shape: actors::shape::hash::<M>(),
            _message: PhantomData,
        }
    }
}

impl<M> Topic<M> {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key its subscribers are kept and found under: the name and the type's shape.
    pub(crate) fn key(&self) -> Key {
        Key {
            name: self.name.clone(),
            shape: self.shape,
        }
    }
}

impl<M> Clone for Topic<M> {
    fn clone(&self) -> Self {
        Topic {
            name: self.name.clone(),
            shape: self.shape,
            _message: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for Topic<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Topic({:?}, shape {:016x})", self.name, self.shape)
    }
}

/// A topic as the nodes know it, type erased.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) shape: u64,
}

impl Key {
    /// The process group of the servers of the nodes that have subscribers to it.
    pub(crate) fn group(&self) -> String {
        format!("{}#{:016x}", self.name, self.shape)
    }
}
