//! Cluster formation without a list of addresses fixed in code (the role of Elixir's
//! libcluster): a node started with a [`Discovery`] looks for the others every few seconds
//! and connects to each one it finds, so nodes that come and go join by themselves.
//!
//! Two strategies: a static list of node names, and DNS, where every A and AAAA record of one
//! name is a node (what a Kubernetes headless service gives: one record per ready pod).

#[cfg(feature = "dns")]
mod dns;

#[cfg(feature = "dns")]
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The default time between two looks.
const EVERY: Duration = Duration::from_secs(5);

/// The most nodes one look may find: a DNS answer (or a list) past it is cut there.
const MAX_FOUND: usize = 1024;

/// How a node finds the other nodes of its cluster: given to
/// [`NodeBuilder::discovery`](crate::NodeBuilder::discovery).
///
/// ```
/// use std::time::Duration;
/// use actors_net::Discovery;
///
/// // Every A/AAAA record of the headless service is a node `app@<address>:4370`.
/// let dns = Discovery::dns("app.default.svc.cluster.local", "app", 4370)
///     .every(Duration::from_secs(2));
/// // Or a list of node names, looked at again every 5 s: nodes not up yet are found later.
/// let listed = Discovery::nodes(["app@10.0.0.1:4370", "app@10.0.0.2:4370"]);
/// ```
#[derive(Debug, Clone)]
pub struct Discovery {
    strategy: Strategy,
    every: Duration,
}

#[derive(Debug, Clone)]
enum Strategy {
    Nodes(Vec<String>),
    #[cfg(feature = "dns")]
    Dns {
        name: String,
        basename: String,
        port: u16,
        server: Option<SocketAddr>,
    },
}

impl Discovery {
    /// The nodes are these names (`name@host:port`); those not up yet are tried again at each
    /// look.
    pub fn nodes<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        Discovery {
            strategy: Strategy::Nodes(names.into_iter().map(Into::into).take(MAX_FOUND).collect()),
            every: EVERY,
        }
    }

    /// The nodes are `basename@<address>:port` for every A and AAAA record of `name`, as
    /// each node names itself by its own address (in Kubernetes, the pod's IP).
    #[cfg(feature = "dns")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dns")))]
    pub fn dns(name: &str, basename: &str, port: u16) -> Self {
        Discovery {
            strategy: Strategy::Dns {
                name: name.to_string(),
                basename: basename.to_string(),
                port,
                server: None,
            },
            every: EVERY,
        }
    }

    /// The DNS server to ask (default: the first `nameserver` of `/etc/resolv.conf`).
    #[cfg(feature = "dns")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dns")))]
    pub fn server(mut self, server: SocketAddr) -> Self {
        if let Strategy::Dns { server: s, .. } = &mut self.strategy {
            *s = Some(server);
        }
        self
    }

    /// The time between two looks (default 5 s).
    pub fn every(mut self, interval: Duration) -> Self {
        self.every = interval.max(Duration::from_millis(10));
        self
    }

    /// The time between two looks.
    pub(crate) fn interval(&self) -> Duration {
        self.every
    }

    /// The node names found now.
    pub(crate) async fn look(&self) -> Result<Vec<String>, String> {
        match &self.strategy {
            Strategy::Nodes(names) => Ok(names.clone()),
            #[cfg(feature = "dns")]
            Strategy::Dns {
                name,
                basename,
                port,
                server,
            } => {
                let server = match server {
                    Some(s) => *s,
                    None => dns::system_server()?,
                };
                let addrs = dns::lookup(server, name, MAX_FOUND).await?;
                Ok(addrs
                    .into_iter()
                    .map(|ip| node_name(basename, ip, *port))
                    .collect())
            }
        }
    }
}

#[cfg(feature = "dns")]
/// `basename@ip:port`, with brackets around an IPv6 address.
fn node_name(basename: &str, ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{basename}@{v4}:{port}"),
        IpAddr::V6(v6) => format!("{basename}@[{v6}]:{port}"),
    }
}
