//! Why a process ended, and the two signals that carry it: `Down` (monitors) and `Exit` (links).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a process ended. Travels in [`Down`](crate::Down) and [`Exit`](crate::Exit) signals, locally and across nodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExitReason {
    /// The process finished its work: linked processes that do not trap exits ignore it.
    Normal,
    /// The process was asked to stop, by its supervisor or its node.
    Shutdown,
    /// The process was killed; this cannot be trapped.
    Killed,
    /// A handler panicked; the payload's message.
    Panic(String),
    /// The process stopped itself with an error.
    Error(String),
    /// The connection to the process's node was lost.
    NoConnection,
    /// The process did not exist (already dead, or from an older incarnation of its node).
    NoProc,
    /// The process lost a cluster-wide name to another one when two partitions healed.
    NameConflict,
}

impl ExitReason {
    /// True for [`ExitReason::Normal`]: the only reason a link ignores.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal)
    }

    /// True for the reasons after which a `Transient` child is not restarted.
    pub fn is_clean(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Shutdown)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::Panic(msg) => write!(f, "panic: {msg}"),
            ExitReason::Error(msg) => write!(f, "error: {msg}"),
            ExitReason::NoConnection => f.write_str("noconnection"),
            ExitReason::NoProc => f.write_str("noproc"),
            ExitReason::NameConflict => f.write_str("name conflict"),
        }
    }
}

/// Names one monitor: unique on the node that created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MonitorRef(pub(crate) u64);

impl MonitorRef {
    /// The reference as a number, to carry it over the wire.
    pub fn as_raw(self) -> u64 {
        self.0
    }

    /// A reference from a number carried over the wire.
    pub fn from_raw(raw: u64) -> Self {
        MonitorRef(raw)
    }
}

impl fmt::Display for MonitorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<{}>", self.0)
    }
}

/// Turns a panic payload into the text kept in [`ExitReason::Panic`].
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
