//! Freeing a registration's locks on every server, however the registering task ends.

use actors::dist::Origin;
use actors::{AnyPid, Pid};

use super::server::GlobalServer;
use super::table::Hold;

/// Releases `ids`, held by `holder` under `request`, on every one of `servers`.
pub(super) fn release(
    servers: &[Pid<GlobalServer>],
    ids: &[String],
    holder: &AnyPid,
    request: u64,
) {
    for s in servers {
        let _ = s.unlock(Origin::local(), ids.to_vec(), holder.clone(), request);
    }
}

/// Frees a registration's locks on every server when dropped: a task dropped midway would
/// otherwise keep the name and the pid locked for as long as its node runs. A name already
/// bound on some nodes stays bound there, as a commit cut short by a lost node does, and
/// the table digests spread it.
pub(super) struct FreeOnDrop<'a> {
    servers: &'a [Pid<GlobalServer>],
    hold: &'a Hold,
}

impl<'a> FreeOnDrop<'a> {
    /// Frees `hold` on `servers` when dropped.
    pub(super) fn new(servers: &'a [Pid<GlobalServer>], hold: &'a Hold) -> Self {
        FreeOnDrop { servers, hold }
    }

    /// The operation freed its locks itself: nothing more to send.
    pub(super) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for FreeOnDrop<'_> {
    fn drop(&mut self) {
        release(
            self.servers,
            &self.hold.ids,
            &self.hold.holder,
            self.hold.request,
        );
    }
}
