//! The control messages of Erlang's distribution this side reads and writes: each is a tuple
//! whose first element says which, sent before the message it carries, if any.

use actors::etf::{Atom, ErlPid, ErlRef, Term};

/// A process named in a monitor: by pid, or by registered name on the receiving node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Proc {
    Pid(ErlPid),
    Name(Atom),
}

impl Proc {
    fn of(term: &Term) -> Option<Proc> {
        match term {
            Term::Pid(p) => Some(Proc::Pid(p.clone())),
            Term::Atom(a) => Some(Proc::Name(a.clone())),
            _ => None,
        }
    }

    fn term(&self) -> Term {
        match self {
            Proc::Pid(p) => Term::Pid(p.clone()),
            Proc::Name(a) => Term::Atom(a.clone()),
        }
    }
}

/// One control message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Control {
    /// `{1, From, To}`
    Link { from: ErlPid, to: ErlPid },
    /// `{2, Unused, To}` + message
    Send { to: ErlPid },
    /// `{3, From, To, Reason}`
    Exit {
        from: ErlPid,
        to: ErlPid,
        reason: Term,
    },
    /// `{4, From, To}`
    Unlink { from: ErlPid, to: ErlPid },
    /// `{6, From, Unused, ToName}` + message
    RegSend { from: ErlPid, to: Atom },
    /// `{8, From, To, Reason}`
    Exit2 {
        from: ErlPid,
        to: ErlPid,
        reason: Term,
    },
    /// `{19, From, ToProc, Ref}`
    Monitor {
        from: ErlPid,
        to: Proc,
        reference: ErlRef,
    },
    /// `{20, From, ToProc, Ref}`
    Demonitor {
        from: ErlPid,
        to: Proc,
        reference: ErlRef,
    },
    /// `{21, FromProc, To, Ref, Reason}`
    MonitorExit {
        from: Proc,
        to: ErlPid,
        reference: ErlRef,
        reason: Term,
    },
    /// `{22, From, To}` + message
    SendSender { from: ErlPid, to: ErlPid },
    /// `{33, From, Alias}` + message
    AliasSend { from: ErlPid, alias: ErlRef },
    /// `{35, Id, From, To}`: an unlink the receiver acknowledges (OTP 23 and later).
    UnlinkId { id: u64, from: ErlPid, to: ErlPid },
    /// `{36, Id, From, To}`
    UnlinkIdAck { id: u64, from: ErlPid, to: ErlPid },
    /// `{29, ReqId, From, GroupLeader, {Module, Function, Arity}, OptList}` + argument list,
    /// or `{30, ..., Token}` with a trace token (read, and the token ignored).
    SpawnRequest {
        request: ErlRef,
        from: ErlPid,
        module: Atom,
        function: Atom,
        options: Vec<Term>,
    },
    /// `{31, ReqId, To, Flags, Result}`: the new process's pid, or an error atom. Flags: 1 a
    /// link was set up, 2 a monitor.
    SpawnReply {
        request: ErlRef,
        to: ErlPid,
        flags: u8,
        result: Term,
    },
}

fn pid(t: &Term) -> Option<ErlPid> {
    match t {
        Term::Pid(p) => Some(p.clone()),
        _ => None,
    }
}

fn reference(t: &Term) -> Option<ErlRef> {
    match t {
        Term::Ref(r) => Some(r.clone()),
        _ => None,
    }
}

impl Control {
    /// The node of the process this message says it is from, where it says one: a peer
    /// speaks only for its own processes.
    pub(crate) fn sender_node(&self) -> Option<&Atom> {
        match self {
            Control::Link { from, .. }
            | Control::Exit { from, .. }
            | Control::Unlink { from, .. }
            | Control::RegSend { from, .. }
            | Control::Exit2 { from, .. }
            | Control::Monitor { from, .. }
            | Control::Demonitor { from, .. }
            | Control::SendSender { from, .. }
            | Control::AliasSend { from, .. }
            | Control::UnlinkId { from, .. }
            | Control::UnlinkIdAck { from, .. }
            | Control::SpawnRequest { from, .. } => Some(&from.node),
            Control::MonitorExit {
                from: Proc::Pid(from),
                ..
            } => Some(&from.node),
            Control::MonitorExit { .. } | Control::Send { .. } | Control::SpawnReply { .. } => None,
        }
    }

    /// Reads a control tuple; `None` for one this side does not handle (it is logged and
    /// dropped, never acted on half-way).
    pub(crate) fn parse(term: &Term) -> Option<Control> {
        let items = term.as_tuple()?;
        let op = match items.first()? {
            Term::Int(n) => *n,
            _ => return None,
        };
        let at = |i: usize| items.get(i);
        Some(match (op, items.len()) {
            (1, 3) => Control::Link {
                from: pid(at(1)?)?,
                to: pid(at(2)?)?,
            },
            (2, 3) => Control::Send { to: pid(at(2)?)? },
            (3, 4) => Control::Exit {
                from: pid(at(1)?)?,
                to: pid(at(2)?)?,
                reason: at(3)?.clone(),
            },
            (4, 3) => Control::Unlink {
                from: pid(at(1)?)?,
                to: pid(at(2)?)?,
            },
            (6, 4) => Control::RegSend {
                from: pid(at(1)?)?,
                to: match at(3)? {
                    Term::Atom(a) => a.clone(),
                    _ => return None,
                },
            },
            (8, 4) => Control::Exit2 {
                from: pid(at(1)?)?,
                to: pid(at(2)?)?,
                reason: at(3)?.clone(),
            },
            (19, 4) => Control::Monitor {
                from: pid(at(1)?)?,
                to: Proc::of(at(2)?)?,
                reference: reference(at(3)?)?,
            },
            (20, 4) => Control::Demonitor {
                from: pid(at(1)?)?,
                to: Proc::of(at(2)?)?,
                reference: reference(at(3)?)?,
            },
            (21, 5) => Control::MonitorExit {
                from: Proc::of(at(1)?)?,
                to: pid(at(2)?)?,
                reference: reference(at(3)?)?,
                reason: at(4)?.clone(),
            },
            (22, 3) => Control::SendSender {
                from: pid(at(1)?)?,
                to: pid(at(2)?)?,
            },
            (35, 4) | (36, 4) => {
                let id = match at(1)? {
                    Term::Int(n) => u64::try_from(*n).ok()?,
                    _ => return None,
                };
                let (from, to) = (pid(at(2)?)?, pid(at(3)?)?);
                if op == 35 {
                    Control::UnlinkId { id, from, to }
                } else {
                    Control::UnlinkIdAck { id, from, to }
                }
            }
            (33, 3) => Control::AliasSend {
                from: pid(at(1)?)?,
                alias: reference(at(2)?)?,
            },
            (29, 6) | (30, 7) => {
                let mfa = at(4)?.as_tuple()?;
                let atom = |t: Option<&Term>| match t {
                    Some(Term::Atom(a)) => Some(a.clone()),
                    _ => None,
                };
                Control::SpawnRequest {
                    request: reference(at(1)?)?,
                    from: pid(at(2)?)?,
                    module: atom(mfa.first())?,
                    function: atom(mfa.get(1))?,
                    options: match at(5)? {
                        Term::List(items) => items.clone(),
                        _ => return None,
                    },
                }
            }
            (31, 5) => Control::SpawnReply {
                request: reference(at(1)?)?,
                to: pid(at(2)?)?,
                flags: match at(3)? {
                    Term::Int(n) => u8::try_from(*n).ok()?,
                    _ => return None,
                },
                result: at(4)?.clone(),
            },
            _ => return None,
        })
    }

    /// The control tuple.
    pub(crate) fn term(&self) -> Term {
        let int = |n: i128| Term::Int(n);
        let p = |p: &ErlPid| Term::Pid(p.clone());
        let r = |r: &ErlRef| Term::Ref(r.clone());
        Term::Tuple(match self {
            Control::Link { from, to } => vec![int(1), p(from), p(to)],
            Control::Send { to } => vec![int(2), Term::atom(""), p(to)],
            Control::Exit { from, to, reason } => vec![int(3), p(from), p(to), reason.clone()],
            Control::Unlink { from, to } => vec![int(4), p(from), p(to)],
            Control::RegSend { from, to } => {
                vec![int(6), p(from), Term::atom(""), Term::Atom(to.clone())]
            }
            Control::Exit2 { from, to, reason } => vec![int(8), p(from), p(to), reason.clone()],
            Control::Monitor {
                from,
                to,
                reference,
            } => vec![int(19), p(from), to.term(), r(reference)],
            Control::Demonitor {
                from,
                to,
                reference,
            } => vec![int(20), p(from), to.term(), r(reference)],
            Control::MonitorExit {
                from,
                to,
                reference,
                reason,
            } => {
                vec![int(21), from.term(), p(to), r(reference), reason.clone()]
            }
            Control::SendSender { from, to } => vec![int(22), p(from), p(to)],
            Control::AliasSend { from, alias } => vec![int(33), p(from), r(alias)],
            Control::UnlinkId { id, from, to } => vec![int(35), int(*id as i128), p(from), p(to)],
            Control::UnlinkIdAck { id, from, to } => {
                vec![int(36), int(*id as i128), p(from), p(to)]
            }
            Control::SpawnRequest {
                request,
                from,
                module,
                function,
                options,
            } => vec![
                int(29),
                r(request),
                p(from),
                p(from),
                Term::tuple([
                    Term::Atom(module.clone()),
                    Term::Atom(function.clone()),
                    int(0),
                ]),
                Term::List(options.clone()),
            ],
            Control::SpawnReply {
                request,
                to,
                flags,
                result,
            } => vec![
                int(31),
                r(request),
                p(to),
                int(*flags as i128),
                result.clone(),
            ],
        })
    }
}

/// A whole distribution message: pass-through tag, the control tuple, the message if any,
/// encoded into one buffer.
pub(crate) fn encode(control: &Control, message: Option<&Term>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(PASS_THROUGH);
    actors::etf::encode_into(&control.term(), &mut out);
    if let Some(m) = message {
        actors::etf::encode_into(m, &mut out);
    }
    out
}

/// The first byte of a distribution message without an atom cache header.
pub(crate) const PASS_THROUGH: u8 = 112;

#[cfg(test)]
mod tests {
    use crate::beam::control::{Control, Proc};
    use actors::etf::{Atom, ErlPid, ErlRef, Term};

    fn p(id: u32) -> ErlPid {
        ErlPid {
            node: Atom::from("a@h"),
            id,
            serial: 0,
            creation: 1,
        }
    }

    #[test]
    fn control_messages_round_trip() {
        let r = ErlRef {
            node: Atom::from("a@h"),
            creation: 1,
            ids: vec![1, 2, 3],
        };
        let all = [
            Control::Link {
                from: p(1),
                to: p(2),
            },
            Control::Send { to: p(2) },
            Control::Exit {
                from: p(1),
                to: p(2),
                reason: Term::atom("normal"),
            },
            Control::Unlink {
                from: p(1),
                to: p(2),
            },
            Control::RegSend {
                from: p(1),
                to: Atom::from("counter"),
            },
            Control::Exit2 {
                from: p(1),
                to: p(2),
                reason: Term::atom("kill"),
            },
            Control::Monitor {
                from: p(1),
                to: Proc::Name(Atom::from("x")),
                reference: r.clone(),
            },
            Control::Demonitor {
                from: p(1),
                to: Proc::Pid(p(2)),
                reference: r.clone(),
            },
            Control::MonitorExit {
                from: Proc::Pid(p(2)),
                to: p(1),
                reference: r.clone(),
                reason: Term::atom("noproc"),
            },
            Control::SendSender {
                from: p(1),
                to: p(2),
            },
            Control::UnlinkId {
                id: 7,
                from: p(1),
                to: p(2),
            },
            Control::UnlinkIdAck {
                id: 7,
                from: p(2),
                to: p(1),
            },
            Control::AliasSend {
                from: p(1),
                alias: r.clone(),
            },
            Control::SpawnRequest {
                request: r.clone(),
                from: p(1),
                module: Atom::from("erpc"),
                function: Atom::from("execute_call"),
                options: vec![Term::atom("monitor")],
            },
            Control::SpawnReply {
                request: r,
                to: p(1),
                flags: 2,
                result: Term::Pid(p(3)),
            },
        ];
        for c in all {
            assert_eq!(Control::parse(&c.term()), Some(c.clone()), "{c:?}");
        }
        assert_eq!(
            Control::parse(&Term::tuple([Term::Int(2), Term::Int(0)])),
            None
        );
        assert_eq!(Control::parse(&Term::atom("x")), None);
    }
}
