//! The kernel: the types that hold each other, and so cannot stand on separate floors.
//!
//! A pid points at its process's cell; the cell holds the node and the actor's mailbox; the
//! node holds the cells; an actor is written against its context and its pid; signals name
//! pids; the seam's traits name cells and nodes. Everything else stands above or below.

pub(crate) mod actor;
pub(crate) mod cell;
pub(crate) mod ctx;
pub(crate) mod node;
pub(crate) mod pid;
pub(crate) mod seam;
pub(crate) mod signal;
