//! The request-latency histogram's handles, kept per label set so that a request records its
//! latency without building a metric key (three labels, two of them allocated) and looking it
//! up in the recorder's registry each time.

use std::collections::HashMap;
use std::sync::RwLock;

use metrics::Histogram;

use crate::prometheus::REQUEST_DURATION;

/// Label sets are few and bounded: the methods of [`method_label`](crate::middleware), the
/// router's routes (never raw paths) and the status codes. Keys are the server's own
/// labels, not attacker-chosen, so a fast unkeyed hash is safe here.
type Map<K, V> = HashMap<K, V, foldhash::fast::FixedState>;
type ByRoute = Map<Box<str>, Histogram>;

/// Handles of [`REQUEST_DURATION`], by method and status, then by route.
#[derive(Debug, Default)]
pub(crate) struct RequestMetrics {
    handles: RwLock<Map<(&'static str, u16), ByRoute>>,
}

impl RequestMetrics {
    /// Records `seconds` for a request to `route` answered with `status`.
    pub(crate) fn record(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        // A poisoned lock only means another request panicked mid-insert; the map is intact.
        {
            let handles = self.handles.read().unwrap_or_else(|e| e.into_inner());
            if let Some(histogram) = handles.get(&(method, status)).and_then(|r| r.get(route)) {
                histogram.record(seconds);
                return;
            }
        }
        self.register(method, route, status).record(seconds);
    }

    #[cold]
    fn register(&self, method: &'static str, route: &str, status: u16) -> Histogram {
        let histogram = metrics::histogram!(
            REQUEST_DURATION,
            "method" => method,
            "route" => route.to_owned(),
            "status" => status.to_string(),
        );
        self.handles
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry((method, status))
            .or_default()
            .insert(route.into(), histogram.clone());
        histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_handle_per_label_set() {
        let metrics = RequestMetrics::default();
        metrics.record("GET", "/auth/me", 200, 0.001);
        metrics.record("GET", "/auth/me", 200, 0.002);
        metrics.record("GET", "/auth/me", 401, 0.001);
        metrics.record("POST", "/auth/me", 200, 0.001);
        metrics.record("GET", "/healthz", 200, 0.001);
        let handles = metrics.handles.read().unwrap();
        let count: usize = handles.values().map(|by_route| by_route.len()).sum();
        assert_eq!(count, 4);
        assert_eq!(handles[&("GET", 200)].len(), 2);
    }
}
