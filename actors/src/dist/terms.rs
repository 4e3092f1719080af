//! Messages from BEAM nodes to local processes: a request term read into an actor's message,
//! and a call's reply sent back as a term.

use std::sync::Arc;

use serde::Serialize;

use crate::call::ReplyHalf;
use crate::error::{CallError, WireError};
use crate::etf::{Term, encode, from_term, to_term};
use crate::exit::ExitReason;
use crate::kernel::node::Node;
use crate::kernel::seam::{IncomingCall, Responder};
use crate::sync::slot::Slot;

/// `{error, Reason}` for a call that could not be answered.
pub fn error_reply(err: &CallError) -> Term {
    let reason = match err {
        CallError::Timeout => Term::atom("timeout"),
        CallError::NoProc => Term::atom("noproc"),
        CallError::NoConnection => Term::atom("noconnection"),
        CallError::Exited(reason) => Term::tuple([Term::atom("exited"), exit_reason(reason)]),
        CallError::Overloaded => Term::atom("overloaded"),
        CallError::TypeMismatch(m) => Term::tuple([Term::atom("type_mismatch"), Term::binary(m)]),
        CallError::Wire(e) => Term::tuple([Term::atom("bad_request"), Term::binary(e.to_string())]),
        CallError::NoReply => Term::atom("no_reply"),
        CallError::CallingSelf => Term::atom("calling_self"),
    };
    Term::tuple([Term::atom("error"), reason])
}

/// An exit reason as Erlang writes it: `normal`, `shutdown`, `killed`, `noproc`,
/// `noconnection`, `name_conflict`, `{panic, <<"message">>}`, `{error, <<"message">>}`.
pub fn exit_reason(reason: &ExitReason) -> Term {
    match reason {
        // Erlang's own atoms, where the variant's name in snake case would differ.
        ExitReason::NoProc => Term::atom("noproc"),
        ExitReason::NoConnection => Term::atom("noconnection"),
        _ => to_term(reason).unwrap_or_else(|_| Term::binary(reason.to_string())),
    }
}

/// The exit reason an Erlang reason term stands for: the atoms above, `{shutdown, _}` as
/// `Shutdown`, anything else as `Error` with the term written out.
pub fn exit_reason_of(term: &Term) -> ExitReason {
    match term {
        Term::Atom(a) => match a.name() {
            "normal" => ExitReason::Normal,
            "shutdown" => ExitReason::Shutdown,
            "killed" | "kill" => ExitReason::Killed,
            "noproc" => ExitReason::NoProc,
            "noconnection" => ExitReason::NoConnection,
            _ => ExitReason::Error(term.to_string()),
        },
        Term::Tuple(items) if items.len() == 2 && items[0].is_atom("shutdown") => {
            ExitReason::Shutdown
        }
        _ => from_term(term).unwrap_or_else(|_| ExitReason::Error(term.to_string())),
    }
}

/// The reply half of a call from a BEAM node: the reply goes back as a term, an error as
/// `{error, Reason}`. A process that ends without replying sends nothing: the caller's
/// monitor tells it, as it would of an Erlang server.
pub(crate) fn reply_to_term<R: Serialize + Send + 'static>(
    call: &mut Option<IncomingCall>,
) -> Result<ReplyHalf<R>, WireError> {
    let IncomingCall { responder, .. } = call
        .take()
        .ok_or_else(|| WireError::Decode("a reply half can be decoded only from a call".into()))?;
    let slot = Slot::forward(move |result: Option<Result<R, CallError>>| {
        let term = match result {
            Some(Ok(value)) => to_term(&value).unwrap_or_else(|e| {
                error_reply(&CallError::Wire(WireError::Encode(e.to_string())))
            }),
            Some(Err(e)) => error_reply(&e),
            None => return,
        };
        responder.respond(encode(&term));
    });
    Ok(ReplyHalf::new(Arc::new(slot)))
}

/// Delivers a request term from a BEAM node to local process `id`: a call (`responder`
/// given, answered with the encoded reply term) or a cast. A request that fits no handler is
/// an error: answered as `{error, ..}` for a call, returned for the caller to log otherwise.
pub fn deliver_term(
    node: &Node,
    id: u64,
    request: &Term,
    responder: Option<Box<dyn Responder>>,
) -> Result<(), CallError> {
    let fail = |responder: Option<Box<dyn Responder>>, err: CallError| {
        if let Some(r) = responder {
            r.respond(encode(&error_reply(&err)));
        }
        Err(err)
    };
    let Some(cell) = node.inner.procs.get(id) else {
        return fail(responder, CallError::NoProc);
    };
    let is_call = responder.is_some();
    let mut call = responder.map(|responder| IncomingCall {
        responder,
        target: cell.clone(),
    });
    let result = crate::decoding::with_node(node, || cell.deliver_term(request, &mut call));
    match (result, call) {
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(call)) if is_call => fail(
            Some(call.responder),
            WireError::Decode(format!(
                "{request} names a cast handler: use gen_server:cast"
            ))
            .into(),
        ),
        (Ok(()), Some(_)) => Ok(()),
        (Err(e), call) => fail(call.map(|c| c.responder), e.into()),
    }
}

/// The handler name and arguments of a request: `{name, A1, ..}` or `name`.
pub fn request_parts(request: &Term) -> Result<(&str, &[Term]), WireError> {
    match request {
        Term::Atom(a) => Ok((a.name(), &[])),
        Term::Tuple(items) => match items.split_first() {
            Some((Term::Atom(a), args)) => Ok((a.name(), args)),
            _ => Err(not_a_request(request)),
        },
        _ => Err(not_a_request(request)),
    }
}

fn not_a_request(request: &Term) -> WireError {
    WireError::Decode(format!(
        "{request} is not a request: send {{handler, Arg1, ..}} or handler"
    ))
}

/// Fails unless a handler's request carries `arity` arguments.
pub fn expect_arity(handler: &str, args: &[Term], arity: usize) -> Result<(), WireError> {
    if args.len() == arity {
        Ok(())
    } else {
        Err(WireError::Decode(format!(
            "{handler} takes {arity} argument(s), the request has {}",
            args.len()
        )))
    }
}

/// The error of a request naming no handler.
pub fn unknown_request(actor: &str, handler: &str) -> WireError {
    WireError::Decode(format!("{actor} has no handler named {handler}"))
}

/// Reads argument `name` of `handler`.
pub fn arg<'de, T: serde::Deserialize<'de>>(
    handler: &str,
    name: &str,
    term: &'de Term,
) -> Result<T, WireError> {
    from_term(term).map_err(|e| WireError::Decode(format!("{handler}, argument {name}: {e}")))
}

/// What the generated term codecs call.
pub mod generated {
    pub use crate::dist::terms::{arg, expect_arity, request_parts, unknown_request};
}
