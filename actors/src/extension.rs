//! State that a distribution layer or service keeps on a node, one value per type, each
//! told when the node shuts down (set and read through `crate::dist`).

use std::any::{Any, TypeId};
use std::sync::{Arc, RwLock};

use crate::lock::Unpoisoned;
use crate::runtime::HashMap;

/// State a distribution layer or service keeps on a node: one value per type.
pub trait Extension: Any + Send + Sync {
    /// Called once when the node shuts down, after its processes have ended and its router
    /// has shut down: let go of what would keep the node alive.
    fn shutdown(&self) {}
}

type Entry = (Arc<dyn Any + Send + Sync>, Arc<dyn Extension>);

/// A node's extensions, by type.
#[derive(Default)]
pub(crate) struct Extensions(RwLock<HashMap<TypeId, Entry>>);

impl Extensions {
    /// Attaches `ext`; false (and nothing changes) if one of its type is attached already.
    pub(crate) fn insert<T: Extension>(&self, ext: Arc<T>) -> bool {
        let mut map = self.0.write().unpoisoned();
        if map.contains_key(&TypeId::of::<T>()) {
            return false;
        }
        let any: Arc<dyn Any + Send + Sync> = ext.clone();
        map.insert(TypeId::of::<T>(), (any, ext));
        true
    }

    /// The value of type `T`, if one is attached.
    pub(crate) fn get<T: Extension>(&self) -> Option<Arc<T>> {
        self.0
            .read()
            .unpoisoned()
            .get(&TypeId::of::<T>())?
            .0
            .clone()
            .downcast()
            .ok()
    }

    pub(crate) fn shutdown(&self) {
        let all: Vec<Arc<dyn Extension>> = self
            .0
            .read()
            .unpoisoned()
            .values()
            .map(|(_, e)| e.clone())
            .collect();
        for ext in all {
            ext.shutdown();
        }
    }
}
