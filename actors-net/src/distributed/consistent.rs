//! What a member of a consistent supervisor keeps beside the child table: its part of the
//! replicated log, the names registered through it, and the requests made here that await
//! their commit.
//!
//! Every request is a command in the log, reads included, and is answered by the member that
//! made it once it applies that command: so registering, unregistering and looking up a name
//! are linearizable, and a side without a majority answers none of them (`NoQuorum`).

use std::collections::BTreeMap;
use std::time::Duration;

use actors::rt::Instant;
use actors::{AnyPid, Node, Reply};
use serde::{Deserialize, Serialize};

use super::child::ChildDef;
use super::consensus::{Consensus, KeptLogs};
use super::error::DistError;
use super::table::ChildTable;

/// How long a request waits for its commit before it fails with `NoQuorum`.
const COMMIT_WITHIN: Duration = Duration::from_secs(5);

/// Names one consistent supervisor holds, at most.
pub(crate) const MAX_NAMES: usize = 10_000;

/// A request, as the log carries it: made by `by` (node, request number), if someone awaits
/// the answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Command {
    Put {
        by: Option<(String, u64)>,
        id: String,
        def: Option<ChildDef>,
    },
    Register {
        by: Option<(String, u64)>,
        name: String,
        pid: AnyPid,
    },
    /// Frees `name`; if `pid` is given, only while `name` is still that pid's.
    Unregister {
        by: Option<(String, u64)>,
        name: String,
        pid: Option<AnyPid>,
    },
    Whereis {
        by: Option<(String, u64)>,
        name: String,
    },
}

/// Who awaits a request made here.
pub(crate) enum Waiter {
    Done(Reply<Result<(), DistError>>),
    Found(Reply<Result<Option<AnyPid>, DistError>>),
}

impl Waiter {
    /// Sends a request's answer: what a lookup found, or (for the others) that it was done.
    pub(crate) fn send(self, answer: Result<Option<AnyPid>, DistError>) {
        match self {
            Waiter::Done(r) => r.send(answer.map(|_| ())),
            Waiter::Found(r) => r.send(answer),
        }
    }
}

/// A name's change that the member acts on: watch the pid now bound, or stop watching.
pub(crate) enum NameChange {
    Bound(String, AnyPid),
    Freed(String, AnyPid),
}

pub(crate) struct Consistent {
    pub(crate) log: Consensus,
    pub(crate) names: BTreeMap<String, AnyPid>,
    waiting: BTreeMap<u64, (Instant, Waiter)>,
    next_request: u64,
}

impl Consistent {
    /// The member of `node` among `voters`, on the log its node kept for supervisor `name`.
    pub(crate) fn new(node: &Node, name: &str, voters: &[String]) -> Result<Self, DistError> {
        let me = node.name();
        let kept = actors::dist::extension::<KeptLogs>(node).unwrap_or_else(|| {
            let logs = std::sync::Arc::new(KeptLogs::default());
            actors::dist::set_extension(node, logs.clone());
            actors::dist::extension::<KeptLogs>(node).unwrap_or(logs)
        });
        let mut sorted = voters.to_vec();
        sorted.sort();
        sorted.dedup();
        let storage = crate::connection::lock(&kept.0)
            .entry(name.to_string())
            .or_insert_with(|| Consensus::storage_for(&sorted))
            .clone();
        let log = Consensus::new(me, &sorted, storage)
            .map_err(|_| DistError::NotVoter(me.to_string()))?;
        Ok(Consistent {
            log,
            names: BTreeMap::new(),
            waiting: BTreeMap::new(),
            next_request: 1,
        })
    }

    /// Proposes `make(by)`; `waiter`, if any, is answered when it commits or fails.
    pub(crate) fn propose(
        &mut self,
        me: &str,
        make: impl FnOnce(Option<(String, u64)>) -> Command,
        waiter: Option<Waiter>,
    ) {
        let by = waiter.as_ref().map(|_| (me.to_string(), self.next_request));
        let mut bytes = Vec::new();
        if actors::dist::encode(&make(by), &mut bytes).is_err() || !self.log.propose(bytes) {
            if let Some(w) = waiter {
                w.send(Err(DistError::NoQuorum));
            }
            return;
        }
        if let Some(w) = waiter {
            self.waiting
                .insert(self.next_request, (actors::rt::now(), w));
            self.next_request += 1;
        }
    }

    /// Applies committed commands in log order, answering the requests made here; returns
    /// the names that changed.
    pub(crate) fn apply(
        &mut self,
        node: &Node,
        committed: Vec<Vec<u8>>,
        table: &mut ChildTable,
    ) -> Vec<NameChange> {
        let mut changes = Vec::new();
        for bytes in committed {
            let command = match actors::dist::decode::<Command>(node, &bytes) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(
                        "a committed command does not decode ({e}): skipped on every member alike"
                    );
                    continue;
                }
            };
            // Every member applies the same commands in the same order: the same state.
            let (by, answer) = match command {
                Command::Put { by, id, def } => {
                    let limit = table.limit();
                    let done = table
                        .write("log", &id, def)
                        .map_err(|_| DistError::Full(limit));
                    (by, done.map(|_| None))
                }
                Command::Register { by, name, pid } => {
                    let done = match self.names.get(&name) {
                        Some(held) if *held == pid => Ok(None),
                        Some(_) => Err(DistError::NameTaken(name.clone())),
                        None if self.names.len() >= MAX_NAMES => Err(DistError::Full(MAX_NAMES)),
                        None => {
                            self.names.insert(name.clone(), pid.clone());
                            changes.push(NameChange::Bound(name, pid));
                            Ok(None)
                        }
                    };
                    (by, done)
                }
                Command::Unregister { by, name, pid } => {
                    if let Some(held) = self.names.get(&name).cloned()
                        && pid.as_ref().is_none_or(|p| *p == held)
                    {
                        self.names.remove(&name);
                        changes.push(NameChange::Freed(name, held));
                    }
                    (by, Ok(None))
                }
                Command::Whereis { by, name } => (by, Ok(self.names.get(&name).cloned())),
            };
            if let Some((from, request)) = by
                && from == node.name()
                && let Some((_, waiter)) = self.waiting.remove(&request)
            {
                waiter.send(answer);
            }
        }
        changes
    }

    /// Fails the requests that waited too long for a commit.
    pub(crate) fn expire(&mut self, now: Instant) {
        let late: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(_, (at, _))| now.duration_since(*at) > COMMIT_WITHIN)
            .map(|(r, _)| *r)
            .collect();
        for r in late {
            if let Some((_, w)) = self.waiting.remove(&r) {
                w.send(Err(DistError::NoQuorum));
            }
        }
    }
}
