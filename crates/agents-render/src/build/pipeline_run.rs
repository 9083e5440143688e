//! The PipelineRun of one build request. Its pipeline and task are embedded (no Tekton catalog,
//! no cluster tasks), and every user-given string reaches the steps as a parameter passed through
//! the environment, never pasted into a script: a URL or build argument cannot inject commands.

use agents_api::AgentBuild;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::DynamicObject;
use serde_json::{Value, json};

use super::{REQUEST_ANNOTATION, pipeline_run_resource, request_key, run_name};
use crate::agent::Incomplete;
use crate::labels;

/// The steps of a run, in order.
pub const STEPS: [&str; 3] = ["clone", "build", "push"];
/// The task result (and pipeline result) holding the pushed image's digest.
pub const RESULT_DIGEST: &str = "IMAGE_DIGEST";
/// The task result (and pipeline result) holding the image pushed, with its tag.
pub const RESULT_URL: &str = "IMAGE_URL";

/// The pipeline's one task.
const TASK: &str = "build";
const GIT_IMAGE: &str = "docker.io/alpine/git:2.47.2";
const KANIKO_IMAGE: &str = "gcr.io/kaniko-project/executor:v1.23.2";
const CRANE_IMAGE: &str = "gcr.io/go-containerregistry/crane/debug:v0.20.2";
/// Where the steps share the source and the built image.
const WORK: &str = "/build";

/// The name Tekton gives a step's container in the TaskRun's pod.
pub fn step_container(step: &str) -> String {
    format!("step-{step}")
}

const CLONE_SCRIPT: &str = r#"#!/bin/sh
set -eu
export GIT_CONFIG_GLOBAL=/build/.gitconfig
git config --global init.defaultBranch main
git config --global advice.detachedHead false
if [ -n "${GIT_TOKEN:-}" ]; then
  # The token reaches git through a credential helper that reads the environment: it is never
  # on a command line, in the configuration file or in the log.
  git config --global credential.helper '!f() { echo username=x-access-token; echo "password=${GIT_TOKEN}"; }; f'
fi
git init -q /build/source
cd /build/source
git remote add origin "$GIT_URL"
echo "fetching $GIT_URL at $GIT_REVISION"
git fetch -q --depth=1 origin "$GIT_REVISION"
git checkout -q FETCH_HEAD
echo "checked out $(git rev-parse HEAD)"
"#;

const PUSH_SCRIPT: &str = r#"#!/busybox/sh
set -eu
echo "pushing $IMAGE"
ref=$(crane push /build/image.tar "$IMAGE")
digest="${ref#*@}"
printf '%s' "$digest" > "$DIGEST_PATH"
printf '%s' "$IMAGE" > "$URL_PATH"
echo "pushed $IMAGE@$digest"
"#;

/// The PipelineRun that carries out the build's current request, owned by the build.
pub fn pipeline_run(build: &AgentBuild) -> Result<DynamicObject, Incomplete> {
    let name = build.metadata.name.clone().ok_or(Incomplete("name"))?;
    let namespace = build.metadata.namespace.clone().ok_or(Incomplete("namespace"))?;
    let mut owner = build.controller_owner_ref(&()).ok_or(Incomplete("uid"))?;
    owner.block_owner_deletion = Some(true);
    let spec = &build.spec;
    let run = run_name(build);
    let mut object = DynamicObject::new(&run, &pipeline_run_resource());
    object.metadata = ObjectMeta {
        name: Some(run),
        namespace: Some(namespace),
        labels: Some(labels::build_labels(&name)),
        annotations: Some([(REQUEST_ANNOTATION.to_string(), request_key(build))].into()),
        owner_references: Some(vec![owner]),
        ..Default::default()
    };
    let image = format!("{}:{}", spec.image, spec.tag);
    let build_args: Vec<String> =
        spec.build_args.iter().map(|a| format!("--build-arg={}={}", a.name, a.value)).collect();
    let params = json!([
        {"name": "url", "value": spec.git.url},
        {"name": "revision", "value": spec.git.revision},
        {"name": "context-dir", "value": spec.git.context_dir},
        {"name": "dockerfile", "value": spec.dockerfile},
        {"name": "image", "value": image},
        {"name": "build-args", "value": build_args},
    ]);
    let param_specs = json!([
        {"name": "url", "type": "string"},
        {"name": "revision", "type": "string"},
        {"name": "context-dir", "type": "string"},
        {"name": "dockerfile", "type": "string"},
        {"name": "image", "type": "string"},
        {"name": "build-args", "type": "array", "default": []},
    ]);
    let task_params: Vec<Value> = ["url", "revision", "context-dir", "dockerfile", "image"]
        .iter()
        .map(|p| json!({"name": p, "value": format!("$(params.{p})")}))
        .chain([json!({"name": "build-args", "value": ["$(params.build-args[*])"]})])
        .collect();

    let work_mount = json!({"name": "work", "mountPath": WORK});
    let mut volumes = vec![json!({"name": "work", "emptyDir": {}})];
    let mut build_mounts = vec![work_mount.clone()];
    let mut push_mounts = vec![work_mount.clone()];
    let mut push_env = vec![
        json!({"name": "IMAGE", "value": "$(params.image)"}),
        json!({"name": "DIGEST_PATH", "value": format!("$(results.{RESULT_DIGEST}.path)")}),
        json!({"name": "URL_PATH", "value": format!("$(results.{RESULT_URL}.path)")}),
    ];
    if let Some(secret) = &spec.push_secret_ref {
        volumes.push(json!({
            "name": "registry-credentials",
            "secret": {"secretName": secret.name, "items": [{"key": secret.key, "path": "config.json"}]},
        }));
        // kaniko reads them to pull private base images, crane to push.
        build_mounts.push(json!({"name": "registry-credentials", "mountPath": "/kaniko/.docker", "readOnly": true}));
        push_mounts.push(json!({"name": "registry-credentials", "mountPath": "/registry", "readOnly": true}));
        push_env.push(json!({"name": "DOCKER_CONFIG", "value": "/registry"}));
    }
    let mut clone_env = vec![
        json!({"name": "GIT_URL", "value": "$(params.url)"}),
        json!({"name": "GIT_REVISION", "value": "$(params.revision)"}),
    ];
    if let Some(token) = &spec.git.token_secret_ref {
        clone_env.push(json!({
            "name": "GIT_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": token.name, "key": token.key}},
        }));
    }
    let context = format!("{WORK}/source/$(params.context-dir)");
    let steps = json!([
        {
            "name": STEPS[0],
            "image": GIT_IMAGE,
            "env": clone_env,
            "volumeMounts": [work_mount],
            "script": CLONE_SCRIPT,
        },
        {
            "name": STEPS[1],
            "image": KANIKO_IMAGE,
            "command": ["/kaniko/executor"],
            "args": [
                format!("--context=dir://{context}"),
                format!("--dockerfile={context}/$(params.dockerfile)"),
                "--destination=$(params.image)",
                "--no-push",
                format!("--tar-path={WORK}/image.tar"),
                "$(params.build-args[*])",
            ],
            "volumeMounts": build_mounts,
        },
        {
            "name": STEPS[2],
            "image": CRANE_IMAGE,
            "env": push_env,
            "volumeMounts": push_mounts,
            "script": PUSH_SCRIPT,
        },
    ]);
    object.data = json!({
        "spec": {
            "params": params,
            "timeouts": {"pipeline": spec.timeout},
            "pipelineSpec": {
                "params": param_specs,
                "results": [
                    {"name": RESULT_DIGEST, "type": "string", "value": format!("$(tasks.{TASK}.results.{RESULT_DIGEST})")},
                    {"name": RESULT_URL, "type": "string", "value": format!("$(tasks.{TASK}.results.{RESULT_URL})")},
                ],
                "tasks": [{
                    "name": TASK,
                    "params": task_params,
                    "taskSpec": {
                        "params": param_specs,
                        "results": [
                            {"name": RESULT_DIGEST, "type": "string", "description": "digest of the pushed image"},
                            {"name": RESULT_URL, "type": "string", "description": "the image pushed, with its tag"},
                        ],
                        "volumes": volumes,
                        "steps": steps,
                    },
                }],
            },
        },
    });
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::{SPEC, build};

    fn rendered(spec: &str) -> Value {
        serde_json::to_value(pipeline_run(&build(spec)).unwrap()).unwrap()
    }

    #[test]
    fn the_run_is_owned_labelled_and_named_after_its_request() {
        let b = build(SPEC);
        let run = rendered(SPEC);
        assert_eq!(run["apiVersion"], "tekton.dev/v1");
        assert_eq!(run["kind"], "PipelineRun");
        assert_eq!(run["metadata"]["name"], run_name(&b));
        assert_eq!(run["metadata"]["labels"]["agents.dev/build"], "research");
        assert_eq!(run["metadata"]["annotations"][REQUEST_ANNOTATION], request_key(&b));
        let owner = &run["metadata"]["ownerReferences"][0];
        assert_eq!((owner["kind"].as_str(), owner["controller"].as_bool()), (Some("AgentBuild"), Some(true)));
        assert_eq!(run["spec"]["timeouts"]["pipeline"], "1h");
    }

    #[test]
    fn three_steps_clone_build_and_push_with_kaniko() {
        let run = rendered(SPEC);
        let task = &run["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"];
        let steps: Vec<&str> = task["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(steps, STEPS);
        assert_eq!(task["steps"][1]["image"], KANIKO_IMAGE);
        // Every step has a script or a command: Tekton never asks a registry for an entrypoint.
        for step in task["steps"].as_array().unwrap() {
            assert!(step.get("script").is_some() || step.get("command").is_some(), "{step}");
        }
        let params = &run["spec"]["params"];
        assert_eq!(params[0], json!({"name": "url", "value": "https://github.com/org/research.git"}));
        assert_eq!(params[1]["value"], "v1.2.0");
        assert_eq!(params[4]["value"], "ghcr.io/org/research:v1");
        assert_eq!(
            run["spec"]["pipelineSpec"]["results"][0]["value"],
            format!("$(tasks.build.results.{RESULT_DIGEST})")
        );
    }

    #[test]
    fn user_strings_reach_scripts_only_through_the_environment() {
        let spec = "git: {url: 'https://example.com/x.git', revision: 'main;rm'}\nimage: r.io/a/b\n\
                    buildArgs: [{name: VERSION, value: '$(whoami)'}]\n";
        let run = rendered(spec);
        let text = run["spec"]["pipelineSpec"].to_string();
        assert!(!text.contains("main;rm") && !text.contains("whoami"), "user input inside the pipeline: {text}");
        assert_eq!(run["spec"]["params"][5]["value"], json!(["--build-arg=VERSION=$(whoami)"]));
    }

    #[test]
    fn secrets_are_referenced_never_copied() {
        let spec = "git: {url: 'https://github.com/org/private.git', tokenSecretRef: {name: github, key: token}}\n\
                    image: ghcr.io/org/a\npushSecretRef: {name: ghcr, key: .dockerconfigjson}\n";
        let run = rendered(spec);
        let task = &run["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"];
        let token = task["steps"][0]["env"].as_array().unwrap().iter().find(|e| e["name"] == "GIT_TOKEN").unwrap();
        assert_eq!(token["valueFrom"]["secretKeyRef"], json!({"name": "github", "key": "token"}));
        assert_eq!(
            task["volumes"][1]["secret"],
            json!({"secretName": "ghcr", "items": [{"key": ".dockerconfigjson", "path": "config.json"}]})
        );
        assert!(task["steps"][2]["env"].as_array().unwrap().iter().any(|e| e["name"] == "DOCKER_CONFIG"));
        // Without references, nothing of the sort.
        let plain = rendered(SPEC);
        assert!(!plain.to_string().contains("GIT_TOKEN\",\"valueFrom"));
        assert_eq!(plain["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["volumes"].as_array().unwrap().len(), 1);
    }
}
