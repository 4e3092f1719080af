//! Starting a distributed node: every layer wired together, bottom to top, and the services
//! it runs by itself started under its system supervisor. The one module that sees all.

use std::sync::Arc;

use actors::{Node, NodeId};

use crate::builder::NodeBuilder;
use crate::net::{Net, address};
use crate::requests::Routing;
use crate::router::NetRouter;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The name is not `name@host:port`.
    #[error("node name {0:?} is not of the form name@host:port")]
    BadName(String),
    /// The BEAM side could not start.
    #[error(transparent)]
    Beam(#[from] crate::beam::BeamStartError),
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

impl NodeBuilder {
    /// Listens, and returns the node. With port 0 the system picks one, and the node's name
    /// says which.
    pub async fn start(self) -> Result<Node, StartError> {
        let (short, host) =
            parse(&self.name).ok_or_else(|| StartError::BadName(self.name.clone()))?;
        let addr = address(&self.name).ok_or_else(|| StartError::BadName(self.name.clone()))?;
        let listener = self
            .transport
            .listen(addr)
            .await
            .map_err(|source| StartError::Listen {
                addr: addr.to_string(),
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| StartError::Listen {
            addr: addr.to_string(),
            source,
        })?;
        let port = bound.rsplit_once(':').map_or("0", |(_, p)| p);
        let name = format!("{short}@{host}:{port}");
        let node = actors::dist::node_with_id(NodeId::new(&name, actors::dist::new_creation()));
        let net = Arc::new(Net::new(&node, self.config, self.transport));
        if let Some(view) = net.config.overlay.clone() {
            let host: Arc<dyn crate::links::Host> = net.clone();
            net.set_overlay(crate::links::Overlay::start(
                &host,
                net.id.clone(),
                net.config.clone(),
                net.transport.clone(),
                view,
            ));
        }
        let routing = Arc::new(Routing::new(net.clone()));
        let owner: Arc<dyn crate::io::Owner> = routing.clone();
        net.set_owner(Arc::downgrade(&owner));
        let router = Arc::new(NetRouter {
            net: net.clone(),
            beam: std::sync::OnceLock::new(),
        });
        let installed = actors::dist::install_router(&node, router.clone());
        debug_assert!(installed.is_ok(), "a fresh node has no router");
        actors::dist::set_extension(&node, net.clone());
        actors::dist::set_extension(&node, routing);
        if let Some(beam) = net.config.beam.clone() {
            let _ = router
                .beam
                .set(crate::beam::start(&node, beam, &net.config).await?);
        }
        crate::system::start(&node, &net.config).await;
        crate::beam::start_global(&node);
        if let Some(spec) = crate::beam::groups_spec(&node)
            && !crate::system::add(&node, spec).await
        {
            tracing::warn!(node = %name, "the pg scope server for BEAM nodes did not start");
        }
        // Every node is a member of the supervisor of failover children, so that any may
        // take one over whichever node added it.
        if let Err(e) =
            crate::distributed::DistributedSupervisor::start(&node, crate::failover::FAILOVER).await
        {
            tracing::warn!(node = %name, "the failover supervisor's member did not start: {e}");
        }
        let accept = net.spawn(net.clone().accept_loop(listener));
        net.set_accept_task(accept);
        net.spawn(net.clone().heal_loop());
        if let Some(discovery) = net.config.discovery.clone() {
            net.spawn(net.clone().discovery_loop(discovery));
        }
        tracing::info!(node = %name, "started");
        Ok(node)
    }
}

/// `name@host` of `name@host:port`.
fn parse(name: &str) -> Option<(&str, &str)> {
    let (short, rest) = name.split_once('@')?;
    let (host, _) = rest.rsplit_once(':')?;
    (!short.is_empty() && !host.is_empty()).then_some((short, host))
}
