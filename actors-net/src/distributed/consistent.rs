//! What a member of a consistent supervisor keeps beside the child table: its part of the
//! replicated log, and the writes made here that await their commit.

use std::collections::BTreeMap;
use std::time::Duration;

use actors::Reply;
use actors::rt::Instant;
use serde::{Deserialize, Serialize};

use super::child::ChildDef;
use super::consensus::{Consensus, KeptLogs};
use super::error::DistError;
use super::table::ChildTable;

/// How long a write waits for its commit before it fails with `NoQuorum`.
const COMMIT_WITHIN: Duration = Duration::from_secs(5);

/// A write to the child set, as the log carries it: made by `by` (node, request), if someone
/// awaits it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Command {
    Put {
        by: Option<(String, u64)>,
        id: String,
        def: Option<ChildDef>,
    },
}

pub(crate) struct Consistent {
    pub(crate) log: Consensus,
    waiting: BTreeMap<u64, (Instant, Reply<Result<(), DistError>>)>,
    next_request: u64,
}

impl Consistent {
    /// The member of `me` among `voters`, on the log its node kept for supervisor `name`.
    pub(crate) fn new(
        node: &actors::Node,
        name: &str,
        voters: &[String],
    ) -> Result<Self, DistError> {
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
            waiting: BTreeMap::new(),
            next_request: 1,
        })
    }

    /// Proposes a write; `reply`, if any, is answered when it commits or fails.
    pub(crate) fn propose(
        &mut self,
        me: &str,
        id: &str,
        def: Option<ChildDef>,
        reply: Option<Reply<Result<(), DistError>>>,
    ) {
        let by = reply.as_ref().map(|_| (me.to_string(), self.next_request));
        let command = Command::Put {
            by,
            id: id.to_string(),
            def,
        };
        let mut bytes = Vec::new();
        if actors::dist::encode(&command, &mut bytes).is_err() || !self.log.propose(bytes) {
            if let Some(reply) = reply {
                reply.send(Err(DistError::NoQuorum));
            }
            return;
        }
        if let Some(reply) = reply {
            self.waiting
                .insert(self.next_request, (actors::rt::now(), reply));
            self.next_request += 1;
        }
    }

    /// Applies committed commands to `table`, in log order, answering the writes made here.
    pub(crate) fn apply(&mut self, me: &str, committed: Vec<Vec<u8>>, table: &mut ChildTable) {
        for bytes in committed {
            let Ok(Command::Put { by, id, def }) = actors::dist::decode_plain::<Command>(&bytes)
            else {
                tracing::error!(
                    "a committed command does not decode: skipped on every member alike"
                );
                continue;
            };
            // Every member applies the same writes in the same order: the same table.
            let result = table
                .write("log", &id, def)
                .map(|_| ())
                .map_err(|_| DistError::Full(0));
            if let Some((node, request)) = by
                && node == me
                && let Some((_, reply)) = self.waiting.remove(&request)
            {
                reply.send(result);
            }
        }
    }

    /// Fails the writes that waited too long for a commit.
    pub(crate) fn expire(&mut self, now: Instant) {
        let late: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(_, (at, _))| now.duration_since(*at) > COMMIT_WITHIN)
            .map(|(r, _)| *r)
            .collect();
        for r in late {
            if let Some((_, reply)) = self.waiting.remove(&r) {
                reply.send(Err(DistError::NoQuorum));
            }
        }
    }
}
