//! Requests as Erlang terms: what a BEAM node's `gen_server:call` and `gen_server:cast` reach.

use std::time::Duration;

use actors::dist::Responder;
use actors::dist::deliver_term;
use actors::etf::{Term, decode};
use actors::prelude::*;
use actors::rt::block_on;
use futures::channel::oneshot;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Mode {
    Fast,
    CarefulMode,
}

#[actor]
struct Store {
    items: Vec<(String, u32)>,
    mode: Mode,
}

#[actor]
impl Store {
    #[handle]
    fn put(&mut self, key: String, n: u32) -> usize {
        self.items.push((key, n));
        self.items.len()
    }
    #[handle]
    fn items(&self) -> Vec<(String, u32)> {
        self.items.clone()
    }
    #[handle]
    fn mode(&self) -> Mode {
        self.mode.clone()
    }
    #[handle(cast)]
    fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }
    #[handle]
    fn later(&self, reply: Reply<u8>) {
        drop(reply);
    }
}

struct Catch(oneshot::Sender<Term>);

impl Responder for Catch {
    fn respond(self: Box<Self>, payload: Vec<u8>) {
        let _ = self.0.send(decode(&payload).expect("the reply is a term"));
    }
}

fn call(node: &Node, pid: &Pid<Store>, request: Term) -> Term {
    let (tx, rx) = oneshot::channel();
    let _ = deliver_term(node, pid.id(), &request, Some(Box::new(Catch(tx))));
    block_on(async {
        actors::rt::timeout(Duration::from_secs(5), rx)
            .await
            .expect("a reply within 5 s")
            .expect("a reply")
    })
}

fn atom(a: &str) -> Term {
    Term::atom(a)
}

#[test]
fn a_request_term_reaches_its_handler_and_the_reply_comes_back_as_a_term() {
    let node = Node::local();
    let store = node.spawn(Store {
        items: vec![],
        mode: Mode::Fast,
    });
    let put = Term::tuple([atom("put"), Term::binary("apples"), Term::Int(3)]);
    assert_eq!(call(&node, &store, put), Term::Int(1));
    // An Erlang string (a charlist) reads as a String too.
    let put = Term::tuple([atom("put"), Term::List(vec![Term::Int(112)]), Term::Int(4)]);
    assert_eq!(call(&node, &store, put), Term::Int(2));
    assert_eq!(
        call(&node, &store, atom("items")),
        Term::List(vec![
            Term::tuple([Term::binary("apples"), Term::Int(3)]),
            Term::tuple([Term::binary("p"), Term::Int(4)]),
        ])
    );
    // A cast: no reply; the enum argument as a snake-case atom.
    deliver_term(
        &node,
        store.id(),
        &Term::tuple([atom("set_mode"), atom("careful_mode")]),
        None,
    )
    .unwrap();
    assert_eq!(call(&node, &store, atom("mode")), atom("careful_mode"));
}

#[test]
fn a_request_that_fits_no_handler_gets_an_error_term_and_the_actor_lives_on() {
    let node = Node::local();
    let store = node.spawn(Store {
        items: vec![],
        mode: Mode::Fast,
    });
    let error = |reply: Term| match reply {
        Term::Tuple(items) if items.len() == 2 && items[0].is_atom("error") => items[1].clone(),
        other => panic!("expected {{error, _}}, got {other}"),
    };
    let bad = |reason: Term| {
        let text = match reason {
            Term::Tuple(items) if items[0].is_atom("bad_request") => items[1].clone(),
            other => panic!("expected {{bad_request, _}}, got {other}"),
        };
        match text {
            Term::Binary(b) => String::from_utf8(b).unwrap(),
            other => panic!("expected a binary, got {other}"),
        }
    };
    let e = bad(error(call(&node, &store, atom("nope"))));
    assert!(e.contains("no handler named nope"), "{e}");
    let e = bad(error(call(
        &node,
        &store,
        Term::tuple([atom("put"), Term::Int(1)]),
    )));
    assert!(e.contains("put takes 2 argument(s)"), "{e}");
    let wrong = Term::tuple([atom("put"), Term::Int(1), Term::Int(2)]);
    let e = bad(error(call(&node, &store, wrong)));
    assert!(e.contains("put, argument key"), "{e}");
    let e = bad(error(call(&node, &store, Term::Int(7))));
    assert!(e.contains("is not a request"), "{e}");
    let e = bad(error(call(
        &node,
        &store,
        Term::tuple([atom("set_mode"), atom("fast")]),
    )));
    assert!(e.contains("cast"), "{e}");
    // A reply dropped unanswered, and a cast that fits nothing: errors, never a crash.
    assert_eq!(error(call(&node, &store, atom("later"))), atom("no_reply"));
    assert!(deliver_term(&node, store.id(), &atom("nope"), None).is_err());
    assert_eq!(call(&node, &store, atom("items")), Term::List(vec![]));
    // A process that is gone: noproc.
    assert_eq!(
        deliver_term(&node, 999_999, &atom("items"), None),
        Err(CallError::NoProc)
    );
}

/// Keeps what fits no handler, as Erlang's `handle_info` does.
#[actor]
struct Inbox {
    seen: Vec<Term>,
    typed: u32,
}

#[actor]
impl Inbox {
    #[handle(cast)]
    fn bump(&mut self) {
        self.typed += 1;
    }
    #[handle(info)]
    fn info(&mut self, message: Term) {
        self.seen.push(message);
    }
    #[handle]
    fn seen(&self) -> (Vec<Term>, u32) {
        (self.seen.clone(), self.typed)
    }
}

#[test]
fn what_fits_no_handler_goes_whole_to_the_info_handler() {
    block_on(async {
        let node = Node::local();
        let inbox = node.spawn(Inbox {
            seen: Vec::new(),
            typed: 0,
        });
        let id = inbox.any().id();
        // A handler's own request goes to it; anything else, whole, to `info`.
        deliver_term(&node, id, &Term::atom("bump"), None).unwrap();
        let pair = Term::tuple([Term::atom("hello"), Term::Int(1)]);
        deliver_term(&node, id, &pair, None).unwrap();
        deliver_term(&node, id, &Term::Int(7), None).unwrap();
        let (seen, typed) = inbox.seen().await.unwrap();
        assert_eq!(typed, 1);
        assert_eq!(seen, vec![pair, Term::Int(7)]);
        // A call that fits no handler is its caller's error, not an info message.
        let (tx, rx) = oneshot::channel();
        let refused = deliver_term(&node, id, &Term::atom("nothing"), Some(Box::new(Catch(tx))));
        assert!(refused.is_err());
        let answer = rx.await.unwrap();
        assert_eq!(answer.as_tuple().unwrap()[0], Term::atom("error"));
        assert_eq!(inbox.seen().await.unwrap().0.len(), 2);
        // Over the wire between Rust nodes, `info` is a cast like any other.
        inbox.info(Term::atom("direct")).unwrap();
        assert_eq!(inbox.seen().await.unwrap().0.len(), 3);
    });
}
