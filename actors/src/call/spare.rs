//! Reply slots kept per thread for the next call.
//!
//! A call needs a slot the callee answers into. Allocating one per call, and registering each
//! with the node's deadline sweeper, cost more than a third of a local round trip; a slot
//! whose call is over and that nobody else holds is kept here instead, still registered, and
//! the next call of the same reply type through the same node takes it back.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::sync::Arc;

use super::half::ReplySlot;
use crate::sync::deadline::Deadlines;
use crate::sync::slot::Slot;

/// Kinds of slot (node, reply type) kept per thread.
const KINDS: usize = 16;
/// Slots kept per kind: as many calls as one thread usually has in flight at once.
const EACH: usize = 4;

struct Kind {
    deadlines: Arc<Deadlines>,
    reply: TypeId,
    spare: Vec<Arc<dyn Any + Send + Sync>>,
}

thread_local! {
    static SPARE: RefCell<Vec<Kind>> = const { RefCell::new(Vec::new()) };
}

/// A slot for a call through the node of `deadlines`, registered there: a spare one if this
/// thread has one, else a new one.
pub(crate) fn take<R: Send + 'static>(deadlines: &Arc<Deadlines>) -> Arc<ReplySlot<R>> {
    let spare = SPARE
        .try_with(|kinds| {
            let mut kinds = kinds.borrow_mut();
            kinds.retain(|k| !k.deadlines.is_closed());
            let kind = kinds
                .iter_mut()
                .find(|k| k.reply == TypeId::of::<R>() && Arc::ptr_eq(&k.deadlines, deadlines))?;
            kind.spare.pop()?.downcast::<ReplySlot<R>>().ok()
        })
        .ok()
        .flatten();
    match spare {
        Some(slot) => slot,
        None => {
            let slot: Arc<ReplySlot<R>> = Arc::new(Slot::new());
            deadlines.register(slot.clone());
            slot
        }
    }
}

/// Keeps `slot`, whose call is over and which `Slot::poll_recycle` emptied for another round,
/// for the next call, if there is room.
pub(crate) fn give<R: Send + 'static>(deadlines: &Arc<Deadlines>, slot: Arc<ReplySlot<R>>) {
    let _ = SPARE.try_with(|kinds| {
        let mut kinds = kinds.borrow_mut();
        let at = match kinds
            .iter()
            .position(|k| k.reply == TypeId::of::<R>() && Arc::ptr_eq(&k.deadlines, deadlines))
        {
            Some(at) => at,
            None => {
                if kinds.len() == KINDS {
                    kinds.remove(0);
                }
                kinds.push(Kind {
                    deadlines: deadlines.clone(),
                    reply: TypeId::of::<R>(),
                    spare: Vec::with_capacity(EACH),
                });
                kinds.len() - 1
            }
        };
        if kinds[at].spare.len() < EACH {
            kinds[at].spare.push(slot);
        }
    });
}
