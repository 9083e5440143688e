//! API writes by what they were, as the operator counts them and as the API server does.

use std::ops::{Add, Sub};

#[derive(Debug, Default, Clone, Copy)]
pub struct Writes {
    /// Server-side applies of an Agent's child kinds.
    pub applies: f64,
    /// Writes of Agents' status.
    pub status: f64,
    pub events: f64,
    pub other: f64,
}

impl Writes {
    pub fn total(&self) -> f64 {
        self.applies + self.status + self.events + self.other
    }

    /// From the operator's `agents_operator_api_writes_total` (labelled by kind and verb).
    pub fn of_operator(metrics: &str) -> Writes {
        let mut writes = Writes::default();
        for (labels, value) in samples(metrics, "agents_operator_api_writes_total") {
            let slot = match (label(labels, "kind"), label(labels, "verb")) {
                (_, "apply") => &mut writes.applies,
                ("Agent", "status") => &mut writes.status,
                ("Event", _) => &mut writes.events,
                _ => &mut writes.other,
            };
            *slot += value;
        }
        writes
    }

    /// From the API server's `apiserver_request_total`: every client's writes. Applies of the
    /// child kinds and writes of Agents' status come from the operator alone; Events from the
    /// operator, the scheduler and kube-controller-manager; the rest from the benchmark's creates
    /// and from what kube-controller-manager, the scheduler and KWOK do for the Deployments.
    pub fn of_apiserver(metrics: &str) -> Writes {
        const CHILDREN: [&str; 7] = [
            "serviceaccounts",
            "configmaps",
            "services",
            "deployments",
            "horizontalpodautoscalers",
            "poddisruptionbudgets",
            "networkpolicies",
        ];
        const WRITES: [&str; 6] = ["POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"];
        let mut writes = Writes::default();
        for (labels, value) in samples(metrics, "apiserver_request_total") {
            let verb = label(labels, "verb");
            if !WRITES.contains(&verb) {
                continue;
            }
            let (resource, subresource) = (label(labels, "resource"), label(labels, "subresource"));
            let slot = if verb == "APPLY" && subresource.is_empty() && CHILDREN.contains(&resource) {
                &mut writes.applies
            } else if resource == "agents" && subresource == "status" {
                &mut writes.status
            } else if resource == "events" {
                &mut writes.events
            } else {
                &mut writes.other
            };
            *slot += value;
        }
        writes
    }
}

impl Add for Writes {
    type Output = Writes;

    fn add(self, other: Writes) -> Writes {
        Writes {
            applies: self.applies + other.applies,
            status: self.status + other.status,
            events: self.events + other.events,
            other: self.other + other.other,
        }
    }
}

impl Sub for Writes {
    type Output = Writes;

    fn sub(self, other: Writes) -> Writes {
        Writes {
            applies: self.applies - other.applies,
            status: self.status - other.status,
            events: self.events - other.events,
            other: self.other - other.other,
        }
    }
}

/// `(labels, value)` of each labelled sample of a metric family in the Prometheus text format.
fn samples<'a>(metrics: &'a str, family: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
    metrics.lines().filter_map(move |line| {
        let (labels, value) = line.strip_prefix(family)?.strip_prefix('{')?.rsplit_once("} ")?;
        Some((labels, value.trim().parse().ok()?))
    })
}

/// One label's value; empty when absent. Values here never hold a comma or a quote.
fn label<'a>(labels: &'a str, name: &str) -> &'a str {
    labels
        .split(',')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix("=\"")?.strip_suffix('"'))
        .unwrap_or_default()
}
