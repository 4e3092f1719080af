//! The reply half of a call: the slot its answer goes into, carried inside the call's message.

use std::sync::Arc;

use crate::error::CallError;
use crate::sync::slot::Slot;

pub(crate) type ReplySlot<R> = Slot<Result<R, CallError>>;

impl<R: Send + 'static> crate::sync::deadline::Expire for ReplySlot<R> {
    fn expire_due(&self, now: u64) -> bool {
        self.fill_if_due(now, || Err(CallError::Timeout))
    }
}

/// The reply half of a call inside its message, handed to the handler's dispatch: the
/// handler's return value goes back through it. Dropped without a value (the process ended
/// first), the caller learns why.
///
/// One pointer wide, so that call messages stay small in the mailbox. Encoding a call for the
/// wire takes the slot out of it (through `&self`, as serde encodes), hence the `Cell`.
pub struct ReplyHalf<R>(pub(crate) std::cell::Cell<Option<Arc<ReplySlot<R>>>>);

impl<R> ReplyHalf<R> {
    pub(crate) fn new(slot: Arc<ReplySlot<R>>) -> Self {
        ReplyHalf(std::cell::Cell::new(Some(slot)))
    }

    /// Sends the reply to the caller.
    pub fn send(self, value: R) {
        if let Some(slot) = self.0.take() {
            slot.fill(Ok(value));
        }
    }
}

impl<R> Drop for ReplyHalf<R> {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.close();
        }
    }
}
