//! What a distributed node tells of itself beyond its processes.

use actors::introspect::NodeLoad;
use actors::{AnyPid, Node};
use serde::{Deserialize, Serialize};

use crate::connection::{ConnectionInfo, Traffic, lock};
use crate::global::GlobalNames;
use crate::groups::{ProcessGroups, Scopes};
use crate::node::DistNode;

/// A node as it sees itself: [`Introspect::overview`](super::Introspect::overview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NodeOverview {
    /// Its name.
    pub name: String,
    /// What its processes have done, read without asking them.
    pub load: NodeLoad,
    /// Its connections to other nodes, by peer name.
    pub connections: Vec<PeerConnection>,
    /// What has crossed its connections since it started.
    pub traffic: Traffic,
    /// The cluster-wide names it knows, by name.
    pub global_names: Vec<GlobalName>,
    /// The process groups it sees, in every scope it runs, by scope and group.
    pub groups: Vec<Group>,
}

/// One connection of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PeerConnection {
    /// The peer's name.
    pub node: String,
    /// What crosses the connection.
    pub info: ConnectionInfo,
}

/// A cluster-wide name and the process holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GlobalName {
    /// The name.
    pub name: String,
    /// The process registered under it.
    pub pid: AnyPid,
}

/// A process group and its members, as one node sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Group {
    /// Its scope.
    pub scope: String,
    /// Its name.
    pub group: String,
    /// Its members on every node this node sees.
    pub members: Vec<AnyPid>,
}

/// `node`'s overview: all local reads, no process asked.
pub(crate) fn of(node: &Node) -> NodeOverview {
    let connections = node
        .nodes()
        .into_iter()
        .filter_map(|peer| {
            let info = node.connection_info(&peer)?;
            Some(PeerConnection { node: peer, info })
        })
        .collect();
    let global = node.global();
    let global_names = global
        .registered_names()
        .into_iter()
        .filter_map(|name| {
            let pid = global.whereis_any(&name)?;
            Some(GlobalName { name, pid })
        })
        .collect();
    let mut scopes: Vec<String> = actors::dist::extension::<Scopes>(node)
        .map(|s| lock(&s.scopes).keys().cloned().collect())
        .unwrap_or_default();
    scopes.sort();
    let mut groups = Vec::new();
    for scope in scopes {
        let view = node.scope(&scope);
        for group in view.which_groups() {
            let members = view.members(&group).to_vec();
            groups.push(Group {
                scope: scope.clone(),
                group,
                members,
            });
        }
    }
    NodeOverview {
        name: node.name().to_string(),
        load: node.load(),
        connections,
        traffic: actors::dist::extension::<crate::net::Net>(node)
            .map(|net| net.traffic())
            .unwrap_or_default(),
        global_names,
        groups,
    }
}
