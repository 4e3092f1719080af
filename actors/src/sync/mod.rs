//! Waiting for one value: the slot a call's reply arrives in, and the deadlines of calls.

pub(crate) mod deadline;
pub(crate) mod slot;
