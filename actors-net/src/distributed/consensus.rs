//! The replicated log of a consistent supervisor: TiKV's Raft (`raft`), driven by its member.
//!
//! Raft decides the order of the writes to the child set; this module adds a leader lease on
//! top, so that the leader runs the children only while no other member can have been elected:
//!
//! - Each heartbeat the leader sends carries a sequence number in its context, which a
//!   follower echoes; an echo of the heartbeat sent at `s` proves that follower heard the
//!   leader at or after `s`, and with `check_quorum` it then grants no vote before `s` plus an
//!   election timeout, by its own clock.
//! - The leader holds the lease until the send time that a majority (itself counted at now)
//!   has echoed, plus `LEASE`, half an election timeout: it stops its children by then, well
//!   before any other member can win an election.
//! - A new leader waits one `LEASE` before it starts them, which covers ticks and clock drift
//!   on top of that margin.
//!
//! Storage is in memory and kept by the node (not the member process), so a member that
//! crashes and restarts keeps its vote and log; a node that restarts comes back under a new
//! name (`name@host:0`) and is not a voter.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use actors::rt::Instant;
use protobuf::Message as _;
use raft::prelude::{ConfState, Entry, EntryType, Message, MessageType};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};

/// One tick of Raft's clock, on average.
const TICK: Duration = Duration::from_millis(50);
const HEARTBEAT_TICKS: usize = 2;
const ELECTION_TICKS: usize = 10;
/// The wait before the next tick: `TICK` give or take a fifth, drawn from the runtime's
/// (seeded, in a simulation) randomness. An election timeout is so at least eight tenths of
/// its nominal length, still well past `LEASE`.
pub(crate) fn tick_interval() -> Duration {
    let mut b = [0u8; 1];
    let _ = actors::dist::rt::fill_random(&mut b);
    TICK.mul_f64(0.8 + 0.4 * f64::from(b[0]) / 255.0)
}

/// How long an echoed heartbeat keeps the lease: half of the election timeout.
pub(crate) const LEASE: Duration = Duration::from_millis(50 * ELECTION_TICKS as u64 / 2);
/// Heartbeats whose echo is awaited, at most (older ones are forgotten).
const HEARTBEATS_KEPT: usize = 64;

/// What a step of the log produced: messages to send, by the voter's node name, and the
/// commands committed, in order.
#[derive(Default)]
pub(crate) struct Output {
    pub(crate) messages: Vec<(String, Vec<u8>)>,
    pub(crate) committed: Vec<Vec<u8>>,
}

pub(crate) struct Consensus {
    raft: RawNode<MemStorage>,
    /// Voter ids (1-based, in name order) and their node names.
    names: BTreeMap<u64, String>,
    /// Heartbeats sent: sequence number, to which voter, and when.
    sent: VecDeque<(u64, u64, Instant)>,
    next_seq: u64,
    /// The send time of the latest heartbeat each voter echoed.
    echoed: BTreeMap<u64, Instant>,
    /// When this member last became leader.
    leader_since: Option<Instant>,
}

impl actors::dist::Extension for KeptLogs {}

/// The logs of the consistent supervisors of one node, by supervisor name.
#[derive(Default)]
pub(crate) struct KeptLogs(pub(crate) std::sync::Mutex<BTreeMap<String, MemStorage>>);

impl Consensus {
    /// The member of node `me` among `voters` (node names, sorted), on `storage`, which is
    /// new ([`Consensus::storage_for`]) or kept from an earlier run of this member.
    pub(crate) fn new(me: &str, voters: &[String], storage: MemStorage) -> Result<Self, String> {
        let names: BTreeMap<u64, String> = voters
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u64 + 1, n.clone()))
            .collect();
        let id = names
            .iter()
            .find(|(_, n)| n.as_str() == me)
            .map(|(id, _)| *id)
            .ok_or_else(|| format!("{me} is not among the voters {voters:?}"))?;
        let config = Config {
            id,
            election_tick: ELECTION_TICKS,
            heartbeat_tick: HEARTBEAT_TICKS,
            // Raft draws its election timeout from a thread RNG no simulation can seed: it is
            // fixed here, and each member's ticks come at seeded random intervals instead
            // (`tick_interval`), which spreads elections as well and replays the same.
            min_election_tick: ELECTION_TICKS,
            max_election_tick: ELECTION_TICKS + 1,
            check_quorum: true,
            pre_vote: true,
            ..Default::default()
        };
        config.validate().map_err(|e| e.to_string())?;
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raft = RawNode::new(&config, storage, &logger).map_err(|e| e.to_string())?;
        Ok(Consensus {
            raft,
            names,
            sent: VecDeque::new(),
            next_seq: 1,
            echoed: BTreeMap::new(),
            leader_since: None,
        })
    }

    /// A new log whose configuration is `voters` (sorted), as every voter starts it.
    pub(crate) fn storage_for(voters: &[String]) -> MemStorage {
        let ids: Vec<u64> = (1..=voters.len() as u64).collect();
        MemStorage::new_with_conf_state(ConfState::from((ids, vec![])))
    }

    pub(crate) fn tick(&mut self) {
        self.raft.tick();
    }

    /// A message from the member on node `from`.
    pub(crate) fn step(&mut self, from: &str, bytes: &[u8]) -> Result<(), String> {
        let msg = Message::parse_from_bytes(bytes).map_err(|e| e.to_string())?;
        // A peer speaks only for itself, and to this voter.
        if self.names.get(&msg.from).map(String::as_str) != Some(from) {
            return Err(format!("{from} sent a message as voter {}", msg.from));
        }
        if msg.to != self.raft.raft.id {
            return Err(format!("{from} sent a message meant for voter {}", msg.to));
        }
        // An echo counts only for the heartbeat sent to its sender: a voter cannot vouch
        // for one it did not receive.
        if msg.get_msg_type() == MessageType::MsgHeartbeatResponse
            && let Ok(seq) = <[u8; 8]>::try_from(&msg.context[..])
        {
            let seq = u64::from_le_bytes(seq);
            if let Some((_, _, at)) = self
                .sent
                .iter()
                .find(|(s, to, _)| *s == seq && *to == msg.from)
            {
                let e = self.echoed.entry(msg.from).or_insert(*at);
                *e = (*e).max(*at);
            }
        }
        self.raft.step(msg).map_err(|e| e.to_string())
    }

    /// Proposes a command: false if this member knows no leader to take it.
    pub(crate) fn propose(&mut self, command: Vec<u8>) -> bool {
        self.raft.raft.leader_id != raft::INVALID_ID && self.raft.propose(vec![], command).is_ok()
    }

    /// The log's current term: a leader's is above every earlier leader's.
    pub(crate) fn term(&self) -> u64 {
        self.raft.raft.term
    }

    pub(crate) fn is_leader(&self) -> bool {
        self.raft.raft.state == StateRole::Leader
    }

    /// The node of the leader this member knows of.
    pub(crate) fn leader(&self) -> Option<&str> {
        self.names
            .get(&self.raft.raft.leader_id)
            .map(String::as_str)
    }

    /// True while this member is leader, has been for a `LEASE`, and a majority echoed a
    /// heartbeat recent enough: no other member can be leader now.
    pub(crate) fn holds_lease(&self, now: Instant) -> bool {
        let Some(since) = self.leader_since.filter(|_| self.is_leader()) else {
            return false;
        };
        if now.duration_since(since) < LEASE {
            return false;
        }
        let me = self.raft.raft.id;
        let mut times: Vec<Instant> = self
            .names
            .keys()
            .filter_map(|id| {
                if *id == me {
                    Some(now)
                } else {
                    self.echoed.get(id).copied()
                }
            })
            .collect();
        times.sort_unstable_by(|a, b| b.cmp(a));
        let majority = self.names.len() / 2 + 1;
        times
            .get(majority - 1)
            .is_some_and(|t| now.duration_since(*t) < LEASE)
    }

    /// What the log has for the member to do: messages and committed commands.
    pub(crate) fn ready(&mut self, now: Instant) -> Output {
        let mut out = Output::default();
        self.note_role(now);
        if !self.raft.has_ready() {
            return out;
        }
        let mut ready = self.raft.ready();
        let mut messages = ready.take_messages();
        if !ready.snapshot().is_empty() {
            let snap = ready.snapshot().clone();
            let _ = self.raft.store().wl().apply_snapshot(snap);
        }
        take_committed(ready.take_committed_entries(), &mut out);
        if !ready.entries().is_empty() {
            let _ = self.raft.store().wl().append(ready.entries());
        }
        if let Some(hs) = ready.hs() {
            self.raft.store().wl().set_hardstate(hs.clone());
        }
        messages.extend(ready.take_persisted_messages());
        let mut light = self.raft.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.raft.store().wl().mut_hard_state().set_commit(commit);
        }
        messages.extend(light.take_messages());
        take_committed(light.take_committed_entries(), &mut out);
        self.raft.advance_apply();
        self.note_role(now);
        for mut msg in messages {
            if msg.get_msg_type() == MessageType::MsgHeartbeat && msg.context.is_empty() {
                let seq = self.next_seq;
                self.next_seq += 1;
                msg.context = seq.to_le_bytes().to_vec().into();
                self.sent.push_back((seq, msg.to, now));
                while self.sent.len() > HEARTBEATS_KEPT {
                    self.sent.pop_front();
                }
            }
            if let (Some(to), Ok(bytes)) = (self.names.get(&msg.to), msg.write_to_bytes()) {
                out.messages.push((to.clone(), bytes));
            }
        }
        out
    }

    /// Notes when this member became leader; forgets it when it is not.
    fn note_role(&mut self, now: Instant) {
        match (self.is_leader(), self.leader_since) {
            (true, None) => {
                self.leader_since = Some(now);
                self.echoed.clear();
            }
            (false, Some(_)) => self.leader_since = None,
            _ => {}
        }
    }

    /// The voters' node names.
    pub(crate) fn voters(&self) -> impl Iterator<Item = &String> {
        self.names.values()
    }
}

fn take_committed(entries: Vec<Entry>, out: &mut Output) {
    for e in entries {
        if e.get_entry_type() == EntryType::EntryNormal && !e.data.is_empty() {
            out.committed.push(e.data.to_vec());
        }
    }
}
