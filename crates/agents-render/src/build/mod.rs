//! An AgentBuild's run and status.
//!
//! Each build request (the spec, except `historyLimit`, plus the `agents.dev/rebuild` annotation)
//! has a key; its run is the `tekton.dev/v1` PipelineRun `<build>-<key>`. The name alone says
//! whether a request already has its run, so a request is never run twice, even across operator
//! restarts. The run is one Tekton task whose three steps share a directory: `clone`, `build`
//! (kaniko, to a tarball) and `push` (crane, writing the `IMAGE_DIGEST` result).

mod next_run;
mod pipeline_run;
pub mod status;
pub mod tekton;

use agents_api::build::REBUILD_ANNOTATION;
use agents_api::{AgentBuild, BuildPhase};
use kube::ResourceExt;
use kube::core::{ApiResource, GroupVersionKind};

pub use next_run::next_run;
pub use pipeline_run::{RESULT_DIGEST, RESULT_URL, STEPS, pipeline_run, step_container};

use crate::agent::Dependency;

/// Annotation on a run: the key of the request it carries out.
pub const REQUEST_ANNOTATION: &str = "agents.dev/build-request";

/// Annotation on a run: its number among the build's runs (1, 2, ...), so runs created within
/// the same second (creation timestamps have seconds only) still sort oldest first.
pub const SEQUENCE_ANNOTATION: &str = "agents.dev/build-sequence";

/// A run's number (0 when it has none).
pub fn sequence(run: &kube::core::DynamicObject) -> u64 {
    run.annotations().get(SEQUENCE_ANNOTATION).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Sorts runs oldest first: by number, then by creation time and name.
pub fn sort_runs<R: std::borrow::Borrow<kube::core::DynamicObject>>(runs: &mut [R]) {
    runs.sort_by(|a, b| {
        let key = |r: &kube::core::DynamicObject| {
            (sequence(r), r.metadata.creation_timestamp.as_ref().map(|t| t.0), r.metadata.name.clone())
        };
        key(a.borrow()).cmp(&key(b.borrow()))
    });
}

/// `tekton.dev/v1` PipelineRun.
pub fn pipeline_run_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("tekton.dev", "v1", "PipelineRun"), "pipelineruns")
}

/// `tekton.dev/v1` TaskRun.
pub fn task_run_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("tekton.dev", "v1", "TaskRun"), "taskruns")
}

/// The CRD whose presence means the cluster runs Tekton Pipelines.
pub const PIPELINE_RUN_CRD: &str = "pipelineruns.tekton.dev";

/// The key of the build's current request: 10 hex digits of the hash of what is built (the spec
/// without `historyLimit`) and of the rebuild annotation.
pub fn request_key(build: &AgentBuild) -> String {
    let mut spec = build.spec.clone();
    spec.history_limit = 0;
    let rebuild = build.annotations().get(REBUILD_ANNOTATION).cloned().unwrap_or_default();
    let mut key = crate::hash::of(&(spec, rebuild));
    key.truncate(10);
    key
}

/// The name of the run that carries out the build's current request.
pub fn run_name(build: &AgentBuild) -> String {
    format!("{}-{}", build.name_any(), request_key(build))
}

/// What an Agent with `buildRef` naming this build can run: the last image it pushed, by digest.
/// A newer run in progress does not stop the Agent; it rolls forward when that run succeeds.
pub fn dependency(build: Option<&AgentBuild>) -> Dependency {
    let Some(build) = build else { return Dependency::Missing };
    let status = build.status.clone().unwrap_or_default();
    if let Some(image) = status.image {
        return Dependency::Ready(image);
    }
    let why = status.message.map(|m| format!(": {m}")).unwrap_or_default();
    Dependency::NotReady(match status.phase {
        Some(BuildPhase::Failed) => format!("its build failed{why}"),
        Some(BuildPhase::Running) => {
            format!("its image is being built (run {})", status.run_name.as_deref().unwrap_or("starting"))
        }
        _ => format!("no build has succeeded yet{why}"),
    })
}

#[cfg(test)]
pub(crate) mod fixtures {
    use agents_api::AgentBuild;

    /// An AgentBuild as the API server returns it, from a spec in YAML.
    pub fn build(spec_yaml: &str) -> AgentBuild {
        let spec: serde_json::Value = serde_norway::from_str(spec_yaml).expect("valid YAML");
        serde_json::from_value(serde_json::json!({
            "apiVersion": "agents.dev/v1alpha1",
            "kind": "AgentBuild",
            "metadata": {"name": "research", "namespace": "team-a", "uid": "b-1234", "generation": 2},
            "spec": spec,
        }))
        .expect("a valid AgentBuild")
    }

    pub const SPEC: &str = "git: {url: 'https://github.com/org/research.git', revision: v1.2.0}\n\
                            image: ghcr.io/org/research\ntag: v1\n";
}

#[cfg(test)]
mod tests {
    use super::fixtures::{SPEC, build};
    use super::*;
    use agents_api::AgentBuildStatus;

    #[test]
    fn a_request_is_its_spec_and_its_rebuild_annotation() {
        let first = build(SPEC);
        assert_eq!(request_key(&first), request_key(&build(SPEC)), "stable");
        assert_eq!(run_name(&first).len(), "research-".len() + 10);

        let mut kept = first.clone();
        kept.spec.history_limit = 9;
        assert_eq!(request_key(&kept), request_key(&first), "keeping more runs is not a new request");

        let mut retagged = first.clone();
        retagged.spec.tag = "v2".into();
        assert_ne!(request_key(&retagged), request_key(&first));

        let mut rebuilt = first.clone();
        rebuilt.metadata.annotations = Some([(REBUILD_ANNOTATION.to_string(), "2026-01-01T00:00:00Z".into())].into());
        assert_ne!(request_key(&rebuilt), request_key(&first));
    }

    #[test]
    fn runs_of_the_same_second_sort_by_their_number() {
        let run = |name: &str, sequence: &str| {
            let mut r = kube::core::DynamicObject::new(name, &pipeline_run_resource());
            r.metadata.annotations = Some([(SEQUENCE_ANNOTATION.to_string(), sequence.to_string())].into());
            r
        };
        let mut runs = vec![run("research-ffff", "2"), run("research-aaaa", "3"), run("research-cccc", "1")];
        sort_runs(&mut runs);
        let names: Vec<_> = runs.iter().map(|r| r.name_any()).collect();
        assert_eq!(names, ["research-cccc", "research-ffff", "research-aaaa"]);
    }

    #[test]
    fn an_agent_runs_the_last_pushed_image_even_while_a_new_run_builds() {
        assert_eq!(dependency(None), Dependency::Missing);
        let mut b = build(SPEC);
        assert!(matches!(dependency(Some(&b)), Dependency::NotReady(why) if why == "no build has succeeded yet"));
        b.status = Some(AgentBuildStatus {
            phase: Some(BuildPhase::Failed),
            message: Some("clone: exit code 128".into()),
            ..Default::default()
        });
        assert_eq!(dependency(Some(&b)), Dependency::NotReady("its build failed: clone: exit code 128".into()));
        b.status = Some(AgentBuildStatus {
            phase: Some(BuildPhase::Running),
            run_name: Some("research-2".into()),
            image: Some("ghcr.io/org/research:v1@sha256:aa".into()),
            ..Default::default()
        });
        assert_eq!(dependency(Some(&b)), Dependency::Ready("ghcr.io/org/research:v1@sha256:aa".into()));
    }
}
