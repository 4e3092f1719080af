//! Fencing tokens: each start of a consistent supervisor's child carries a number greater than
//! that of every earlier start, so that what the child acts on can refuse a stale copy.
//!
//! The lease already keeps two copies from running at one instant; the token covers what the
//! lease cannot: a message the old copy sent before it stopped, still in flight when the new
//! copy acts (a paused process, a slow link). The resource keeps a [`Fence`] and refuses a
//! token lower than the highest it has seen.

use std::cell::Cell;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

thread_local! {
    /// The token of the start being decoded on this thread, set by the member around the
    /// decoding of the child's state.
    static STARTING: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The generation of one start of a child of a consistent supervisor: a field of the child's
/// state that the supervisor fills in as it starts the child (whatever value it was added
/// with), greater at each start than at every earlier one, on whichever node. Zero where no
/// consistent supervisor started the value (an available supervisor's child, a plain spawn).
///
/// Sent in a message it keeps its value, so a child hands it to what it acts on, which
/// admits it through a [`Fence`].
///
/// ```
/// # use actors_net::prelude::*;
/// use actors_net::distributed::FencingToken;
/// #[actor]
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Batch {
///     token: FencingToken,
/// }
/// # #[actor] impl Batch { #[handle] fn run(&self) -> u64 { self.token.get() } }
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FencingToken(u64);

impl FencingToken {
    /// The token as a number (the log's term in the high 32 bits, the start within the term
    /// in the low ones).
    pub fn get(self) -> u64 {
        self.0
    }

    /// A token from its number, as a resource receives it.
    pub fn from_raw(raw: u64) -> Self {
        FencingToken(raw)
    }
}

impl Serialize for FencingToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for FencingToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let sent = u64::deserialize(d)?;
        Ok(FencingToken(STARTING.with(Cell::get).unwrap_or(sent)))
    }
}

/// Runs `start` (which decodes a child's state) with `token` as the token of that start.
pub(crate) fn starting<R>(token: u64, start: impl FnOnce() -> R) -> R {
    struct Reset(Option<u64>);
    impl Drop for Reset {
        fn drop(&mut self) {
            STARTING.with(|s| s.set(self.0));
        }
    }
    let _reset = Reset(STARTING.with(|s| s.replace(Some(token))));
    start()
}

/// The tokens a consistent member gives: the log's term, then a count of starts within it.
/// A new leader's term is above every earlier leader's, so its tokens are above theirs.
#[derive(Debug, Default)]
pub(crate) struct TokenClock {
    term: u64,
    starts: u64,
}

impl TokenClock {
    pub(crate) fn next(&mut self, term: u64) -> u64 {
        if term != self.term {
            self.term = term;
            self.starts = 0;
        }
        self.starts += 1;
        (self.term.min(u64::from(u32::MAX)) << 32) | self.starts.min(u64::from(u32::MAX))
    }
}

/// A token lower than one a [`Fence`] has admitted: it comes from a copy replaced since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "fencing token {token} is stale: {highest} was admitted already, so a newer copy of the child runs; this one must stop acting"
)]
pub struct Stale {
    /// The token refused.
    pub token: u64,
    /// The highest token admitted.
    pub highest: u64,
}

/// What a resource keeps to refuse a replaced copy: the highest token it admitted.
///
/// ```
/// use actors_net::distributed::{Fence, FencingToken};
/// let mut fence = Fence::default();
/// let (old, new) = (FencingToken::from_raw(1 << 32 | 1), FencingToken::from_raw(2 << 32 | 1));
/// assert!(fence.admit(old).is_ok());
/// assert!(fence.admit(new).is_ok());
/// assert!(fence.admit(old).is_err(), "the replaced copy is refused");
/// ```
#[derive(Debug, Default, Clone)]
pub struct Fence {
    highest: u64,
}

impl Fence {
    /// Admits `token` if no higher one was admitted (the same copy acts as often as it
    /// likes); refuses it otherwise.
    pub fn admit(&mut self, token: FencingToken) -> Result<(), Stale> {
        if token.0 < self.highest {
            return Err(Stale {
                token: token.0,
                highest: self.highest,
            });
        }
        self.highest = token.0;
        Ok(())
    }

    /// The highest token admitted so far.
    pub fn highest(&self) -> FencingToken {
        FencingToken(self.highest)
    }
}

#[cfg(test)]
mod tests {
    use crate::distributed::fence::{FencingToken, TokenClock, starting};

    #[test]
    fn tokens_grow_within_a_term_and_across_terms() {
        let mut clock = TokenClock::default();
        let a = clock.next(3);
        let b = clock.next(3);
        let c = clock.next(4);
        assert!(a < b && b < c);
        assert!(clock.next(4) > c);
    }

    #[test]
    fn a_token_decodes_as_the_start_it_is_decoded_for() {
        let mut bytes = Vec::new();
        actors::dist::encode(&FencingToken(7), &mut bytes).unwrap();
        let plain: FencingToken = actors::dist::decode_plain(&bytes).unwrap();
        assert_eq!(plain.get(), 7, "sent in a message it keeps its value");
        let started: FencingToken = starting(99, || actors::dist::decode_plain(&bytes)).unwrap();
        assert_eq!(started.get(), 99);
        let after: FencingToken = actors::dist::decode_plain(&bytes).unwrap();
        assert_eq!(after.get(), 7, "the start's token does not outlive it");
    }
}
