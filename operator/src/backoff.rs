//! How long a failed object waits before its next reconcile: 1 s, 2 s, 4 s, … up to 5 minutes,
//! per object, reset by a success.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kube::core::DynamicObject;
use kube::runtime::reflector::ObjectRef;

const LONGEST: Duration = Duration::from_secs(300);

/// A failure not followed by another within this long belongs to an object that is no longer
/// reconciled (deleted while failing: no success ever clears it), so it is forgotten.
const FORGOTTEN_AFTER: Duration = Duration::from_secs(2 * 300);

#[derive(Default)]
pub struct Backoffs {
    failures: HashMap<ObjectRef<DynamicObject>, Failures>,
}

struct Failures {
    count: u32,
    last: Instant,
}

impl Backoffs {
    /// Counts a failure of `object` at `now` and returns how long it waits.
    pub fn failed(&mut self, object: ObjectRef<DynamicObject>, now: Instant) -> Duration {
        self.failures.retain(|_, f| now.saturating_duration_since(f.last) < FORGOTTEN_AFTER);
        let failures = self.failures.entry(object).or_insert(Failures { count: 0, last: now });
        failures.count = (failures.count + 1).min(20);
        failures.last = now;
        Duration::from_secs(1u64 << (failures.count - 1).min(9)).min(LONGEST)
    }

    pub fn succeeded(&mut self, object: &ObjectRef<DynamicObject>) {
        self.failures.remove(object);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use agents_api::Agent;

    use super::*;

    fn agent(name: &str) -> ObjectRef<DynamicObject> {
        ObjectRef::<Agent>::new(name).within("ns").erase()
    }

    #[test]
    fn doubles_up_to_five_minutes_and_a_success_resets_it() {
        let mut backoffs = Backoffs::default();
        let now = Instant::now();
        let delays: Vec<u64> = (0..12).map(|_| backoffs.failed(agent("a"), now).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        backoffs.succeeded(&agent("a"));
        assert_eq!(backoffs.failed(agent("a"), now), Duration::from_secs(1));
    }

    #[test]
    fn an_object_no_longer_failing_is_forgotten() {
        let mut backoffs = Backoffs::default();
        let start = Instant::now();
        backoffs.failed(agent("deleted"), start);
        backoffs.failed(agent("failing"), start + Duration::from_secs(300));
        backoffs.failed(agent("failing"), start + Duration::from_secs(600));
        assert_eq!(backoffs.len(), 1, "the deleted Agent's failures are still kept");
        assert_eq!(backoffs.failed(agent("failing"), start + Duration::from_secs(900)), Duration::from_secs(4));
    }
}
