//! A linearizability checker for a history of operations on one name, in the manner of Wing
//! and Gong: look for an order of the operations that respects real time (an operation that
//! returned before another was invoked comes first) and in which each result is what a single
//! copy of the name would have answered. Operations that timed out or failed without an answer
//! may have taken effect or not, at any point after their invocation.

use std::time::Duration;

/// What was done to the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Register the name to this value.
    Register(u64),
    /// Free the name.
    Unregister,
    /// Look it up.
    Whereis,
}

/// What the operation answered; `None`: no answer (a timeout, or `NoQuorum` after a leader
/// took it): it may or may not have happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A register that succeeded, or an unregister.
    Done,
    /// A register refused because the name was taken.
    Taken,
    /// A lookup's answer.
    Found(Option<u64>),
}

/// One operation of the history, with when it was invoked and when it returned.
#[derive(Debug, Clone)]
pub struct Event {
    /// The operation.
    pub op: Op,
    /// Its answer, if it had one.
    pub outcome: Option<Outcome>,
    /// When it was invoked.
    pub start: Duration,
    /// When it returned (for one without an answer: when the caller gave up).
    pub end: Duration,
}

fn step(state: Option<u64>, op: &Op) -> (Option<u64>, Outcome) {
    match op {
        Op::Register(v) => match state {
            None => (Some(*v), Outcome::Done),
            Some(held) if held == *v => (state, Outcome::Done),
            Some(_) => (state, Outcome::Taken),
        },
        Op::Unregister => (None, Outcome::Done),
        Op::Whereis => (state, Outcome::Found(state)),
    }
}

/// True if `history` is linearizable for one name that starts free.
pub fn check(history: &[Event]) -> bool {
    fn search(history: &[Event], done: &mut Vec<bool>, state: Option<u64>) -> bool {
        if done.iter().all(|d| *d) {
            return true;
        }
        // The earliest end among the pending answered operations: nothing invoked after it
        // may come before it.
        let horizon = history
            .iter()
            .zip(done.iter())
            .filter(|(e, d)| !**d && e.outcome.is_some())
            .map(|(e, _)| e.end)
            .min();
        for i in 0..history.len() {
            if done[i] || horizon.is_some_and(|h| history[i].start > h) {
                continue;
            }
            let (next, outcome) = step(state, &history[i].op);
            let fits = history[i].outcome.as_ref().is_none_or(|o| *o == outcome);
            if fits {
                done[i] = true;
                if search(history, done, next) {
                    return true;
                }
                done[i] = false;
            }
            // One without an answer may also never have happened.
            if history[i].outcome.is_none() {
                done[i] = true;
                if search(history, done, state) {
                    return true;
                }
                done[i] = false;
            }
        }
        false
    }
    search(history, &mut vec![false; history.len()], None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(op: Op, outcome: Option<Outcome>, start: u64, end: u64) -> Event {
        Event {
            op,
            outcome,
            start: Duration::from_millis(start),
            end: Duration::from_millis(end),
        }
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_caught() {
        let ok = [
            ev(Op::Register(1), Some(Outcome::Done), 0, 10),
            ev(Op::Whereis, Some(Outcome::Found(Some(1))), 20, 30),
        ];
        assert!(check(&ok));
        let stale = [
            ev(Op::Register(1), Some(Outcome::Done), 0, 10),
            ev(Op::Whereis, Some(Outcome::Found(None)), 20, 30),
        ];
        assert!(!check(&stale));
        // Overlapping, the read may come first.
        let overlap = [
            ev(Op::Register(1), Some(Outcome::Done), 0, 30),
            ev(Op::Whereis, Some(Outcome::Found(None)), 10, 20),
        ];
        assert!(check(&overlap));
        // Two registrations both accepted with different values cannot both hold.
        let twice = [
            ev(Op::Register(1), Some(Outcome::Done), 0, 10),
            ev(Op::Register(2), Some(Outcome::Done), 20, 30),
        ];
        assert!(!check(&twice));
        // A timed-out write may have happened.
        let maybe = [
            ev(Op::Register(1), None, 0, 10),
            ev(Op::Whereis, Some(Outcome::Found(Some(1))), 20, 30),
            ev(Op::Whereis, Some(Outcome::Found(Some(1))), 40, 50),
        ];
        assert!(check(&maybe));
    }
}
