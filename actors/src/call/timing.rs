//! How long calls take, for the call-duration histogram of feature `metrics`: off until a
//! metrics exporter turns it on, since reading the clock twice is a visible share of a
//! local call. Without the feature the timer is empty and its calls compile to nothing.

use std::sync::Arc;

use crate::kernel::node::NodeInner;

#[cfg(feature = "metrics")]
static TIMING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns the timing of calls on or off for every node of this OS process. While on, each
/// call's round trip, from its send to its reply (or its error), is recorded through the
/// `metrics` facade as the histogram `actors_call_duration_seconds`, labelled with the node
/// it was made through. A metrics exporter turns it on; its cost is two clock reads a call.
#[cfg(feature = "metrics")]
pub fn time_calls(on: bool) {
    TIMING.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether calls are being timed ([`time_calls`]).
#[cfg(feature = "metrics")]
pub fn timing_calls() -> bool {
    TIMING.load(std::sync::atomic::Ordering::Relaxed)
}

/// When one call was sent, if calls are timed.
#[derive(Default)]
pub(crate) struct Timer {
    #[cfg(feature = "metrics")]
    began: Option<std::time::Instant>,
}

impl Timer {
    #[inline]
    pub(crate) fn start(&mut self) {
        #[cfg(feature = "metrics")]
        if timing_calls() {
            self.began = Some(crate::runtime::now());
        }
    }

    #[inline]
    pub(crate) fn stop(&mut self, node: &Arc<NodeInner>) {
        #[cfg(feature = "metrics")]
        if let Some(began) = self.began.take() {
            let histogram = node.call_durations.get_or_init(|| {
                metrics::histogram!(
                    "actors_call_duration_seconds",
                    "node" => node.id.name().to_string()
                )
            });
            histogram.record(crate::runtime::elapsed(began).as_secs_f64());
        }
        #[cfg(not(feature = "metrics"))]
        let _ = node;
    }
}
