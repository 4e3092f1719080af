//! What a process shows of its state to tools that ask (`sys:get_state` from a BEAM node,
//! the observer): its state as a term when it serialises, else its `Debug` text, and nothing
//! unless its actor opts in with `#[actor(debug)]`.

use serde::Serialize;

use crate::etf::Term;

/// A process's state as shown to a tool.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ShownState {
    /// The state as a term: the actor opts in, and its state serialises.
    Term(Term),
    /// The state's `Debug` text: the actor opts in, but its state does not serialise.
    Text(String),
    /// The actor keeps its state to itself (no `#[actor(debug)]`).
    Hidden,
}

/// The state `#[actor(debug)]` generates a term from: `(&&Probe(state)).state_term()`
/// finds [`ViaSerialize`] when the state is `Serialize`, and [`ViaNothing`] otherwise.
pub struct Probe<'a, T>(pub &'a T);

/// A state that serialises, as a term.
pub trait ViaSerialize {
    /// The state as a term.
    fn state_term(&self) -> Option<Term>;
}

impl<T: Serialize> ViaSerialize for &Probe<'_, T> {
    fn state_term(&self) -> Option<Term> {
        crate::etf::to_term(self.0).ok()
    }
}

/// A state that does not serialise: no term.
pub trait ViaNothing {
    /// No term.
    fn state_term(&self) -> Option<Term>;
}

impl<T> ViaNothing for Probe<'_, T> {
    fn state_term(&self) -> Option<Term> {
        None
    }
}
