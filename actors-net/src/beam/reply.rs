//! `gen_server` requests from BEAM processes, and the answers to their calls, however the
//! call reached this node: to an actor, a built-in service, or a process's `sys` handling.

use std::sync::Weak;

use actors::dist::Responder;
use actors::etf::{self, ErlPid, Term};

use super::conn::Conn;
use super::control::{self, Control};
use super::handshake::flags;

/// Answers a `gen_server:call` from a BEAM process: `{Tag, Reply}` to the caller, through
/// its alias when the tag names one (OTP 24 and later).
pub(crate) struct GenReply {
    pub(crate) conn: Weak<Conn>,
    pub(crate) server: ErlPid,
    pub(crate) to: ErlPid,
    pub(crate) tag: Term,
}

impl Responder for GenReply {
    fn respond(self: Box<Self>, payload: Vec<u8>) {
        let Some(conn) = self.conn.upgrade() else {
            return;
        };
        let alias = match &self.tag {
            Term::Improper(head, tail) if head.len() == 1 && head[0].is_atom("alias") => {
                match &**tail {
                    Term::Ref(r) => Some(r.clone()),
                    _ => None,
                }
            }
            _ => None,
        };
        let control = match alias {
            Some(alias) if conn.peer.flags & flags::ALIAS != 0 => Control::AliasSend {
                from: self.server,
                alias,
            },
            _ if conn.peer.flags & flags::SEND_SENDER != 0 => Control::SendSender {
                from: self.server,
                to: self.to,
            },
            _ => Control::Send { to: self.to },
        };
        // `{Tag, Reply}` spliced behind the control from the encoded reply, in one buffer,
        // without decoding the reply again.
        let mut packet = control::encode(&control, None);
        packet.extend_from_slice(&[etf::VERSION, 104, 2]);
        let tag = packet.len();
        etf::encode_into(&self.tag, &mut packet);
        packet.remove(tag); // the tag's own version byte: it sits inside the tuple
        packet.extend_from_slice(payload.get(1..).unwrap_or_default());
        let _ = conn.send(packet);
    }
}

/// A `gen_server` request: `{'$gen_call', {From, Tag}, Request}` or `{'$gen_cast', Request}`.
pub(crate) enum GenRequest<'a> {
    Call {
        from: &'a ErlPid,
        tag: &'a Term,
        request: &'a Term,
    },
    Cast(&'a Term),
}

impl<'a> GenRequest<'a> {
    pub(crate) fn of(message: &'a Term) -> Option<GenRequest<'a>> {
        match message.as_tuple()? {
            [label, from, request] if label.is_atom("$gen_call") => match from.as_tuple()? {
                [Term::Pid(from), tag] => Some(GenRequest::Call { from, tag, request }),
                _ => None,
            },
            [label, request] if label.is_atom("$gen_cast") => Some(GenRequest::Cast(request)),
            _ => None,
        }
    }
}
