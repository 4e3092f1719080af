//! What the examples share.

/// Sends the library's logs (crash reports, supervisors' restarts, connections) to stderr,
/// filtered by `RUST_LOG` (`RUST_LOG=info`, `RUST_LOG=actors_net=debug`); errors only when
/// it is not set.
pub fn logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
