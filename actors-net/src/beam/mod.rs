//! A Rust node in an Erlang or Elixir cluster: Erlang's own distribution protocol, spoken to
//! BEAM nodes beside this crate's protocol to Rust nodes.
//!
//! A node started with [`NodeBuilder::beam`](crate::NodeBuilder::beam) registers its BEAM
//! name with EPMD (starting one in the process when none runs) and accepts BEAM nodes. Their
//! `gen_server:call({Name, 'rust@host'}, {handler, Arg1, ..})` reaches the handler of the
//! actor registered as `Name`, and the reply goes back as a term (see [`actors::etf`] for how
//! Rust types and terms map); `gen_server:cast` reaches a cast handler, and so does a plain
//! message of that shape. [`Beam`] calls the other way.
//!
//! ```no_run
//! use actors_net::prelude::*;
//! use actors_net::beam::BeamDest;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::builder("rust@127.0.0.1:0")
//!     .cookie("secret")
//!     .beam("rust@localhost")
//!     .start()
//!     .await?;
//! let beam = node.beam()?;
//! // An Erlang gen_server registered as `kv` on node 'a@localhost':
//! let old: Option<String> = beam
//!     .call(BeamDest::name("kv", "a@localhost"), &("put", "k", "v"))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! What is spoken, and what is refused, is in `docs/design-notes.md` ("BEAM nodes").

mod calls;
mod conn;
mod control;
mod dest;
mod epmd;
mod error;
mod functions;
mod global;
mod groups;
mod handshake;
mod inbox;
mod packet;
mod peers;
mod reply;
mod services;
mod spawn;
mod state;
mod ties;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::Node;
use actors::etf::{self, ErlPid, Term};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use dest::{BeamDest, BeamNodeEvent};
pub use error::{BeamError, BeamStartError};
pub use functions::{FnArgs, RpcError};
pub use handshake::BeamHandshakeError;

use conn::Timing;
use state::{Inner, Limits, Monitors, lock};

use crate::config::BeamConfig;
use crate::transport::{Tcp, Transport};

/// The BEAM side of a node: [`BeamNode::beam`].
#[derive(Clone)]
pub struct Beam(Arc<Inner>);

/// How long a call waits by default, as `gen_server:call`.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

impl Beam {
    /// This node's name among BEAM nodes, `name@host`.
    pub fn name(&self) -> &str {
        self.0.me.name()
    }

    /// The port BEAM nodes connect to; EPMD tells them.
    pub fn port(&self) -> u16 {
        self.0.port
    }

    /// The port of the EPMD this node registered with: the one BEAM nodes must use
    /// (`ERL_EPMD_PORT`) to find it, if it is not the default.
    pub fn epmd_port(&self) -> u16 {
        self.0.epmd_port
    }

    /// The BEAM nodes connected now, sorted.
    pub fn nodes(&self) -> Vec<String> {
        self.0.nodes()
    }

    /// BEAM nodes connecting and disconnecting, from now on, as Erlang's `monitor_node`
    /// (a `Down` for each connection that goes, an `Up` for each that comes).
    pub fn monitor_nodes(&self) -> futures::channel::mpsc::UnboundedReceiver<BeamNodeEvent> {
        self.0.subscribe()
    }

    /// Connects to BEAM node `node` (`name@host`), found through its host's EPMD. Calls and
    /// sends connect by themselves; this waits for the connection.
    pub async fn connect(&self, node: &str) -> Result<(), BeamError> {
        self.0.connect(node).await.map(drop)
    }

    /// Closes the connection to `node`; false if there was none.
    pub fn disconnect(&self, node: &str) -> bool {
        match self.0.conn(node) {
            Some(conn) => {
                conn.close();
                true
            }
            None => false,
        }
    }

    /// The Erlang pid of a local process (hand it to a BEAM process in a message, and it can
    /// call, monitor, link to or send to it), or of a BEAM process.
    pub fn erl_pid(&self, pid: &actors::AnyPid) -> Option<ErlPid> {
        self.0.erl_pid_of(pid)
    }

    /// A BEAM process as a pid here: monitor it, link to it, or send it an exit signal as any
    /// other process (`ctx.monitor(&pid)`, `ctx.link(&pid)`, `node.exit(&pid, reason)`); its
    /// `Down` and `Exit` carry Erlang's reason (`normal`, `noproc`, `noconnection`, or
    /// another term as `ExitReason::Error`).
    pub fn pid(&self, pid: &ErlPid) -> Option<actors::AnyPid> {
        self.0.any_pid(pid)
    }

    /// Lets BEAM nodes call `module:function/N` (`N` is the arity of `Args`, a tuple), as
    /// they call an Erlang function: `rpc:call(Node, rust, add, [1, 2])`, `erpc:call`,
    /// `erpc:cast`, `rpc:multicall`, `spawn(Node, rust, add, [1, 2])`. The arguments are read
    /// from their terms as the handlers' are (see [`actors::etf`]); an `Err` is raised on the
    /// caller's side as the exception it names. Any function not registered is undefined:
    /// `{badrpc, {'EXIT', {undef, ..}}}`, as Erlang answers.
    ///
    /// ```no_run
    /// # use actors_net::prelude::*;
    /// # use actors_net::beam::RpcError;
    /// # fn demo(node: &Node) -> Result<(), actors_net::beam::BeamError> {
    /// node.beam()?.register_fn("rust", "add", |(a, b): (i64, i64)| async move {
    ///     Ok::<_, RpcError>(a + b)                 // rpc:call(N, rust, add, [1, 2]) -> 3
    /// });
    /// # Ok(()) }
    /// ```
    pub fn register_fn<Args, R, Fut>(
        &self,
        module: &str,
        function: &str,
        f: impl Fn(Args) -> Fut + Send + Sync + 'static,
    ) where
        Args: FnArgs,
        R: Serialize,
        Fut: std::future::Future<Output = Result<R, RpcError>> + Send + 'static,
    {
        self.0
            .functions
            .register(module, function, Args::ARITY, functions::erase(f));
    }

    /// The `pg` scope shared with BEAM nodes (OTP's default scope, `pg`).
    pub fn groups(&self) -> Result<BeamGroups, BeamError> {
        let node = self.0.node().ok_or(BeamError::NoProc)?;
        let scope = node.whereis(groups::SCOPE).ok_or(BeamError::NoProc)?;
        Ok(BeamGroups { scope })
    }

    /// The `pg` scope `name` shared with BEAM nodes, as `pg:start_link(Name)` starts one
    /// there (Phoenix.PubSub and other libraries use scopes of their own): started here at
    /// its first use, under the node's system supervisor, registered as `name`.
    pub async fn scope(&self, name: &str) -> Result<BeamGroups, BeamError> {
        let node = self.0.node().ok_or(BeamError::NoProc)?;
        let found = |node: &Node| match node.whereis_any(name) {
            Some(pid) => pid
                .downcast::<groups::PgScope>()
                .map(|scope| BeamGroups { scope })
                .ok_or_else(|| BeamError::BadName(format!("{name} names another process here"))),
            None => Err(BeamError::NoProc),
        };
        match found(&node) {
            Err(BeamError::NoProc) => {}
            other => return other,
        }
        let spec = groups::spec(&node, name).ok_or(BeamError::NotEnabled)?;
        // Two first uses at once: one starts it, and both find it.
        let _ = crate::system::add(&node, spec).await;
        found(&node)
    }

    /// `gen_server:call(To, Request)` with the default timeout of 5 s; the reply read as `R`.
    pub async fn call<R: DeserializeOwned>(
        &self,
        to: impl Into<BeamDest>,
        request: &impl Serialize,
    ) -> Result<R, BeamError> {
        self.call_timeout(to, request, DEFAULT_CALL_TIMEOUT).await
    }

    /// `gen_server:call(To, Request, Timeout)`.
    pub async fn call_timeout<R: DeserializeOwned>(
        &self,
        to: impl Into<BeamDest>,
        request: &impl Serialize,
        timeout: Duration,
    ) -> Result<R, BeamError> {
        let request = term(request)?;
        let reply = self.0.call(&to.into(), request, timeout).await?;
        let node = self.0.node().ok_or(BeamError::NoProc)?;
        actors::dist::reading_on(&node, || etf::from_term(&reply))
            .map_err(|e| BeamError::Term(format!("the reply {reply}: {e}")))
    }

    /// `rpc:call(Node, Module, Function, Args)` with the default timeout of 5 s: the
    /// function's result read as `R`. `args` is a tuple or a list of the arguments (`(1, 2)`,
    /// `vec![1, 2]`), or `()` for none. What the function prints goes nowhere.
    ///
    /// ```no_run
    /// # use actors_net::prelude::*;
    /// # async fn demo(node: &Node) -> Result<(), actors_net::beam::BeamError> {
    /// let beam = node.beam()?;
    /// let sum: i64 = beam.rpc("a@localhost", "erlang", "+", &(1, 2)).await?;
    /// let nodes: Vec<String> = beam.rpc("a@localhost", "erlang", "nodes", &()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn rpc<R: DeserializeOwned>(
        &self,
        node: &str,
        module: &str,
        function: &str,
        args: &impl Serialize,
    ) -> Result<R, BeamError> {
        self.rpc_timeout(node, module, function, args, DEFAULT_CALL_TIMEOUT)
            .await
    }

    /// [`Beam::rpc`] with a timeout.
    pub async fn rpc_timeout<R: DeserializeOwned>(
        &self,
        node: &str,
        module: &str,
        function: &str,
        args: &impl Serialize,
        timeout: Duration,
    ) -> Result<R, BeamError> {
        let args = match term(args)? {
            Term::Tuple(items) | Term::List(items) => items,
            // `()` is the atom `ok`: no arguments.
            Term::Atom(a) if a.name() == "ok" => Vec::new(),
            one => vec![one],
        };
        // rpc's own server, as `rpc:call` spoke it before OTP 23 and still answers: the
        // caller's pid stands as group leader, and answers the output it is sent.
        let request = Term::tuple([
            Term::atom("call"),
            Term::atom(module),
            Term::atom(function),
            Term::List(args),
            Term::Pid(self.0.caller()),
        ]);
        let reply = self
            .0
            .call(&BeamDest::name("rex", node), request, timeout)
            .await?;
        if let Term::Tuple(items) = &reply
            && items.len() == 2
            && items[0].is_atom("badrpc")
        {
            return Err(BeamError::Rpc(items[1].clone()));
        }
        let node = self.0.node().ok_or(BeamError::NoProc)?;
        actors::dist::reading_on(&node, || etf::from_term(&reply))
            .map_err(|e| BeamError::Term(format!("the result {reply}: {e}")))
    }

    /// `gen_server:cast(To, Request)`: `{'$gen_cast', Request}`, unanswered.
    pub async fn cast(
        &self,
        to: impl Into<BeamDest>,
        request: &impl Serialize,
    ) -> Result<(), BeamError> {
        let message = Term::tuple([Term::atom("$gen_cast"), term(request)?]);
        self.0.send(&to.into(), message).await
    }

    /// `To ! Message`. Dropped silently when the process is gone, as in Erlang.
    pub async fn send(
        &self,
        to: impl Into<BeamDest>,
        message: &impl Serialize,
    ) -> Result<(), BeamError> {
        self.0.send(&to.into(), term(message)?).await
    }
}

fn term(value: &impl Serialize) -> Result<Term, BeamError> {
    etf::to_term(value).map_err(|e| BeamError::Term(e.to_string()))
}

impl actors::dist::Extension for Inner {
    fn shutdown(&self) {
        if let Some(task) = lock(&self.accept_task).take() {
            actors::rt::spawn(async move {
                task.cancel().await;
            });
        }
        self.close_all();
        if let Some(node) = self.node() {
            actors::dist::forget_beam_name(&node);
        }
        lock(&self.registration).take();
        lock(&self.events).clear();
    }
}

/// Takes part in Erlang's `global` on a node that joins BEAM nodes as a visible one (after
/// the node's own global registry has started).
pub(crate) fn start_global(node: &Node) {
    global::start(node);
}

/// The child spec of the `pg` scope server toward BEAM nodes, if `node` speaks to them.
pub(crate) fn groups_spec(node: &Node) -> Option<actors::supervisor::ChildSpec> {
    groups::spec(node, groups::SCOPE)
}

/// Erlang's process groups (`pg`) of one scope shared with BEAM nodes: a local process joins
/// a group, and `pg:get_members(Scope, Group)` on a BEAM node lists it; members on BEAM
/// nodes are listed here. From [`Beam::groups`] (the default scope) or [`Beam::scope`].
pub struct BeamGroups {
    scope: actors::Pid<groups::PgScope>,
}

impl BeamGroups {
    /// Local process `pid` joins `group` (any term: `Atom::from("workers")`, a tuple, ..);
    /// a process may join a group several times.
    pub async fn join(
        &self,
        group: &impl Serialize,
        pid: impl Into<actors::AnyPid>,
    ) -> Result<(), BeamError> {
        let joined = self.scope.join_local(term(group)?, pid.into()).await;
        match joined {
            Ok(true) => Ok(()),
            Ok(false) => Err(BeamError::BadName(
                "only local processes join groups".into(),
            )),
            Err(_) => Err(BeamError::NoProc),
        }
    }

    /// `pid` leaves `group` once; [`BeamError::NotJoined`] if it had not joined.
    pub async fn leave(
        &self,
        group: &impl Serialize,
        pid: impl Into<actors::AnyPid>,
    ) -> Result<(), BeamError> {
        match self.scope.leave_local(term(group)?, pid.into()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(BeamError::NotJoined),
            Err(_) => Err(BeamError::NoProc),
        }
    }

    /// Every member of `group`, on this node and on the BEAM nodes of the scope.
    pub async fn members(&self, group: &impl Serialize) -> Result<Vec<ErlPid>, BeamError> {
        self.scope
            .members(term(group)?)
            .await
            .map_err(|_| BeamError::NoProc)
    }
}

/// The port EPMD listens on: the builder's, else `ERL_EPMD_PORT`, else 4369.
fn epmd_port(config: &BeamConfig) -> u16 {
    config.epmd_port.unwrap_or_else(|| {
        std::env::var("ERL_EPMD_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(epmd::DEFAULT_PORT)
    })
}

/// Listens for BEAM nodes, registers with EPMD, and attaches the BEAM side to `node`.
pub(crate) async fn start(
    node: &Node,
    config: BeamConfig,
    net: &crate::config::Config,
) -> Result<Arc<dyn actors::dist::Router>, BeamStartError> {
    let (alive, host) = peers::split_name(&config.name)
        .ok_or_else(|| BeamStartError::BadName(config.name.clone()))?;
    let listener = Tcp
        .listen(&format!("{host}:0"))
        .await
        .map_err(BeamStartError::Listen)?;
    let port = listener
        .local_addr()
        .map_err(BeamStartError::Listen)?
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .unwrap_or(0);
    let mut epmd_port = epmd_port(&config);
    if epmd_port == 0 {
        // An EPMD of this node's own, on a free port: nothing else on the host meets it.
        epmd_port = epmd::Server::start(&format!("{host}:0"))
            .await
            .map_err(BeamStartError::Epmd)?;
    }
    let epmd_addr = format!("{host}:{epmd_port}");
    let registration = match epmd::register(&epmd_addr, alive, port).await {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            // No EPMD on this host: serve one, as `erl` starts the daemon. Another node may
            // have started one meanwhile; registering with it is as good.
            let _ = epmd::Server::start(&epmd_addr).await;
            epmd::register(&epmd_addr, alive, port)
                .await
                .map_err(BeamStartError::Epmd)?
        }
        Err(e) => return Err(BeamStartError::Epmd(e)),
    };
    let inner = Arc::new_cyclic(|this| Inner {
        this: this.clone(),
        node: node.downgrade(),
        me: etf::Atom::from(config.name.as_str()),
        creation: registration.creation,
        visible: config.visible,
        port,
        cookie: net.cookie.clone(),
        epmd_port,
        timing: Timing {
            ticktime: config.ticktime,
            max_packet: net.max_frame,
            send_limit: net.send_limit.saturating_mul(4),
        },
        handshake_timeout: net.handshake_timeout,
        limits: Limits::default(),
        peers: Mutex::new(Default::default()),
        arriving: Mutex::new(Vec::new()),
        dialing: Mutex::new(Default::default()),
        calls: Mutex::new(Default::default()),
        monitors: Arc::new(Monitors::new(Limits::default().max_monitors_per_peer)),
        ties: Mutex::new(Default::default()),
        events: Mutex::new(Vec::new()),
        registration: Mutex::new(Some(registration)),
        accept_task: Mutex::new(None),
        closing: AtomicBool::new(false),
        functions: Default::default(),
        global: std::sync::OnceLock::new(),
    });
    actors::dist::set_beam_name(node, &config.name, inner.creation);
    let task = actors::rt::spawn(inner.clone().accept_loop(listener));
    *lock(&inner.accept_task) = Some(task);
    actors::dist::set_extension(node, inner.clone());
    tracing::info!(node = %config.name, port, "listening for BEAM nodes");
    Ok(Arc::new(ties::BeamRouter(inner)))
}

/// What a node started with [`NodeBuilder::beam`](crate::NodeBuilder::beam) can do among
/// BEAM nodes; in `actors_net::prelude`.
pub trait BeamNode {
    /// The node's BEAM side.
    fn beam(&self) -> Result<Beam, BeamError>;
}

impl BeamNode for Node {
    fn beam(&self) -> Result<Beam, BeamError> {
        actors::dist::extension::<Inner>(self)
            .map(Beam)
            .ok_or(BeamError::NotEnabled)
    }
}
