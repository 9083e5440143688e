//! Prometheus metrics: reconciles, failures (and when each kind of failure last happened) and
//! their duration per kind, API writes per child kind and verb, leadership, and objects by kind
//! and phase (counted from the controllers' caches at scrape, `objects.rs`). `kubectl agents
//! status` reads the failures from the leader's /metrics.

mod objects;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use kube::runtime::reflector::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use objects::ObjectCollector;
pub use objects::Phased;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    kind: &'static str,
    error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteLabels {
    kind: &'static str,
    verb: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<KindLabels, Counter>,
    failures: Family<FailureLabels, Counter>,
    last_failure: Family<FailureLabels, Gauge<f64, AtomicU64>>,
    duration: Family<KindLabels, Histogram>,
    writes: Family<WriteLabels, Counter>,
    leader: Gauge,
    caches_filled: Family<KindLabels, Gauge>,
    events_dropped: Counter,
    objects: ObjectCollector,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("agents_operator");
        let reconciles = Family::<KindLabels, Counter>::default();
        let failures = Family::<FailureLabels, Counter>::default();
        let last_failure = Family::<FailureLabels, Gauge<f64, AtomicU64>>::default();
        let duration = Family::<KindLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0])
        });
        let writes = Family::<WriteLabels, Counter>::default();
        let leader = Gauge::default();
        let caches_filled = Family::<KindLabels, Gauge>::default();
        let events_dropped = Counter::default();
        let objects = ObjectCollector::default();
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register("reconcile_failures", "Reconciles that failed, by error", failures.clone());
        registry.register(
            "reconcile_last_failure_timestamp_seconds",
            "When a reconcile last failed with this error (Unix time)",
            last_failure.clone(),
        );
        registry.register("reconcile_duration_seconds", "Time spent in one reconcile", duration.clone());
        registry.register("api_writes", "Writes sent to the API server, by object kind and verb", writes.clone());
        registry.register(
            "leader",
            "1 while this replica reconciles (it holds the leader lease, or runs without election)",
            leader.clone(),
        );
        registry.register(
            "caches_filled",
            "1 once every cache the controller of this kind reads holds its first full list: a standby that shows it \
             for every kind takes over without listing anything",
            caches_filled.clone(),
        );
        registry.register(
            "events_dropped",
            "Events not published because too many were waiting (the status still says what they would have)",
            events_dropped.clone(),
        );
        registry.register_collector(Box::new(objects.clone()));
        Arc::new(Metrics {
            registry,
            reconciles,
            failures,
            last_failure,
            duration,
            writes,
            leader,
            caches_filled,
            events_dropped,
            objects,
        })
    }

    /// Starts timing a reconcile of `kind`; the time is recorded when the guard drops.
    pub fn reconcile(&self, kind: &'static str) -> ReconcileTimer<'_> {
        self.reconciles.get_or_create(&KindLabels { kind }).inc();
        ReconcileTimer { metrics: self, kind, start: Instant::now() }
    }

    pub fn failure(&self, kind: &'static str, error: &'static str) {
        let labels = FailureLabels { kind, error };
        self.failures.get_or_create(&labels).inc();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        self.last_failure.get_or_create(&labels).set(now);
    }

    pub fn write(&self, kind: &'static str, verb: &'static str) {
        self.writes.get_or_create(&WriteLabels { kind, verb }).inc();
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The controller of `kind` has every cache it reads filled.
    pub fn caches_filled(&self, kind: &'static str) {
        self.caches_filled.get_or_create(&KindLabels { kind }).set(1);
    }

    pub fn event_dropped(&self) {
        self.events_dropped.inc();
    }

    /// Lets the objects gauge count the phases of the objects in `store` (a controller's cache of its kind).
    pub fn observe<K: Phased>(&self, store: Store<K>) {
        self.objects.observe(store);
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    kind: &'static str,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        let kind = self.kind;
        self.metrics.duration.get_or_create(&KindLabels { kind }).observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_counted_and_timed() {
        let metrics = Metrics::new();
        metrics.failure("Agent", "apply");
        metrics.failure("Agent", "apply");
        let text = metrics.encode();
        assert!(text.contains(r#"agents_operator_reconcile_failures_total{kind="Agent",error="apply"} 2"#), "{text}");
        let when: f64 = text
            .lines()
            .find_map(|l| {
                l.strip_prefix(
                    r#"agents_operator_reconcile_last_failure_timestamp_seconds{kind="Agent",error="apply"} "#,
                )
            })
            .expect("the last failure's time")
            .parse()
            .unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        assert!((now - 60.0..=now).contains(&when), "{when} vs {now}");
    }
}
