//! The names things go by: a node's id and creation, process-id maps, the identity of an
//! actor type. Plain values, used everywhere above.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A node's name and creation: the creation is new on every start, so that pids of an earlier
/// run of a node with the same name never reach a process of this run.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NodeId {
    name: Arc<str>,
    creation: u32,
}

impl NodeId {
    /// A node id.
    pub fn new(name: &str, creation: u32) -> Self {
        NodeId {
            name: name.into(),
            creation,
        }
    }

    /// The node's name, `name@host:port` for a distributed node.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's creation.
    pub fn creation(&self) -> u32 {
        self.creation
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.name, self.creation)
    }
}

/// A fresh creation: different on every call, in every OS process.
pub fn new_creation() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // Random bytes make runs and OS processes differ; the counter, the nodes of one process.
    let mut random = [0u8; 8];
    if crate::runtime::simulated() {
        // A simulation's randomness is its seed's: the counter would differ run to run.
        let _ = crate::runtime::fill_random(&mut random);
        return (u64::from_le_bytes(random) as u32).max(1);
    }
    if crate::runtime::fill_random(&mut random).is_err() {
        // Without the OS's randomness, the process id still tells OS processes apart.
        random[..4].copy_from_slice(&std::process::id().to_le_bytes());
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    COUNTER.fetch_add(1, Ordering::Relaxed).hash(&mut h);
    random.hash(&mut h);
    (h.finish() as u32).max(1)
}

/// Process ids are sequential: multiply them into well-spread hashes.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// The stable wire identity of an actor type: its name and a hash of its name, its handler
/// signatures and the wire shapes of their types (see [`shape`](crate::shape)). A frame
/// whose identity differs from the target's is rejected, never decoded into the wrong type,
/// and a pid of another identity is not taken for one of this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    /// `module::path::Type`, or the `name = "..."` given to `#[actor]`.
    pub name: &'static str,
    /// Hash of the name, of every handler's name, kind, argument and reply types, and of
    /// those types' wire shapes.
    pub hash: u64,
}

impl Identity {
    /// Combines an actor's name with the hash of its handler signatures.
    pub const fn new(name: &'static str, signature: u64) -> Self {
        let bytes = name.as_bytes();
        let mut hash = signature ^ 0xcbf2_9ce4_8422_2325;
        let mut i = 0;
        while i < bytes.len() {
            hash ^= bytes[i] as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            i += 1;
        }
        Identity { name, hash }
    }
}

/// Folds one handler's signature hash into the hash of those before it (generated code
/// builds an actor's signature with it, one handler at a time under each one's `cfg`).
pub const fn mix_identity(hash: u64, part: u64) -> u64 {
    let bytes = part.to_le_bytes();
    let mut hash = hash ^ 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}
