//! Spawn requests from BEAM nodes (`SPAWN_REQUEST`): what `erpc:call`, `erpc:cast`,
//! `rpc:call` (OTP 23 and later) and `spawn(Node, M, F, A)` send. Each runs a registered
//! Rust function in a process of its own, whose pid the requester gets back; the requester
//! learns the outcome as it would from a BEAM node, through the monitor or link it asked for.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use actors::etf::{Atom, ErlPid, ErlRef, Term};
use actors::{ExitReason, actor};

use super::conn::Conn;
use super::control::{self, Control, Proc};
use super::functions::Exception;
use super::state::Inner;

/// The process a spawn request runs in: it stands for the function while it runs (BEAM
/// processes may monitor, link to or kill it) and ends when the function does.
#[actor(name = "actors_net.beam.Spawned")]
pub(crate) struct Spawned;

#[actor(local)]
impl Spawned {}

/// What a spawn request asked to be told.
#[derive(Clone, Copy, Default)]
struct Ties {
    link: bool,
    monitor: bool,
}

impl Ties {
    fn of(options: &[Term]) -> Ties {
        let mut ties = Ties::default();
        for o in options {
            let name = match o {
                Term::Atom(a) => a.name(),
                Term::Tuple(items) => items.first().and_then(Term::as_atom).unwrap_or(""),
                _ => "",
            };
            ties.link |= name == "link";
            ties.monitor |= name == "monitor";
        }
        ties
    }

    fn flags(self) -> u8 {
        u8::from(self.link) | u8::from(self.monitor) << 1
    }
}

/// What a request runs, read from its module, function and arguments.
enum Job {
    /// `erpc:execute_call(Ref, M, F, A)`: ends with `{Ref, return, Result}` or the exception.
    Call {
        reference: Term,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    },
    /// `erpc:execute_cast(M, F, A)`: ends `normal`, its result dropped.
    Cast {
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    },
    /// `M:F(A..)` itself, as `spawn(Node, M, F, A)`: ends `normal`, or with the exception.
    Apply {
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    },
}

fn atom(t: &Term) -> Option<Atom> {
    match t {
        Term::Atom(a) => Some(a.clone()),
        _ => None,
    }
}

fn list(t: &Term) -> Option<Vec<Term>> {
    match t {
        Term::List(items) => Some(items.clone()),
        _ => None,
    }
}

impl Job {
    fn of(module: Atom, function: Atom, args: Vec<Term>) -> Job {
        match (module.name(), function.name(), args.as_slice()) {
            ("erpc", "execute_call", [reference, m, f, a]) => {
                if let (Some(module), Some(function), Some(args)) = (atom(m), atom(f), list(a)) {
                    return Job::Call {
                        reference: reference.clone(),
                        module,
                        function,
                        args,
                    };
                }
            }
            ("erpc", "execute_cast", [m, f, a]) => {
                if let (Some(module), Some(function), Some(args)) = (atom(m), atom(f), list(a)) {
                    return Job::Cast {
                        module,
                        function,
                        args,
                    };
                }
            }
            _ => {}
        }
        Job::Apply {
            module,
            function,
            args,
        }
    }

    /// Runs the job: the exit reason of the process that ran it.
    async fn run(self, inner: &Inner, node: &actors::Node) -> Term {
        match self {
            Job::Call {
                reference,
                module,
                function,
                args,
            } => match inner.functions.apply(node, &module, &function, args).await {
                Ok(value) => Term::tuple([reference, Term::atom("return"), value]),
                Err(e) => e.erpc_reason(&reference),
            },
            Job::Cast {
                module,
                function,
                args,
            } => {
                if let Err(e) = inner.functions.apply(node, &module, &function, args).await {
                    log_failure(inner, &module, &function, &e);
                }
                Term::atom("normal")
            }
            Job::Apply {
                module,
                function,
                args,
            } => match inner.functions.apply(node, &module, &function, args).await {
                Ok(_) => Term::atom("normal"),
                Err(e) => {
                    log_failure(inner, &module, &function, &e);
                    e.exit_reason()
                }
            },
        }
    }
}

fn log_failure(inner: &Inner, module: &Atom, function: &Atom, e: &Exception) {
    tracing::warn!(node = %inner.me, "{module}:{function} called from a BEAM node failed: {}", e.exit_reason());
}

impl Inner {
    /// A spawn request from `conn`: answered with the new process's pid (or why there is
    /// none), and, when the job ends, with the monitor's `DOWN` and the link's exit signal
    /// the requester asked for.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn spawn_request(
        &self,
        conn: &Arc<Conn>,
        request: ErlRef,
        from: ErlPid,
        module: Atom,
        function: Atom,
        options: Vec<Term>,
        args: Term,
    ) {
        let ties = Ties::of(&options);
        let refuse = |why: &str| {
            let reply = Control::SpawnReply {
                request: request.clone(),
                to: from.clone(),
                flags: 0,
                result: Term::atom(why),
            };
            let _ = conn.send(control::encode(&reply, None));
        };
        let (Some(node), Some(inner), Some(args)) = (self.node(), self.this.upgrade(), list(&args))
        else {
            return refuse("badarg");
        };
        if conn.spawned.fetch_add(1, Ordering::AcqRel) >= self.limits.max_spawned_per_peer {
            conn.spawned.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(node = %self.me, peer = %conn.peer.name, "a BEAM node runs too many spawn requests here; this one is refused");
            return refuse("system_limit");
        }
        let job = Job::of(module, function, args);
        let pid = node.spawn(Spawned);
        let erl = self.erl_pid(pid.id());
        let reply = Control::SpawnReply {
            request: request.clone(),
            to: from.clone(),
            flags: ties.flags(),
            result: Term::Pid(erl.clone()),
        };
        let _ = conn.send(control::encode(&reply, None));
        let conn = conn.clone();
        actors::rt::spawn(async move {
            let ended = node.monitor(&pid);
            let reason = futures::select_biased! {
                down = futures::FutureExt::fuse(ended) => actors::dist::exit_reason(&down.reason),
                reason = futures::FutureExt::fuse(job.run(&inner, &node)) => {
                    node.stop(&pid, ExitReason::Normal);
                    reason
                }
            };
            conn.spawned.fetch_sub(1, Ordering::AcqRel);
            if ties.monitor {
                let down = Control::MonitorExit {
                    from: Proc::Pid(erl.clone()),
                    to: from.clone(),
                    reference: request,
                    reason: reason.clone(),
                };
                let _ = conn.send(control::encode(&down, None));
            }
            if ties.link {
                let exit = Control::Exit {
                    from: erl,
                    to: from,
                    reason,
                };
                let _ = conn.send(control::encode(&exit, None));
            }
        });
    }
}
