//! `agents_operator_objects{kind,phase}`: every kind the operator reconciles, by phase, counted
//! from the controllers' caches at each scrape, so it is never stale and costs nothing between.

use std::sync::{Arc, Mutex};

use agents_api::{
    Agent, AgentBuild, AgentPhase, AgentWorkflow, BuildPhase, MCPServer, ModelAPI, ServerPhase, WorkflowPhase,
};
use kube::Resource;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

/// The phase counted for an object that has no status yet.
const UNKNOWN: &str = "Unknown";

/// A kind the objects gauge counts by phase.
pub trait Phased: Resource<DynamicType = ()> + Clone + Send + Sync + 'static {
    /// Every phase, so a phase with no objects is reported as 0 rather than missing.
    fn phases() -> Vec<&'static str>;
    fn phase_name(&self) -> Option<&'static str>;
}

macro_rules! phased {
    ($($kind:ty => $phase:ty),* $(,)?) => {$(
        impl Phased for $kind {
            fn phases() -> Vec<&'static str> {
                <$phase>::ALL.iter().map(|p| p.as_str()).collect()
            }
            fn phase_name(&self) -> Option<&'static str> {
                self.status.as_ref().and_then(|s| s.phase).map(|p| p.as_str())
            }
        }
    )*};
}

phased! {
    Agent => AgentPhase,
    AgentBuild => BuildPhase,
    AgentWorkflow => WorkflowPhase,
    ModelAPI => ServerPhase,
    MCPServer => ServerPhase,
}

/// The counts of one kind, read from its cache.
type Count = Box<dyn Fn() -> Vec<(&'static str, i64)> + Send + Sync>;

#[derive(Clone, Default)]
pub struct ObjectCollector {
    kinds: Arc<Mutex<Vec<(String, Count)>>>,
}

impl std::fmt::Debug for ObjectCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds = self.kinds.lock().expect("never poisoned");
        f.debug_list().entries(kinds.iter().map(|(kind, _)| kind)).finish()
    }
}

impl ObjectCollector {
    pub fn observe<K: Phased>(&self, store: Store<K>) {
        let count: Count = Box::new(move || count_phases(K::phases(), store.state().iter().map(|o| o.phase_name())));
        self.kinds.lock().expect("never poisoned").push((K::kind(&()).into_owned(), count));
    }
}

/// How many objects are in each of `phases`, and how many report none yet.
fn count_phases(
    phases: Vec<&'static str>,
    of_objects: impl Iterator<Item = Option<&'static str>>,
) -> Vec<(&'static str, i64)> {
    let mut counts: Vec<(&'static str, i64)> = phases.into_iter().chain([UNKNOWN]).map(|p| (p, 0)).collect();
    for phase in of_objects {
        let phase = phase.unwrap_or(UNKNOWN);
        if let Some((_, count)) = counts.iter_mut().find(|(p, _)| *p == phase) {
            *count += 1;
        }
    }
    counts
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    kind: String,
    phase: &'static str,
}

impl Collector for ObjectCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let kinds = self.kinds.lock().expect("never poisoned");
        if kinds.is_empty() {
            return Ok(());
        }
        let gauge = ConstGauge::new(0i64);
        let mut family =
            encoder.encode_descriptor("objects", "Objects by kind and phase", None, gauge.metric_type())?;
        for (kind, count) in kinds.iter() {
            for (phase, n) in count() {
                let labels = ObjectLabels { kind: kind.clone(), phase };
                ConstGauge::new(n).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_is_counted_even_when_empty() {
        let counts = count_phases(
            ServerPhase::ALL.map(|p| p.as_str()).to_vec(),
            [Some("Ready"), None, Some("Ready")].into_iter(),
        );
        assert_eq!(
            counts,
            [
                ("Pending", 0),
                ("Waiting", 0),
                ("Ready", 2),
                ("Degraded", 0),
                ("Failed", 0),
                ("Stopped", 0),
                ("Unknown", 1)
            ]
        );
    }
}
