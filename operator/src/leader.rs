//! Leader election on the `coordination.k8s.io` Lease `agents-operator`, as client-go's
//! `leaderelection` runs it: the same fields, so `kubectl get lease` and `kubectl agents status`
//! read it alike; a write names the resourceVersion it read, so of two replicas taking a free
//! Lease one wins and the other gets a conflict; and a Lease expires by the clock of the replica
//! that watches it (when it last saw the holder renew), never by comparing two machines' clocks.
//!
//! Unlike client-go, which polls, a standby watches the Lease: when the leader releases it on
//! shutdown, the standby takes it within the watch's latency instead of its next poll. That, and
//! its caches already filled while it waited (`lib.rs`), is what makes a standby warm.
//! kube-lease-manager, used before, sleeps until the expiry it last read, so a release went
//! unnoticed for up to the Lease's duration.

use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::args::Args;

/// The Lease every replica competes for.
pub const LEASE_NAME: &str = "agents-operator";
/// How soon a write that failed (a conflict, the API server away) is tried again, unless the
/// watch says something first.
const RETRY: Duration = Duration::from_secs(1);

/// How long a Lease lasts, and how early its holder renews it.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub duration: Duration,
    pub renew_before: Duration,
}

/// The Lease as this replica last saw it.
#[derive(Debug, Clone)]
struct Seen {
    lease: Option<Lease>,
    /// When its holder or renewal last changed, by this replica's clock.
    changed_at: Instant,
    /// Whether the watch's first list is in: before it, a missing Lease may just be unseen.
    listed: bool,
    /// During a (re)list, whether it had the Lease: one missing from it was deleted.
    in_list: bool,
}

/// What to do next about the Lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Write this replica in as the holder: the Lease is free, released or expired.
    Take,
    /// Write a new renewal time: this replica holds it and the renewal is due.
    Renew,
    /// Nothing until then (or until the watch shows a change).
    WaitUntil(Instant),
    /// This replica held it and could not renew it in time: another may hold it now.
    Lost,
}

/// The next step of replica `me`, at `now`, given what it `seen`; nothing is written before
/// `retry_at` after a failed write.
fn next_step(seen: &Seen, me: &str, timing: Timing, now: Instant, retry_at: Instant) -> Step {
    if !seen.listed {
        return Step::WaitUntil(now + timing.duration);
    }
    let spec = seen.lease.as_ref().and_then(|l| l.spec.as_ref());
    let holder = spec.and_then(|s| s.holder_identity.as_deref());
    // As client-go: the duration the holder wrote, which may not be this replica's.
    let written = spec.and_then(|s| s.lease_duration_seconds).and_then(|d| u64::try_from(d).ok());
    let expires_at = seen.changed_at + written.map_or(timing.duration, Duration::from_secs);
    match holder.filter(|h| !h.is_empty()) {
        Some(holder) if holder == me => {
            let due = expires_at - timing.renew_before;
            if now >= expires_at {
                Step::Lost
            } else if now < due {
                Step::WaitUntil(due)
            } else if now < retry_at {
                // A renewal that failed is tried again, but no later than the Lease expires.
                Step::WaitUntil(retry_at.min(expires_at))
            } else {
                Step::Renew
            }
        }
        Some(_) if now < expires_at => Step::WaitUntil(expires_at),
        _ if now < retry_at => Step::WaitUntil(retry_at),
        _ => Step::Take,
    }
}

/// The Lease with `me` as its holder, renewed at `now`, labelled with this operator's name and
/// version (`kubectl agents check` and `version` find an operator that runs outside the cluster
/// by its live Lease).
fn claimed(seen: Option<&Lease>, namespace: &str, me: &str, timing: Timing, now: Timestamp) -> Lease {
    let mut lease = seen.cloned().unwrap_or_else(|| Lease {
        metadata: ObjectMeta { name: Some(LEASE_NAME.into()), namespace: Some(namespace.into()), ..Default::default() },
        spec: None,
    });
    let labels = lease.metadata.labels.get_or_insert_default();
    labels.insert("app.kubernetes.io/name".into(), "agents-operator".into());
    labels.insert(agents_render::labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
    let previous = lease.spec.take().unwrap_or_default();
    let taken = previous.holder_identity.as_deref() != Some(me);
    lease.spec = Some(LeaseSpec {
        holder_identity: Some(me.into()),
        lease_duration_seconds: Some(i32::try_from(timing.duration.as_secs()).unwrap_or(i32::MAX)),
        acquire_time: if taken { Some(MicroTime(now)) } else { previous.acquire_time.clone() },
        renew_time: Some(MicroTime(now)),
        // As client-go counts them: every take of a Lease that existed.
        lease_transitions: Some(previous.lease_transitions.unwrap_or(0) + i32::from(taken && seen.is_some())),
        ..previous
    });
    lease
}

impl Seen {
    fn new(now: Instant) -> Self {
        Seen { lease: None, changed_at: now, listed: false, in_list: false }
    }

    /// Takes in what the watch of the Lease says, at `now`.
    fn observe(&mut self, event: watcher::Event<Lease>, now: Instant) {
        match event {
            watcher::Event::Init => self.in_list = false,
            watcher::Event::InitApply(lease) => {
                self.in_list = true;
                self.update(Some(lease), now);
            }
            watcher::Event::InitDone => {
                if !self.in_list {
                    self.update(None, now);
                }
                self.listed = true;
            }
            watcher::Event::Apply(lease) => self.update(Some(lease), now),
            watcher::Event::Delete(_) => self.update(None, now),
        }
    }

    /// Takes in a newer Lease (from the watch, or a write's answer) seen at `now`; its expiry
    /// restarts only when the holder or the renewal changed.
    fn update(&mut self, lease: Option<Lease>, now: Instant) {
        let record = |l: &Option<Lease>| {
            l.as_ref().and_then(|l| l.spec.as_ref()).map(|s| (s.holder_identity.clone(), s.renew_time.clone()))
        };
        if record(&lease) != record(&self.lease) {
            self.changed_at = now;
        }
        self.lease = lease;
    }
}

/// This replica's part in the election, running in a task of its own.
pub struct Candidacy {
    leading: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Joins the election; [`Candidacy::elected`] resolves once this replica leads.
pub fn stand(client: &kube::Client, args: &Args) -> Candidacy {
    let identity = format!("{}-{}", std::env::var("POD_NAME").unwrap_or_else(|_| hostname()), std::process::id());
    let namespace = args.lease_namespace();
    let timing = Timing {
        duration: Duration::from_secs(args.lease_duration),
        renew_before: Duration::from_secs(args.lease_grace.min(args.lease_duration.saturating_sub(1))),
    };
    tracing::info!(%identity, lease = %format!("{namespace}/{LEASE_NAME}"), "waiting to become the leader");
    let (leading_tx, leading) = watch::channel(false);
    let (stop, stopping) = watch::channel(false);
    let api = Api::namespaced(client.clone(), &namespace);
    let task = tokio::spawn(campaign(api, namespace, identity, timing, leading_tx, stopping));
    Candidacy { leading, stop, task }
}

/// Watches the Lease and takes, renews or waits, until stopped or the Lease is lost; then, if
/// it holds the Lease, gives it up.
async fn campaign(
    api: Api<Lease>,
    namespace: String,
    me: String,
    timing: Timing,
    leading: watch::Sender<bool>,
    mut stopping: watch::Receiver<bool>,
) {
    let config = watcher::Config::default().fields(&format!("metadata.name={LEASE_NAME}"));
    let mut changes = std::pin::pin!(watcher(api.clone(), config).default_backoff());
    let mut seen = Seen::new(Instant::now());
    let mut retry_at = Instant::now();
    loop {
        let now = Instant::now();
        match next_step(&seen, &me, timing, now, retry_at) {
            Step::Take | Step::Renew => match write(&api, &seen, &namespace, &me, timing).await {
                Ok(lease) => seen.update(Some(lease), now),
                Err(kube::Error::Api(status)) if status.code == 404 => seen.update(None, now),
                Err(e) => {
                    if !is_conflict(&e) {
                        tracing::warn!("could not write the leader Lease {namespace}/{LEASE_NAME}: {e}");
                    }
                    retry_at = Instant::now() + RETRY;
                }
            },
            Step::WaitUntil(until) => tokio::select! {
                change = changes.next() => match change {
                    Some(Ok(event)) => seen.observe(event, Instant::now()),
                    Some(Err(e)) => tracing::warn!("watching the leader Lease {namespace}/{LEASE_NAME}: {e}"),
                    None => return,
                },
                () = tokio::time::sleep_until(until) => {}
                _ = stopping.changed() => break,
            },
            Step::Lost => {
                tracing::error!(%me, "could not renew the leader Lease in time");
                leading.send_replace(false);
                return;
            }
        }
        let holds = seen.lease.as_ref().and_then(|l| l.spec.as_ref()).and_then(|s| s.holder_identity.as_deref())
            == Some(me.as_str());
        if holds != *leading.borrow() {
            if holds {
                tracing::info!(%me, "became the leader");
            }
            leading.send_replace(holds);
        }
    }
    if *leading.borrow() {
        release(&api, &seen, &namespace).await;
    }
}

/// Creates the Lease or replaces the version last seen, with `me` as its holder.
async fn write(api: &Api<Lease>, seen: &Seen, namespace: &str, me: &str, timing: Timing) -> kube::Result<Lease> {
    let lease = claimed(seen.lease.as_ref(), namespace, me, timing, Timestamp::now());
    match &seen.lease {
        None => api.create(&write_params(), &lease).await,
        Some(_) => api.replace(LEASE_NAME, &write_params(), &lease).await,
    }
}

fn write_params() -> PostParams {
    PostParams { field_manager: Some(format!("{}-lease", agents_render::FIELD_MANAGER)), ..Default::default() }
}

/// Frees the Lease held, so a standby takes it now rather than when it would expire.
async fn release(api: &Api<Lease>, seen: &Seen, namespace: &str) {
    let Some(mut lease) = seen.lease.clone() else { return };
    if let Some(spec) = lease.spec.as_mut() {
        spec.holder_identity = None;
        spec.renew_time = Some(MicroTime(Timestamp::now()));
    }
    match api.replace(LEASE_NAME, &write_params(), &lease).await {
        Ok(_) => tracing::info!("released the leader lease"),
        Err(e) => {
            tracing::warn!("could not release the leader Lease {namespace}/{LEASE_NAME} (it expires on its own): {e}")
        }
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 409)
}

impl Candidacy {
    /// Resolves once this replica leads; an error if the election stopped first.
    pub fn elected(&self) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        let mut leading = self.leading.clone();
        async move {
            leading.wait_for(|leads| *leads).await.context("the leader election stopped before this replica led")?;
            Ok(())
        }
    }

    /// Resolves when this replica, having led, leads no more (or the election stopped).
    pub async fn lost(&self) {
        let mut leading = self.leading.clone();
        if leading.wait_for(|leads| *leads).await.is_ok() {
            let _ = leading.wait_for(|leads| !*leads).await;
        }
    }

    /// Leaves the election, giving the Lease up if this replica holds it.
    pub async fn withdraw(self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(Duration::from_secs(5), self.task).await.is_err() {
            tracing::warn!("the leader election did not stop; the lease will expire on its own");
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "agents-operator".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing { duration: Duration::from_secs(15), renew_before: Duration::from_secs(5) };

    fn held_by(holder: Option<&str>, at: Instant) -> Seen {
        let lease = Lease {
            metadata: ObjectMeta { name: Some(LEASE_NAME.into()), ..Default::default() },
            spec: Some(LeaseSpec { holder_identity: holder.map(Into::into), ..Default::default() }),
        };
        Seen { lease: Some(lease), changed_at: at, listed: true, in_list: true }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_missing_or_released_lease_is_taken_at_once() {
        let t0 = Instant::now();
        let mut missing = Seen::new(t0);
        missing.observe(watcher::Event::Init, t0);
        missing.observe(watcher::Event::InitDone, t0);
        assert_eq!(next_step(&missing, "me", TIMING, t0, t0), Step::Take);
        assert_eq!(next_step(&held_by(None, t0), "me", TIMING, t0, t0), Step::Take);
        assert_eq!(next_step(&held_by(Some(""), t0), "me", TIMING, t0, t0), Step::Take);
    }

    #[test]
    fn nothing_is_written_before_the_watch_has_listed() {
        let t0 = Instant::now();
        let mut seen = Seen::new(t0);
        assert_eq!(next_step(&seen, "me", TIMING, t0, t0), Step::WaitUntil(t0 + secs(15)));
        seen.observe(watcher::Event::Init, t0);
        seen.observe(watcher::Event::InitApply(held_by(Some("other"), t0).lease.unwrap()), t0 + secs(1));
        seen.observe(watcher::Event::InitDone, t0 + secs(1));
        assert_eq!(next_step(&seen, "me", TIMING, t0 + secs(1), t0), Step::WaitUntil(t0 + secs(16)));
        // Deleted while the watch was away: missing from the relist.
        seen.observe(watcher::Event::Init, t0 + secs(2));
        seen.observe(watcher::Event::InitDone, t0 + secs(2));
        assert_eq!(next_step(&seen, "me", TIMING, t0 + secs(2), t0), Step::Take);
    }

    #[test]
    fn another_holder_is_waited_out_by_this_replicas_clock() {
        let t0 = Instant::now();
        let seen = held_by(Some("other"), t0);
        assert_eq!(next_step(&seen, "me", TIMING, t0 + secs(3), t0), Step::WaitUntil(t0 + secs(15)));
        assert_eq!(next_step(&seen, "me", TIMING, t0 + secs(15), t0), Step::Take);
    }

    #[test]
    fn a_holder_is_waited_out_for_the_duration_it_wrote() {
        let t0 = Instant::now();
        let mut seen = held_by(Some("other"), t0);
        seen.lease.as_mut().unwrap().spec.as_mut().unwrap().lease_duration_seconds = Some(4);
        assert_eq!(next_step(&seen, "me", TIMING, t0 + secs(1), t0), Step::WaitUntil(t0 + secs(4)));
    }

    #[test]
    fn the_holder_renews_before_expiry_and_is_lost_after_it() {
        let t0 = Instant::now();
        let seen = held_by(Some("me"), t0);
        assert_eq!(next_step(&seen, "me", TIMING, t0 + secs(1), t0), Step::WaitUntil(t0 + secs(10)));
        assert_eq!(next_step(&seen, "me", TIMING, t0 + secs(10), t0), Step::Renew);
        assert_eq!(next_step(&seen, "me", TIMING, t0 + secs(15), t0), Step::Lost);
    }

    #[test]
    fn a_failed_write_waits_for_the_retry_but_never_past_expiry() {
        let t0 = Instant::now();
        let free = held_by(None, t0);
        assert_eq!(next_step(&free, "me", TIMING, t0, t0 + secs(1)), Step::WaitUntil(t0 + secs(1)));
        let mine = held_by(Some("me"), t0);
        let late_retry = t0 + secs(20);
        assert_eq!(next_step(&mine, "me", TIMING, t0 + secs(12), late_retry), Step::WaitUntil(t0 + secs(15)));
    }

    #[test]
    fn only_a_change_of_holder_or_renewal_restarts_the_expiry() {
        let t0 = Instant::now();
        let mut seen = held_by(Some("other"), t0);
        let mut relabelled = seen.lease.clone();
        relabelled.as_mut().unwrap().metadata.labels = Some([("a".to_string(), "b".to_string())].into());
        seen.update(relabelled, t0 + secs(5));
        assert_eq!(seen.changed_at, t0);
        let mut renewed = seen.lease.clone();
        renewed.as_mut().unwrap().spec.as_mut().unwrap().renew_time = Some(MicroTime(Timestamp::now()));
        seen.update(renewed, t0 + secs(6));
        assert_eq!(seen.changed_at, t0 + secs(6));
    }

    #[test]
    fn a_claim_counts_a_transition_only_when_the_holder_changes() {
        let now = Timestamp::now();
        let first = claimed(None, "ns", "a", TIMING, now);
        let spec = first.spec.as_ref().unwrap();
        assert_eq!((spec.holder_identity.as_deref(), spec.lease_transitions), (Some("a"), Some(0)));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        let renewed = claimed(Some(&first), "ns", "a", TIMING, now);
        assert_eq!(renewed.spec.as_ref().unwrap().lease_transitions, Some(0));
        let taken = claimed(Some(&renewed), "ns", "b", TIMING, now);
        assert_eq!(taken.spec.as_ref().unwrap().lease_transitions, Some(1));
        assert_eq!(taken.metadata.labels.as_ref().unwrap()["app.kubernetes.io/name"], "agents-operator");
    }
}
