//! Logs to stderr for a program that has not chosen where its logs go (feature `logs`, on by
//! default): the library logs through `tracing`, and without a subscriber nothing is shown.

/// Sends every `tracing` event of the program (crash reports, supervisors' restarts, nodes
/// and connections) to stderr, filtered by `RUST_LOG` (`RUST_LOG=info`,
/// `RUST_LOG=actors_net=debug`); warnings and errors when it is not set. Does nothing when a
/// subscriber is already installed, so it is safe to call more than once.
///
/// ```
/// actors_net::logs::init();
/// ```
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
