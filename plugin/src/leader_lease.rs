//! Finds the operator by its leader Lease, wherever it runs. In the cluster or on a laptop, the
//! leader renews the Lease `agents-operator` every few seconds and labels it with its version
//! (operator/src/leader.rs), so a Lease renewed within its duration says an operator is alive.

use agents_render::labels;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;

pub const LEASE_NAME: &str = "agents-operator";
/// How far the plugin's clock may run ahead of the operator's before a live leader looks gone.
const CLOCK_SKEW_SECONDS: i64 = 5;

/// Lists only the operator's Leases, in whatever namespace each runs.
pub fn list_params() -> ListParams {
    ListParams::default().fields(&format!("metadata.name={LEASE_NAME}"))
}

/// What a Lease says of the operator that holds (or held) it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    pub namespace: String,
    /// `None` once the last holder released it on shutdown.
    pub holder: Option<String>,
    /// Seconds since the last renewal, by the plugin's clock.
    pub renewed_ago: Option<i64>,
    /// Renewed within the Lease's duration: an operator holds it now.
    pub alive: bool,
    pub version: Option<String>,
}

impl Leader {
    pub fn read(lease: &Lease, now: Timestamp) -> Leader {
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.filter(|h| !h.is_empty());
        let renewed_ago = spec.renew_time.map(|t| now.as_second() - t.0.as_second());
        let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
        let alive = holder.is_some() && renewed_ago.is_some_and(|ago| ago <= duration + CLOCK_SKEW_SECONDS);
        Leader {
            namespace: lease.metadata.namespace.clone().unwrap_or_default(),
            holder,
            renewed_ago,
            alive,
            version: lease.metadata.labels.as_ref().and_then(|l| l.get(labels::VERSION)).cloned(),
        }
    }

    /// `leader NAME (Lease NS/agents-operator, renewed 3s ago)`.
    pub fn describe(&self) -> String {
        let holder = self.holder.as_deref().unwrap_or("none (released)");
        let renewed = match self.renewed_ago {
            Some(ago) => format!(", renewed {}s ago", ago.max(0)),
            None => String::new(),
        };
        format!("leader {holder} (Lease {}/{LEASE_NAME}{renewed})", self.namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lease(holder: Option<&str>, renewed: &str, version: Option<&str>) -> Lease {
        let labels = version.map(|v| json!({labels::VERSION: v}));
        serde_json::from_value(json!({
            "metadata": {"name": LEASE_NAME, "namespace": "default", "labels": labels},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renewed},
        }))
        .unwrap()
    }

    fn at(time: &str) -> Timestamp {
        time.parse().unwrap()
    }

    #[test]
    fn a_lease_renewed_within_its_duration_is_a_live_operator() {
        let now = at("2026-12-06T12:00:20Z");
        let live = Leader::read(&lease(Some("laptop-42"), "2026-12-06T12:00:17.000000Z", Some("0.1.0")), now);
        assert!(live.alive);
        assert_eq!(live.version.as_deref(), Some("0.1.0"));
        assert_eq!(live.describe(), "leader laptop-42 (Lease default/agents-operator, renewed 3s ago)");
        let stale = Leader::read(&lease(Some("laptop-42"), "2026-12-06T11:59:00.000000Z", None), now);
        assert!(!stale.alive);
        assert_eq!(stale.renewed_ago, Some(80));
        let released = Leader::read(&lease(None, "2026-12-06T12:00:19.000000Z", None), now);
        assert!(!released.alive, "a released Lease has no holder");
        assert!(released.describe().starts_with("leader none (released)"));
    }
}
