//! Rust functions that BEAM nodes call by module and function name, as they call Erlang
//! functions: `rpc:call(Node, rust, add, [1, 2])`, `erpc:call`, `erpc:cast`,
//! `rpc:multicall`. Only registered functions run; any other module and function is
//! undefined, as on a BEAM node without that code.

use std::collections::HashMap;
use std::sync::Arc;

use actors::etf::{self, Atom, Term};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How a Rust function called from a BEAM node failed: raised on the caller's side as an
/// Erlang exception of the same class, as a failing Erlang function would.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcError {
    /// `error(Reason)`: `rpc:call` answers `{badrpc, {'EXIT', {Reason, Stack}}}`.
    Error(Term),
    /// `exit(Reason)`: `{badrpc, {'EXIT', Reason}}`.
    Exit(Term),
    /// `throw(Value)`: `rpc:call` returns `Value` itself, as Erlang's does.
    Throw(Term),
}

impl RpcError {
    /// `error({rust_error, <<"Message">>})`: a Rust error, told as its text.
    pub fn error(message: impl std::fmt::Display) -> Self {
        RpcError::Error(Term::tuple([
            Term::atom("rust_error"),
            Term::binary(message.to_string()),
        ]))
    }
}

/// The arguments of a registered function, read from the call's argument list: a tuple of
/// as many types as the function's arity (`()`, `(A,)`, `(A, B)`, ... up to eight).
pub trait FnArgs: Sized + Send + 'static {
    /// How many arguments: the function is `Module:Function/ARITY`.
    const ARITY: usize;
    /// Reads the arguments.
    fn read(args: Vec<Term>) -> Result<Self, String>;
}

impl FnArgs for () {
    const ARITY: usize = 0;
    fn read(_: Vec<Term>) -> Result<Self, String> {
        Ok(())
    }
}

macro_rules! fn_args {
    ($n:literal; $($t:ident),+) => {
        impl<$($t: DeserializeOwned + Send + 'static),+> FnArgs for ($($t,)+) {
            const ARITY: usize = $n;
            fn read(args: Vec<Term>) -> Result<Self, String> {
                let tuple = Term::Tuple(args);
                etf::from_term(&tuple).map_err(|e| e.to_string())
            }
        }
    };
}

fn_args!(1; A);
fn_args!(2; A, B);
fn_args!(3; A, B, C);
fn_args!(4; A, B, C, D);
fn_args!(5; A, B, C, D, E);
fn_args!(6; A, B, C, D, E, F);
fn_args!(7; A, B, C, D, E, F, G);
fn_args!(8; A, B, C, D, E, F, G, H);

/// A registered function, type-erased: the arguments in, the result term out.
pub(crate) type Function =
    Arc<dyn Fn(Vec<Term>) -> BoxFuture<'static, Result<Term, RpcError>> + Send + Sync>;

/// Wraps a typed function for the registry.
pub(crate) fn erase<Args, R, Fut>(f: impl Fn(Args) -> Fut + Send + Sync + 'static) -> Function
where
    Args: FnArgs,
    R: Serialize,
    Fut: std::future::Future<Output = Result<R, RpcError>> + Send + 'static,
{
    Arc::new(move |args: Vec<Term>| match Args::read(args) {
        Ok(args) => f(args)
            .map(|result| {
                result.and_then(|value| {
                    etf::to_term(&value)
                        .map_err(|e| RpcError::error(format!("the result cannot be a term: {e}")))
                })
            })
            .boxed(),
        // As a BEAM function called with arguments its clauses do not match.
        Err(e) => {
            let reason = Term::tuple([Term::atom("badarg"), Term::binary(e)]);
            futures::future::ready(Err(RpcError::Error(reason))).boxed()
        }
    })
}

/// The functions a node lets BEAM nodes call, by module, function and arity.
#[derive(Default)]
pub(crate) struct Functions(std::sync::RwLock<HashMap<(Atom, Atom, usize), Function>>);

impl Functions {
    pub(crate) fn register(&self, module: &str, function: &str, arity: usize, f: Function) {
        let key = (Atom::from(module), Atom::from(function), arity);
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, f);
    }

    pub(crate) fn get(&self, module: &Atom, function: &Atom, arity: usize) -> Option<Function> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(module.clone(), function.clone(), arity))
            .cloned()
    }

    /// Runs `module:function(args)`: `Ok(result)`, or the exception it raised, `undef` for a
    /// function not registered, with the stack Erlang gives it.
    pub(crate) async fn apply(
        &self,
        node: &actors::Node,
        module: &Atom,
        function: &Atom,
        args: Vec<Term>,
    ) -> Result<Term, Exception> {
        let arity = args.len();
        let Some(f) = self.get(module, function, arity) else {
            let frame = Term::tuple([
                Term::Atom(module.clone()),
                Term::Atom(function.clone()),
                Term::List(args),
                Term::List(Vec::new()),
            ]);
            return Err(Exception {
                class: Class::Error,
                reason: Term::atom("undef"),
                stack: Term::List(vec![frame]),
            });
        };
        let frame = Term::tuple([
            Term::Atom(module.clone()),
            Term::Atom(function.clone()),
            Term::Int(arity as i128),
            Term::List(Vec::new()),
        ]);
        // Pids among the arguments are bound to this node as they are read.
        let run = actors::dist::reading_on(node, || f(args));
        run.await.map_err(|e| match e {
            RpcError::Error(reason) => Exception {
                class: Class::Error,
                reason,
                stack: Term::List(vec![frame]),
            },
            RpcError::Exit(reason) => Exception {
                class: Class::Exit,
                reason,
                stack: Term::List(Vec::new()),
            },
            RpcError::Throw(reason) => Exception {
                class: Class::Throw,
                reason,
                stack: Term::List(Vec::new()),
            },
        })
    }
}

/// An Erlang exception's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Error,
    Exit,
    Throw,
}

/// An exception a function raised.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exception {
    pub(crate) class: Class,
    pub(crate) reason: Term,
    pub(crate) stack: Term,
}

impl Exception {
    /// The exit reason of a process that ran the function and raised this, uncaught: what
    /// `spawn(Node, M, F, A)` ends with.
    pub(crate) fn exit_reason(&self) -> Term {
        match self.class {
            Class::Exit => self.reason.clone(),
            Class::Error => Term::tuple([self.reason.clone(), self.stack.clone()]),
            Class::Throw => Term::tuple([
                Term::tuple([Term::atom("nocatch"), self.reason.clone()]),
                self.stack.clone(),
            ]),
        }
    }

    /// What `erpc:execute_call(Ref, ..)` exits with when the function raised this.
    pub(crate) fn erpc_reason(&self, reference: &Term) -> Term {
        match self.class {
            Class::Error => Term::tuple([
                reference.clone(),
                Term::atom("error"),
                self.reason.clone(),
                self.stack.clone(),
            ]),
            Class::Exit => {
                Term::tuple([reference.clone(), Term::atom("exit"), self.reason.clone()])
            }
            Class::Throw => {
                Term::tuple([reference.clone(), Term::atom("throw"), self.reason.clone()])
            }
        }
    }

    /// What `rpc` answers through its `rex` server when the function raised this.
    pub(crate) fn badrpc(&self) -> Term {
        match self.class {
            Class::Throw => self.reason.clone(),
            _ => Term::tuple([
                Term::atom("badrpc"),
                Term::tuple([Term::atom("EXIT"), self.exit_reason()]),
            ]),
        }
    }
}
