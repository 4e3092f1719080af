//! Locks taken whether or not a panic elsewhere poisoned them.

use std::sync::{LockResult, PoisonError};

/// A lock taken whether or not it is poisoned: `m.lock().unpoisoned()`.
///
/// A panicking handler is a crashed process, not a broken node: each holder of a lock leaves
/// the state behind it consistent before it can panic, so a poisoned lock is taken as is.
pub trait Unpoisoned<G> {
    /// The guard, poisoned or not.
    fn unpoisoned(self) -> G;
}

impl<G> Unpoisoned<G> for LockResult<G> {
    fn unpoisoned(self) -> G {
        self.unwrap_or_else(PoisonError::into_inner)
    }
}
