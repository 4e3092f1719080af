//! The routing layer's requests that travel as control frames and wait for their answer:
//! `{Name, Node}` lookups and remote spawns; and the actor types this node lets others spawn.
//! `Routing`, the routing layer's state, is defined here, at the bottom of the layer.

use actors::dist::rt::HashMap;
use std::sync::{Arc, Mutex};

use actors::{Actor, AnyPid, Node, Pid};
use futures::channel::oneshot;
use serde::Serialize;

use crate::connection::lock;
use crate::frame::Control;
use crate::net::Net;

/// Why a remote name lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No connection to the node.
    #[error("no connection to {0}")]
    NoConnection(String),
    /// No process is registered under the name there.
    #[error("no process is registered as {name:?} on {node}")]
    NotRegistered {
        /// The name.
        name: String,
        /// The node.
        node: String,
    },
    /// The process registered there is of another actor type.
    #[error(
        "the process registered as {0:?} is of another actor type, or another build of it whose handlers or message types differ (run the same version on both nodes)"
    )]
    WrongType(String),
}

/// Why a process could not be started on another node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// This node is not distributed, or the other node cannot be reached.
    #[error("no connection to {0}")]
    NoConnection(String),
    /// The actor's state could not be encoded.
    #[error("cannot encode the actor's state: {0}")]
    Encode(String),
    /// The other node refused: it does not allow this actor type, has another version of it,
    /// or could not decode the state.
    #[error("refused: {0}")]
    Refused(String),
}

/// Starts a process of one actor type from its encoded state, maybe linked to a parent.
pub(crate) type Spawner =
    Arc<dyn Fn(&Node, &[u8], Option<AnyPid>) -> Result<AnyPid, String> + Send + Sync>;

/// Encodes a running actor's state, given as `&mut dyn Any` (`None` if it is not of the
/// type).
pub(crate) type StateEncoder =
    Arc<dyn Fn(&mut dyn std::any::Any) -> Option<Result<Vec<u8>, String>> + Send + Sync>;

/// An actor type other nodes may spawn here.
#[derive(Clone)]
pub(crate) struct Spawnable {
    /// Its wire identity's hash: another version of the type is refused.
    pub(crate) identity: u64,
    pub(crate) spawn: Spawner,
    /// For a distributed supervisor's hand-off of a child's state.
    pub(crate) encode: StateEncoder,
}

/// The routing layer of a node, attached to it as an extension.
pub(crate) struct Routing {
    pub(crate) net: Arc<Net>,
    /// The actor types other nodes may spawn here, by wire name.
    pub(crate) spawnable: Mutex<HashMap<String, Spawnable>>,
}

impl actors::dist::Extension for Routing {}

impl Routing {
    pub(crate) fn new(net: Arc<Net>) -> Self {
        Routing {
            net,
            spawnable: Mutex::new(HashMap::default()),
        }
    }

    /// The routing layer of `node`, if it is distributed.
    pub(crate) fn of(node: &Node) -> Option<Arc<Routing>> {
        actors::dist::extension::<Routing>(node)
    }

    /// Lets other nodes start processes of actor type `A` here.
    pub(crate) fn allow_spawn<A: Actor + Serialize + serde::de::DeserializeOwned>(&self) {
        let spawner: Spawner = Arc::new(|node: &Node, state: &[u8], link| {
            let actor: A = actors::dist::decode(node, state).map_err(|e| e.to_string())?;
            Ok(match link {
                Some(parent) => actors::dist::spawn_linked_to(node, actor, parent).any(),
                None => node.spawn(actor).any(),
            })
        });
        let encode: StateEncoder = Arc::new(|state| {
            let actor = state.downcast_mut::<A>()?;
            let mut out = Vec::new();
            Some(
                actors::dist::encode(&*actor, &mut out)
                    .map(|()| out)
                    .map_err(|e| e.to_string()),
            )
        });
        let identity = A::identity();
        lock(&self.spawnable).insert(
            identity.name.to_string(),
            Spawnable {
                identity: identity.hash,
                spawn: spawner,
                encode,
            },
        );
    }

    /// Starts `actor` on node `on`, maybe linked to `link` from its first moment.
    pub(crate) async fn spawn_on<A: Actor + Serialize>(
        &self,
        on: &str,
        actor: A,
        link: Option<AnyPid>,
    ) -> Result<Pid<A>, SpawnError> {
        let mut state = Vec::new();
        actors::dist::encode(&actor, &mut state).map_err(|e| SpawnError::Encode(e.to_string()))?;
        let identity = A::identity();
        let net = &self.net;
        let conn = net
            .conn(on)
            .ok_or_else(|| SpawnError::NoConnection(on.to_string()))?;
        let (tx, rx) = oneshot::channel();
        let request = conn.next_call_ref();
        lock(&conn.spawns).insert(request, tx);
        net.send_control(
            &conn,
            &Control::Spawn {
                request,
                actor: identity.name.to_string(),
                identity: identity.hash,
                state: serde_bytes::ByteBuf::from(state),
                link,
            },
        );
        let pid = match rx.await {
            Ok(Ok(pid)) => pid,
            Ok(Err(why)) => return Err(SpawnError::Refused(why)),
            Err(_) => return Err(SpawnError::NoConnection(on.to_string())),
        };
        pid.downcast()
            .ok_or_else(|| SpawnError::Refused("the new process is of another actor type".into()))
    }

    /// Asks `node` which process is registered there as `name`.
    pub(crate) async fn lookup(
        &self,
        node: &str,
        name: &str,
    ) -> Result<Option<AnyPid>, LookupError> {
        let net = &self.net;
        let no_connection = || LookupError::NoConnection(node.to_string());
        let conn = net.conn(node).ok_or_else(no_connection)?;
        let (tx, rx) = oneshot::channel();
        let request = conn.next_call_ref();
        lock(&conn.lookups).insert(request, tx);
        net.send_control(
            &conn,
            &Control::WhereIs {
                name: name.to_string(),
                request,
            },
        );
        match actors::rt::timeout(net.config.handshake_timeout, rx).await {
            Ok(Ok(pid)) => Ok(pid),
            _ => {
                lock(&conn.lookups).remove(&request);
                Err(no_connection())
            }
        }
    }

    /// Sends a ping over the connection to `node` and waits up to `within` for the answer;
    /// its round trip, or why there is none.
    pub(crate) async fn ping(
        &self,
        node: &str,
        within: std::time::Duration,
    ) -> Result<std::time::Duration, String> {
        let net = &self.net;
        let conn = net.conn(node).ok_or("not connected")?;
        let (tx, rx) = oneshot::channel();
        let request = conn.next_call_ref();
        lock(&conn.pings).insert(request, (actors::rt::now(), tx));
        net.send_control(&conn, &Control::Ping { request });
        match actors::rt::timeout(within, rx).await {
            Ok(Ok(rtt)) => Ok(rtt),
            Ok(Err(_)) => Err("the connection went down".to_string()),
            Err(_) => {
                lock(&conn.pings).remove(&request);
                Err(format!("no answer to a ping within {within:?}"))
            }
        }
    }
}
