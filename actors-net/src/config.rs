//! A distributed node's settings.

use std::time::Duration;

/// Settings of a distributed node; see [`crate::NodeBuilder`] for what each one does.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) cookie: Vec<u8>,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_misses: u32,
    pub(crate) max_frame: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) send_limit: usize,
    pub(crate) clean_partitions: bool,
    pub(crate) max_peers: usize,
    pub(crate) max_partial: usize,
    pub(crate) global_limits: GlobalLimits,
    pub(crate) beam: Option<BeamConfig>,
    pub(crate) discovery: Option<crate::discovery::Discovery>,
    /// Partial views instead of a full mesh.
    pub(crate) overlay: Option<crate::overlay::OverlayConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cookie: b"nocookie".to_vec(),
            // A frozen peer is declared down after 5 silent intervals: within 2.5 s.
            heartbeat_interval: Duration::from_millis(500),
            heartbeat_misses: 5,
            max_frame: 4 << 20,
            handshake_timeout: Duration::from_secs(5),
            send_limit: 16 << 20,
            clean_partitions: true,
            max_peers: 1024,
            max_partial: 64 << 20,
            global_limits: GlobalLimits::default(),
            beam: None,
            discovery: None,
            overlay: None,
        }
    }
}

/// How large the cluster-wide registry's tables may grow on one node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GlobalLimits {
    /// Names in the table (registrations, and names synced from peers).
    pub(crate) max_names: usize,
    /// Locks the processes of one node may hold on this node's server.
    pub(crate) max_locks_per_node: usize,
}

impl Default for GlobalLimits {
    fn default() -> Self {
        GlobalLimits {
            max_names: 100_000,
            max_locks_per_node: 100_000,
        }
    }
}

/// What starting the BEAM side needs.
#[derive(Clone, Debug)]
pub(crate) struct BeamConfig {
    pub(crate) name: String,
    pub(crate) epmd_port: Option<u16>,
    pub(crate) ticktime: Duration,
    /// A visible node (`erl -name`) rather than a hidden one (`erl -hidden`).
    pub(crate) visible: bool,
}

impl BeamConfig {
    pub(crate) fn new(name: &str) -> Self {
        BeamConfig {
            name: name.to_string(),
            epmd_port: None,
            // Erlang's default net_ticktime.
            ticktime: Duration::from_secs(60),
            visible: false,
        }
    }
}
