//! Domains: the simulated machines whose tasks fail together.

/// The tasks of one simulated machine (feature `sim`), which fail together; outside a
/// simulation every task is of the one domain there is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(pub(crate) u32);

impl Domain {
    /// The domain of a simulation's own code, which no fault touches.
    pub const OBSERVER: Domain = Domain(0);
}
