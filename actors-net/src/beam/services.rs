//! What BEAM tools ask of any node, answered here by name: `net_kernel` (`net_adm:ping`),
//! `rex` (`rpc` as OTP 22 and earlier spoke it, and `rpc:block_call`). Requests these names
//! do not know are dropped, as a BEAM node's server would log and ignore them. And what `sys`
//! asks of any process: its state and status.

use std::sync::Arc;

use actors::dist::Responder;
use actors::etf::{self, Atom, ErlPid, Term};

use super::conn::Conn;
use super::reply::{GenReply, GenRequest};
use super::state::Inner;

impl Inner {
    /// Whether a built-in service goes by registered name `name`.
    pub(crate) fn is_service(&self, name: &Atom) -> bool {
        match name.name() {
            "net_kernel" | "rex" => true,
            super::global::SERVER => self.global.get().is_some(),
            _ => false,
        }
    }

    /// Answers a `gen_server:call` from `conn`'s peer with `reply`.
    pub(crate) fn gen_reply(
        &self,
        conn: &Arc<Conn>,
        server: ErlPid,
        to: &ErlPid,
        tag: &Term,
        reply: &Term,
    ) {
        let answer = GenReply {
            conn: Arc::downgrade(conn),
            server,
            to: to.clone(),
            tag: tag.clone(),
        };
        Box::new(answer).respond(etf::encode(reply));
    }

    /// A message to registered name `to` that a built-in service answers; false if no
    /// service goes by that name.
    pub(crate) fn service(&self, conn: &Arc<Conn>, to: &Atom, message: &Term) -> bool {
        match to.name() {
            "net_kernel" => {
                // `net_adm:ping/1` asks `{is_auth, Node}` and takes `yes` for `pong`.
                if let Some(GenRequest::Call { from, tag, request }) = GenRequest::of(message)
                    && request
                        .as_tuple()
                        .is_some_and(|r| r.first().is_some_and(|a| a.is_atom("is_auth")))
                {
                    self.gen_reply(conn, self.caller(), from, tag, &Term::atom("yes"));
                }
                true
            }
            "rex" => {
                self.rex(conn, message);
                true
            }
            super::global::SERVER => match self.global.get() {
                Some(global) => {
                    global.message(conn, message);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// `rpc`'s server: `{call, M, F, A, GroupLeader}` and `{block_call, ..}` answered with
    /// the result or `{badrpc, Reason}`; `{cast, M, F, A, GroupLeader}` run unanswered.
    fn rex(&self, conn: &Arc<Conn>, message: &Term) {
        let Some(request) = GenRequest::of(message) else {
            return;
        };
        let (call, reply_to) = match request {
            GenRequest::Call { from, tag, request } => (request, Some((from.clone(), tag.clone()))),
            GenRequest::Cast(request) => (request, None),
        };
        let Some(
            [
                kind,
                Term::Atom(module),
                Term::Atom(function),
                Term::List(args),
                _,
            ],
        ) = call.as_tuple()
        else {
            return;
        };
        if !matches!(kind.as_atom(), Some("call" | "block_call" | "cast")) {
            return;
        }
        let (Some(inner), Some(node)) = (self.this.upgrade(), self.node()) else {
            return;
        };
        let conn = conn.clone();
        let (module, function, args) = (module.clone(), function.clone(), args.clone());
        actors::rt::spawn(async move {
            let result = match inner.functions.apply(&node, &module, &function, args).await {
                Ok(value) => value,
                Err(e) => e.badrpc(),
            };
            if let Some((to, tag)) = reply_to {
                inner.gen_reply(&conn, inner.caller(), &to, &tag, &result);
            }
        });
    }
}

/// `{system, {From, Tag}, Request}`, as `sys` sends it to a process.
pub(crate) fn system_request(message: &Term) -> Option<(&ErlPid, &Term, &Term)> {
    match message.as_tuple()? {
        [label, from, request] if label.is_atom("system") => match from.as_tuple()? {
            [Term::Pid(from), tag] => Some((from, tag, request)),
            _ => None,
        },
        _ => None,
    }
}

/// A charlist, as Erlang's strings are.
fn charlist(text: &str) -> Term {
    Term::List(text.chars().map(|c| Term::Int(c as i128)).collect())
}

impl Inner {
    /// A `sys` request to local process `id`: `get_state` and `get_status` are answered from
    /// what the process shows of its state; `suspend`, `resume`, `replace_state` and the rest
    /// with `{error, {not_supported, Request}}`, since a Rust process is not suspended
    /// between its messages. A process that has ended answers nothing (the caller's monitor
    /// tells it).
    pub(crate) fn system(
        &self,
        conn: &Arc<Conn>,
        id: u64,
        from: &ErlPid,
        tag: &Term,
        request: &Term,
    ) {
        let (Some(node), Some(inner)) = (self.node(), self.this.upgrade()) else {
            return;
        };
        let (conn, from, tag, request) = (conn.clone(), from.clone(), tag.clone(), request.clone());
        actors::rt::spawn(async move {
            let pid = actors::dist::pid_of(&node, id);
            let server = inner.erl_pid(id);
            let reply = match request.as_atom() {
                Some("get_state") => match actors::dist::shown_state(&pid).await {
                    Some(shown) => state_term(shown),
                    None => return,
                },
                Some("get_status") => {
                    let (Some(shown), Some(info)) = (
                        actors::dist::shown_state(&pid).await,
                        node.process_info(pid.clone()).await,
                    ) else {
                        return;
                    };
                    let parent = info
                        .parent
                        .as_ref()
                        .and_then(|p| inner.erl_pid_of(p))
                        .unwrap_or_else(|| server.clone());
                    let name = info.name.unwrap_or_else(|| pid.logged().to_string());
                    let misc = Term::List(vec![
                        Term::tuple([
                            Term::atom("header"),
                            charlist(&format!("Status for Rust process {name}")),
                        ]),
                        Term::tuple([
                            Term::atom("data"),
                            Term::List(vec![
                                Term::tuple([charlist("Status"), Term::atom("running")]),
                                Term::tuple([charlist("Parent"), Term::Pid(parent.clone())]),
                                Term::tuple([charlist("Actor"), Term::binary(&info.actor)]),
                                Term::tuple([
                                    charlist("Messages handled"),
                                    Term::Int(info.messages_handled as i128),
                                ]),
                            ]),
                        ]),
                        Term::tuple([
                            Term::atom("data"),
                            Term::List(vec![Term::tuple([charlist("State"), state_term(shown)])]),
                        ]),
                    ]);
                    Term::tuple([
                        Term::atom("status"),
                        Term::Pid(server.clone()),
                        Term::tuple([Term::atom("module"), Term::atom("gen_server")]),
                        Term::List(vec![
                            Term::List(Vec::new()),
                            Term::atom("running"),
                            Term::Pid(parent),
                            Term::List(Vec::new()),
                            misc,
                        ]),
                    ])
                }
                _ => Term::tuple([
                    Term::atom("error"),
                    Term::tuple([Term::atom("not_supported"), request.clone()]),
                ]),
            };
            inner.gen_reply(&conn, server, &from, &tag, &reply);
        });
    }
}

/// The state as `sys:get_state` answers it: the term, the `Debug` text as a binary, or a
/// tuple saying how the actor would show it.
fn state_term(shown: actors::dist::ShownState) -> Term {
    match shown {
        actors::dist::ShownState::Term(term) => term,
        actors::dist::ShownState::Text(text) => Term::binary(text),
        _ => Term::tuple([
            Term::atom("state_not_shown"),
            Term::binary("the actor shows its state with #[actor(debug)]"),
        ]),
    }
}
