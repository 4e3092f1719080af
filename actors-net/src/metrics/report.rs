//! A node's figures, published through the `metrics` facade.

use actors::Node;
use metrics::{counter, gauge};

/// Publishes `node`'s figures now to the installed metrics recorder. The Prometheus
/// endpoint calls it at every scrape; an application with its own exporter calls it as
/// often as it exports.
pub fn report(node: &Node) {
    let name = node.name().to_string();
    let overview = crate::introspect::overview::of(node);
    let load = overview.load;
    let labels = [("node", name.clone())];
    gauge!("actors_processes", &labels).set(load.processes as f64);
    counter!("actors_spawned_total", &labels).absolute(load.spawned);
    counter!("actors_messages_handled_total", &labels).absolute(load.messages_handled);
    gauge!("actors_mailbox_messages", &labels).set(load.queued as f64);
    gauge!("actors_mailbox_longest", &labels).set(load.longest_queue as f64);
    counter!("actors_restarts_total", &labels).absolute(load.restarts);
    gauge!("actors_connections", &labels).set(overview.connections.len() as f64);
    gauge!("actors_global_names", &labels).set(overview.global_names.len() as f64);
    gauge!("actors_groups", &labels).set(overview.groups.len() as f64);
    let traffic = overview.traffic;
    counter!("actors_dist_frames_received_total", &labels).absolute(traffic.frames_in);
    counter!("actors_dist_frames_sent_total", &labels).absolute(traffic.frames_out);
    counter!("actors_dist_bytes_received_total", &labels).absolute(traffic.bytes_in);
    counter!("actors_dist_bytes_sent_total", &labels).absolute(traffic.bytes_out);
    for peer in &overview.connections {
        let labels = [("node", name.clone()), ("peer", peer.node.clone())];
        gauge!("actors_dist_queued_bytes", &labels).set(peer.info.queued_bytes as f64);
        if let Some(rtt) = peer.info.round_trip {
            gauge!("actors_dist_round_trip_seconds", &labels).set(rtt.as_secs_f64());
        }
    }
}
