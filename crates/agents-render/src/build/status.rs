//! An AgentBuild's status, mirrored from its current PipelineRun and that run's TaskRun.

use agents_api::build::{BuildStep, StepState};
use agents_api::conditions::{self, Desired, reasons, types};
use agents_api::{AgentBuild, AgentBuildStatus, BuildPhase};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::core::DynamicObject;

use super::tekton::{Outcome, RunStatus, StepStatus};
use super::{RESULT_DIGEST, STEPS, run_name};

/// What the operator saw while reconciling one AgentBuild.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub build: &'a AgentBuild,
    /// Whether the cluster serves `tekton.dev/v1` PipelineRuns.
    pub tekton_served: bool,
    /// The run of the current request, once it exists.
    pub run: Option<&'a DynamicObject>,
    /// That run's TaskRun, once Tekton created it.
    pub task_run: Option<&'a DynamicObject>,
    /// Why the run could not be created, if it could not.
    pub failure: Option<&'a str>,
}

/// Failure reasons a run can end with (besides the condition reasons of `agents_api`).
pub mod failure {
    pub const CLONE_FAILED: &str = "CloneFailed";
    pub const BUILD_FAILED: &str = "BuildFailed";
    pub const PUSH_FAILED: &str = "PushFailed";
    pub const TIMED_OUT: &str = "TimedOut";
    pub const CANCELLED: &str = "Cancelled";
    pub const RUN_NOT_CREATED: &str = "RunNotCreated";
}

struct Assessment {
    phase: BuildPhase,
    reason: &'static str,
    message: String,
    digest: Option<String>,
}

impl Assessment {
    fn new(phase: BuildPhase, reason: &'static str, message: impl Into<String>) -> Self {
        Assessment { phase, reason, message: message.into(), digest: None }
    }
}

/// The whole status. Unchanged observations give a status equal to the current one, so the
/// operator writes nothing.
pub fn status(observed: Observed<'_>, now: &Time) -> AgentBuildStatus {
    let build = observed.build;
    let previous = build.status.clone().unwrap_or_default();
    let run_status = observed.run.map(RunStatus::of).unwrap_or_default();
    let task_status = observed.task_run.map(RunStatus::of).unwrap_or_default();
    let finished = matches!(run_status.outcome(), Outcome::Succeeded | Outcome::Failed);
    let steps: Vec<BuildStep> = if observed.run.is_some() {
        STEPS.iter().map(|name| step(name, task_status.steps.iter().find(|s| s.name == *name), finished)).collect()
    } else {
        Vec::new()
    };
    let assessment = assess(observed, &run_status, &task_status, &steps);
    let (digest, image) = match &assessment.digest {
        Some(digest) => {
            let spec = &build.spec;
            (Some(digest.clone()), Some(format!("{}:{}@{digest}", spec.image, spec.tag)))
        }
        None => (previous.digest.clone(), previous.image.clone()),
    };
    let mut desired = vec![Desired::new(
        types::READY,
        assessment.phase == BuildPhase::Succeeded,
        assessment.reason,
        assessment.message.clone(),
    )];
    desired.extend(assessment.phase.progress().condition(assessment.reason, &assessment.message));
    let in_run = observed.run.is_some();
    AgentBuildStatus {
        phase: Some(assessment.phase),
        run_name: observed.run.map(|_| run_name(build)),
        steps,
        start_time: run_status.start_time.clone().filter(|_| in_run),
        completion_time: run_status.completion_time.clone().filter(|_| in_run),
        reason: Some(assessment.reason.to_string()),
        message: Some(assessment.message),
        digest,
        image,
        observed_generation: build.metadata.generation,
        conditions: conditions::merge(&previous.conditions, &desired, build.metadata.generation, now),
    }
}

fn assess(observed: Observed<'_>, run: &RunStatus, task: &RunStatus, steps: &[BuildStep]) -> Assessment {
    let name = run_name(observed.build);
    if !observed.tekton_served {
        return Assessment::new(
            BuildPhase::Pending,
            reasons::TEKTON_NOT_INSTALLED,
            "the cluster does not serve tekton.dev/v1 PipelineRuns: install Tekton Pipelines \
             (`kubectl agents check` shows what is missing); the build starts once it is installed",
        );
    }
    if let Some(failure) = observed.failure {
        return Assessment::new(
            BuildPhase::Failed,
            failure::RUN_NOT_CREATED,
            format!("could not create PipelineRun {name}: {failure}"),
        );
    }
    if observed.run.is_none() {
        return Assessment::new(BuildPhase::Pending, reasons::PENDING, format!("creating PipelineRun {name}"));
    }
    match run.outcome() {
        Outcome::NotStarted => Assessment::new(
            BuildPhase::Pending,
            reasons::PENDING,
            format!("PipelineRun {name} waits for Tekton to start it"),
        ),
        Outcome::Running => {
            let current = steps.iter().find(|s| !s.state.is_finished()).map(|s| s.name.as_str()).unwrap_or("build");
            Assessment::new(BuildPhase::Running, reasons::RUNNING, format!("PipelineRun {name}: {current} is running"))
        }
        Outcome::Succeeded => match run.result(RESULT_DIGEST) {
            Some(digest) => {
                let spec = &observed.build.spec;
                let mut a = Assessment::new(
                    BuildPhase::Succeeded,
                    reasons::SUCCEEDED,
                    format!("pushed {}:{}@{digest}", spec.image, spec.tag),
                );
                a.digest = Some(digest.to_string());
                a
            }
            None => Assessment::new(
                BuildPhase::Failed,
                reasons::NO_DIGEST,
                format!(
                    "PipelineRun {name} succeeded but reported no {RESULT_DIGEST} result: the pushed image cannot be named by digest"
                ),
            ),
        },
        Outcome::Failed => {
            let tekton_reason = run.succeeded().and_then(|c| c.reason.clone()).unwrap_or_default();
            let failed_step = steps.iter().find(|s| s.state == StepState::Failed).map(|s| s.name.as_str());
            // A failed step is best explained by its TaskRun; anything else by the PipelineRun.
            let sources = if failed_step.is_some() {
                [task.succeeded(), run.succeeded()]
            } else {
                [run.succeeded(), task.succeeded()]
            };
            let detail = sources
                .into_iter()
                .flatten()
                .filter_map(|c| c.message.clone())
                .find(|m| !m.is_empty())
                .unwrap_or_else(|| "the run failed".into());
            let reason = if tekton_reason == "CouldntGetPipelineResult" {
                // Every step ran, but the push step wrote no digest.
                reasons::NO_DIGEST
            } else if tekton_reason.contains("Timeout") {
                failure::TIMED_OUT
            } else if tekton_reason.contains("Cancelled") {
                failure::CANCELLED
            } else {
                match failed_step {
                    Some("clone") => failure::CLONE_FAILED,
                    Some("build") => failure::BUILD_FAILED,
                    Some("push") => failure::PUSH_FAILED,
                    _ => reasons::RUN_FAILED,
                }
            };
            let message = match failed_step {
                Some(step) => format!("PipelineRun {name}: step {step} failed: {detail}"),
                None => format!("PipelineRun {name} failed: {detail}"),
            };
            Assessment::new(BuildPhase::Failed, reason, message)
        }
    }
}

/// One step's state from the TaskRun's view of its container.
fn step(name: &str, observed: Option<&StepStatus>, run_finished: bool) -> BuildStep {
    let mut step = BuildStep {
        name: name.to_string(),
        state: if run_finished { StepState::Skipped } else { StepState::Pending },
        start_time: None,
        completion_time: None,
        reason: None,
    };
    let Some(observed) = observed else { return step };
    let state = &observed.state;
    if let Some(terminated) = &state.terminated {
        step.start_time = terminated.started_at.clone();
        step.completion_time = terminated.finished_at.clone();
        step.state = if observed.termination_reason.as_deref() == Some("Skipped") {
            StepState::Skipped
        } else if terminated.exit_code == 0 {
            StepState::Succeeded
        } else {
            step.reason = Some(match &terminated.reason {
                Some(reason) => format!("{reason} (exit code {})", terminated.exit_code),
                None => format!("exit code {}", terminated.exit_code),
            });
            StepState::Failed
        };
    } else if let Some(running) = &state.running {
        step.start_time = running.started_at.clone();
        step.state = if run_finished { StepState::Skipped } else { StepState::Running };
    } else if let Some(waiting) = &state.waiting {
        step.reason = waiting.reason.clone();
    }
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::{SPEC, build};
    use crate::build::pipeline_run;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    fn now() -> Time {
        Time(Timestamp::from_second(1_800_000_000).unwrap())
    }

    fn with_status(mut object: DynamicObject, status: serde_json::Value) -> DynamicObject {
        object.data["status"] = status;
        object
    }

    fn task_run(steps: serde_json::Value, condition: serde_json::Value) -> DynamicObject {
        let mut object = DynamicObject::new("research-x-build", &crate::build::task_run_resource());
        object.data = json!({"status": {"podName": "research-x-build-pod", "steps": steps, "conditions": [condition]}});
        object
    }

    fn observe(b: &AgentBuild, run: Option<&DynamicObject>, task: Option<&DynamicObject>) -> AgentBuildStatus {
        status(Observed { build: b, tekton_served: true, run, task_run: task, failure: None }, &now())
    }

    #[test]
    fn without_tekton_the_build_waits_and_says_why() {
        let b = build(SPEC);
        let s = status(Observed { build: &b, tekton_served: false, run: None, task_run: None, failure: None }, &now());
        assert_eq!(s.phase, Some(BuildPhase::Pending));
        assert_eq!(s.reason.as_deref(), Some("TektonNotInstalled"));
        assert!(s.message.unwrap().contains("install Tekton Pipelines"));
        assert!(s.steps.is_empty());
    }

    #[test]
    fn a_running_step_is_reported_with_the_ones_before_it() {
        let b = build(SPEC);
        let run = with_status(
            pipeline_run(&b).unwrap(),
            json!({"startTime": "2027-01-15T08:00:00Z", "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "Running"}]}),
        );
        let task = task_run(
            json!([
                {"name": "clone", "terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2027-01-15T08:00:01Z", "finishedAt": "2027-01-15T08:00:03Z"}},
                {"name": "build", "running": {"startedAt": "2027-01-15T08:00:03Z"}},
            ]),
            json!({"type": "Succeeded", "status": "Unknown", "reason": "Running"}),
        );
        let s = observe(&b, Some(&run), Some(&task));
        assert_eq!(s.phase, Some(BuildPhase::Running));
        let states: Vec<StepState> = s.steps.iter().map(|s| s.state).collect();
        assert_eq!(states, [StepState::Succeeded, StepState::Running, StepState::Pending]);
        assert_eq!(s.run_name, Some(run_name(&b)));
        assert!(s.start_time.is_some() && s.completion_time.is_none());
        assert!(s.message.unwrap().ends_with("build is running"));
        assert_eq!(s.image, None);
    }

    #[test]
    fn success_names_the_image_by_digest_and_is_kept_through_the_next_run() {
        let mut b = build(SPEC);
        let done = json!({"type": "Succeeded", "status": "True", "reason": "Succeeded"});
        let run = with_status(
            pipeline_run(&b).unwrap(),
            json!({"completionTime": "2027-01-15T08:01:00Z", "conditions": [done], "results": [{"name": "IMAGE_DIGEST", "value": "sha256:abc"}]}),
        );
        let s = observe(&b, Some(&run), None);
        assert_eq!(s.phase, Some(BuildPhase::Succeeded));
        assert_eq!(s.digest.as_deref(), Some("sha256:abc"));
        assert_eq!(s.image.as_deref(), Some("ghcr.io/org/research:v1@sha256:abc"));
        assert_eq!(s.conditions[0].status, "True");
        // Unchanged observations: an equal status (nothing to write).
        b.status = Some(s.clone());
        assert_eq!(observe(&b, Some(&run), None), s);

        // A new request: the new run is pending, the last image stays.
        b.spec.tag = "v2".into();
        let next = observe(&b, None, None);
        assert_eq!(next.phase, Some(BuildPhase::Pending));
        assert_eq!(next.image.as_deref(), Some("ghcr.io/org/research:v1@sha256:abc"));
        assert_eq!(next.run_name, None);
    }

    #[test]
    fn success_without_a_digest_is_a_failure() {
        let b = build(SPEC);
        let run = with_status(
            pipeline_run(&b).unwrap(),
            json!({"conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}]}),
        );
        let s = observe(&b, Some(&run), None);
        assert_eq!((s.phase, s.reason.as_deref()), (Some(BuildPhase::Failed), Some("NoDigest")));
        assert_eq!(s.image, None);
    }

    #[test]
    fn a_failed_step_names_the_reason_and_skips_the_rest() {
        let b = build(SPEC);
        let failed = json!({"type": "Succeeded", "status": "False", "reason": "Failed", "message": "Tasks Completed: 1 (Failed: 1)"});
        let run = with_status(pipeline_run(&b).unwrap(), json!({"conditions": [failed]}));
        let task = task_run(
            json!([
                {"name": "clone", "terminated": {"exitCode": 128, "reason": "Error"}},
                {"name": "build", "terminated": {"exitCode": 1, "reason": "Error"}, "terminationReason": "Skipped"},
            ]),
            json!({"type": "Succeeded", "status": "False", "reason": "Failed", "message": "\"step-clone\" exited with code 128"}),
        );
        let s = observe(&b, Some(&run), Some(&task));
        assert_eq!((s.phase, s.reason.as_deref()), (Some(BuildPhase::Failed), Some("CloneFailed")));
        let states: Vec<StepState> = s.steps.iter().map(|s| s.state).collect();
        assert_eq!(states, [StepState::Failed, StepState::Skipped, StepState::Skipped]);
        assert_eq!(s.steps[0].reason.as_deref(), Some("Error (exit code 128)"));
        assert!(s.message.unwrap().contains("step clone failed: \"step-clone\" exited with code 128"));
    }

    #[test]
    fn timeouts_and_refused_runs_have_their_own_reasons() {
        let b = build(SPEC);
        let run = with_status(
            pipeline_run(&b).unwrap(),
            json!({"conditions": [{"type": "Succeeded", "status": "False", "reason": "PipelineRunTimeout", "message": "timed out after 1h"}]}),
        );
        assert_eq!(observe(&b, Some(&run), None).reason.as_deref(), Some("TimedOut"));
        let no_result = with_status(
            pipeline_run(&b).unwrap(),
            json!({"conditions": [{"type": "Succeeded", "status": "False", "reason": "CouldntGetPipelineResult",
                "message": "invalid pipelineresults [IMAGE_DIGEST IMAGE_URL], the referenced results don't exist"}]}),
        );
        let s = observe(&b, Some(&no_result), None);
        assert_eq!(s.reason.as_deref(), Some("NoDigest"));
        assert!(s.message.unwrap().contains("the referenced results don't exist"));
        let refused = status(
            Observed { build: &b, tekton_served: true, run: None, task_run: None, failure: Some("forbidden") },
            &now(),
        );
        assert_eq!((refused.phase, refused.reason.as_deref()), (Some(BuildPhase::Failed), Some("RunNotCreated")));
    }
}
