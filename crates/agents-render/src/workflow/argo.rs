//! The Argo objects of an AgentWorkflow: a `Workflow` per run, or a `CronWorkflow` when it has a
//! schedule. Agent steps are Argo `http` templates that POST an A2A `message/send` to the agent's
//! Service (run by Argo's agent, so no image of ours is needed); approval steps are `suspend`
//! templates.

use std::collections::BTreeMap;

use agents_api::AgentWorkflow;
use agents_api::workflow::{StepType, TimeoutAction, WorkflowStep};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

use super::dag::Dag;
use crate::labels;

pub const GROUP: &str = "argoproj.io";
pub const VERSION: &str = "v1alpha1";
/// The entry template of every rendered workflow: the DAG.
pub const ENTRYPOINT: &str = "main";
/// The labels Argo's own `resume`/`stop` set on the Workflow to say who did what.
pub const ACTOR_LABEL: &str = "workflows.argoproj.io/actor";
pub const ACTION_LABEL: &str = "workflows.argoproj.io/action";
/// Labels every run with the AgentWorkflow it belongs to (cron runs included).
pub const WORKFLOW_LABEL: &str = "agents.dev/workflow";
/// The run request (its id) a Workflow was started for.
pub const RUN_LABEL: &str = "agents.dev/run";
/// Annotation prefix recording a decision on an approval step: `agents.dev/approval.<step>`.
pub const DECISION_ANNOTATION_PREFIX: &str = "agents.dev/approval.";
/// Seconds an agent call may take unless the step says otherwise.
pub const DEFAULT_CALL_TIMEOUT: i64 = 300;

pub fn workflow_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, "Workflow"), "workflows")
}

pub fn cron_workflow_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, "CronWorkflow"), "cronworkflows")
}

/// The labels of an AgentWorkflow's Argo objects and of its runs.
pub fn workflow_labels(name: &str) -> BTreeMap<String, String> {
    [
        (WORKFLOW_LABEL, name),
        ("app.kubernetes.io/name", "agentworkflow"),
        ("app.kubernetes.io/instance", name),
        ("app.kubernetes.io/part-of", "kubectl-agents"),
        (labels::MANAGED_BY, labels::MANAGER),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into()
}

/// A request for one run: its id (the Workflow is `<name>-<id>`) and the arguments it overrides.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunRequest {
    pub id: String,
    #[serde(default)]
    pub arguments: BTreeMap<String, String>,
}

impl RunRequest {
    /// The request in the `agents.dev/run-request` annotation, if it is well-formed.
    pub fn of(workflow: &AgentWorkflow) -> Option<RunRequest> {
        let text = workflow.metadata.annotations.as_ref()?.get(agents_api::workflow::RUN_REQUEST_ANNOTATION)?;
        let request: RunRequest = serde_json::from_str(text).ok()?;
        let valid = !request.id.is_empty()
            && request.id.len() <= 10
            && request.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        valid.then_some(request)
    }

    /// The name of the run's Workflow.
    pub fn run_name(&self, workflow: &str) -> String {
        format!("{workflow}-{}", self.id)
    }
}

/// The AgentWorkflow lacks what the API server always sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete(pub &'static str);

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the AgentWorkflow has no {} (was it read from the API server?)", self.0)
    }
}

impl std::error::Error for Incomplete {}

fn meta(workflow: &AgentWorkflow, name: String) -> Result<ObjectMeta, Incomplete> {
    let owner_name = workflow.metadata.name.clone().ok_or(Incomplete("name"))?;
    let namespace = workflow.metadata.namespace.clone().ok_or(Incomplete("namespace"))?;
    let mut owner = workflow.controller_owner_ref(&()).ok_or(Incomplete("uid"))?;
    owner.block_owner_deletion = Some(true);
    Ok(ObjectMeta {
        name: Some(name),
        namespace: Some(namespace),
        labels: Some(workflow_labels(&owner_name)),
        owner_references: Some(vec![owner]),
        ..Default::default()
    })
}

/// One run: an Argo Workflow named `<name>-<request id>`. `endpoints` maps each referenced Agent
/// to its Service URL (every one must be there: runs start only once the Agents are Ready).
pub fn run(
    workflow: &AgentWorkflow,
    dag: &Dag,
    endpoints: &BTreeMap<String, String>,
    request: &RunRequest,
) -> Result<DynamicObject, Incomplete> {
    let name = workflow.metadata.name.clone().ok_or(Incomplete("name"))?;
    let mut meta = meta(workflow, request.run_name(&name))?;
    meta.labels.get_or_insert_default().insert(RUN_LABEL.into(), request.id.clone());
    let mut object = DynamicObject::new(&request.run_name(&name), &workflow_resource())
        .within(meta.namespace.as_deref().unwrap_or_default());
    object.metadata = meta;
    object.data = json!({"spec": spec(workflow, dag, endpoints, &request.arguments)});
    Ok(object)
}

/// The CronWorkflow of a scheduled AgentWorkflow (same name), which starts the runs itself.
pub fn cron(
    workflow: &AgentWorkflow,
    dag: &Dag,
    endpoints: &BTreeMap<String, String>,
) -> Result<Option<DynamicObject>, Incomplete> {
    let Some(schedule) = &workflow.spec.schedule else {
        return Ok(None);
    };
    let name = workflow.metadata.name.clone().ok_or(Incomplete("name"))?;
    let meta = meta(workflow, name.clone())?;
    let mut object =
        DynamicObject::new(&name, &cron_workflow_resource()).within(meta.namespace.as_deref().unwrap_or_default());
    let history = workflow.spec.history_limit;
    let mut cron_spec = json!({
        "schedules": [schedule.cron],
        "concurrencyPolicy": schedule.concurrency_policy.as_str(),
        "suspend": schedule.suspend,
        "successfulJobsHistoryLimit": history,
        "failedJobsHistoryLimit": history,
        "workflowMetadata": {"labels": workflow_labels(&name)},
        "workflowSpec": spec(workflow, dag, endpoints, &BTreeMap::new()),
    });
    if let Some(zone) = &schedule.time_zone {
        cron_spec["timezone"] = zone.clone().into();
    }
    object.metadata = meta;
    object.data = json!({"spec": cron_spec});
    Ok(Some(object))
}

/// The Workflow spec: the arguments, a DAG template and one template per step.
fn spec(
    workflow: &AgentWorkflow,
    dag: &Dag,
    endpoints: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
) -> Value {
    let parameters: Vec<Value> = workflow
        .spec
        .arguments
        .iter()
        .map(|a| {
            let value = overrides.get(&a.name).or(a.value.as_ref()).cloned().unwrap_or_default();
            json!({"name": a.name, "value": value})
        })
        .collect();
    let tasks: Vec<Value> = workflow
        .spec
        .steps
        .iter()
        .map(|step| {
            let mut task = json!({"name": step.name, "template": step.name});
            let dependencies: Vec<&String> = dag.dependencies.get(&step.name).into_iter().flatten().collect();
            if !dependencies.is_empty() {
                task["dependencies"] = json!(dependencies);
            }
            if step.step_type == StepType::Agent {
                let text = dag.inputs.get(&step.name).cloned().unwrap_or_default();
                task["arguments"] = json!({"parameters": [{"name": "text", "value": text}]});
            }
            task
        })
        .collect();
    let mut templates = vec![json!({"name": ENTRYPOINT, "dag": {"tasks": tasks}})];
    templates.extend(workflow.spec.steps.iter().map(|step| template(step, endpoints)));
    json!({
        "entrypoint": ENTRYPOINT,
        "arguments": {"parameters": parameters},
        "templates": templates,
    })
}

fn template(step: &WorkflowStep, endpoints: &BTreeMap<String, String>) -> Value {
    match step.step_type {
        StepType::Approval => {
            let (timeout, on_timeout) = step
                .approval
                .as_ref()
                .map(|a| (a.timeout.clone(), a.on_timeout))
                .unwrap_or((None, TimeoutAction::Reject));
            // Argo resumes a suspend node by itself once its duration passes: that is "approve on
            // timeout". Rejecting on timeout is the operator's job (Argo has no such option).
            let suspend = match (&timeout, on_timeout) {
                (Some(timeout), TimeoutAction::Approve) => json!({"duration": timeout}),
                _ => json!({}),
            };
            json!({"name": step.name, "suspend": suspend})
        }
        StepType::Agent => {
            let agent = step.agent_ref.as_ref().map(|r| r.name.as_str()).unwrap_or_default();
            let url = endpoints.get(agent).map(|e| format!("{}/", e.trim_end_matches('/'))).unwrap_or_default();
            let mut template = json!({
                "name": step.name,
                "inputs": {"parameters": [{"name": "text"}]},
                "http": {
                    "url": url,
                    "method": "POST",
                    "headers": [
                        {"name": "Content-Type", "value": "application/json"},
                        {"name": "Accept", "value": "application/json"},
                    ],
                    "timeoutSeconds": step.timeout.as_deref().and_then(seconds).unwrap_or(DEFAULT_CALL_TIMEOUT),
                    "successCondition": "response.statusCode >= 200 && response.statusCode < 300",
                    "body": message_send_body(&step.name),
                },
            });
            if let Some(retries) = step.retries.filter(|r| *r > 0) {
                template["retryStrategy"] = json!({"limit": retries.to_string(), "retryPolicy": "Always"});
            }
            template
        }
    }
}

/// The A2A `message/send` JSON-RPC request. The text goes through `toJson`, so quotes and newlines
/// in an earlier answer cannot break the JSON.
pub fn message_send_body(step: &str) -> String {
    format!(
        concat!(
            r#"{{"jsonrpc":"2.0","id":"{{{{workflow.name}}}}-{step}","method":"message/send","params":{{"message":"#,
            r#"{{"kind":"message","role":"user","messageId":"{{{{workflow.uid}}}}-{step}","#,
            r#""parts":[{{"kind":"text","text":{{{{=toJson(inputs.parameters.text)}}}}}}]}}}}}}"#
        ),
        step = step
    )
}

/// `90s`, `5m`, `2h` in seconds.
pub fn seconds(duration: &str) -> Option<i64> {
    let (number, unit) = duration.split_at(duration.len().checked_sub(1)?);
    let number: i64 = number.parse().ok()?;
    Some(match unit {
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::dag;
    use crate::workflow::fixtures::workflow;

    fn endpoints() -> BTreeMap<String, String> {
        [
            ("researcher", "http://researcher.team-a.svc.cluster.local"),
            ("writer", "http://writer.team-a.svc.cluster.local"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into()
    }

    const PIPELINE: &str = r#"
steps:
- {name: research, agentRef: {name: researcher}, input: "About {{arguments.topic}}", retries: 2, timeout: 90s}
- {name: review, type: Approval, dependsOn: [research], approval: {message: Check it, timeout: 1h}}
- {name: write, agentRef: {name: writer}, dependsOn: [review], input: "{{steps.research.output}}"}
arguments: [{name: topic, value: kubernetes}, {name: tone, value: dry}]
"#;

    #[test]
    fn a_run_is_a_dag_of_http_and_suspend_templates() {
        let w = workflow(PIPELINE);
        let dag = dag::check(&w.spec).unwrap();
        let request = RunRequest { id: "x1".into(), arguments: [("topic".to_string(), "agents".to_string())].into() };
        let run = run(&w, &dag, &endpoints(), &request).unwrap();
        assert_eq!(run.metadata.name.as_deref(), Some("pipeline-x1"));
        assert_eq!(run.metadata.labels.as_ref().unwrap()[WORKFLOW_LABEL], "pipeline");
        assert_eq!(run.metadata.labels.as_ref().unwrap()[RUN_LABEL], "x1");
        let owner = &run.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.controller), ("AgentWorkflow", Some(true)));
        let spec = &run.data["spec"];
        assert_eq!(spec["entrypoint"], "main");
        assert_eq!(
            spec["arguments"]["parameters"],
            json!([{"name": "topic", "value": "agents"}, {"name": "tone", "value": "dry"}])
        );
        let tasks = &spec["templates"][0]["dag"]["tasks"];
        assert_eq!(tasks[0]["arguments"]["parameters"][0]["value"], "About {{workflow.parameters.topic}}");
        assert_eq!(tasks[1], json!({"name": "review", "template": "review", "dependencies": ["research"]}));
        assert_eq!(tasks[2]["dependencies"], json!(["research", "review"]));
        let research = &spec["templates"][1];
        assert_eq!(research["http"]["url"], "http://researcher.team-a.svc.cluster.local/");
        assert_eq!(research["http"]["timeoutSeconds"], 90);
        assert_eq!(research["retryStrategy"]["limit"], "2");
        // Reject on timeout (the default) is enforced by the operator: Argo only waits.
        assert_eq!(spec["templates"][2], json!({"name": "review", "suspend": {}}));
    }

    #[test]
    fn the_body_is_a_message_send_request_once_argo_fills_it() {
        let body = message_send_body("research");
        let filled = body
            .replace("{{workflow.name}}", "pipeline-x1")
            .replace("{{workflow.uid}}", "u")
            .replace("{{=toJson(inputs.parameters.text)}}", &serde_json::to_string("say \"hi\"\n").unwrap());
        let request: Value = serde_json::from_str(&filled).unwrap();
        assert_eq!(request["method"], "message/send");
        assert_eq!(request["id"], "pipeline-x1-research");
        assert_eq!(request["params"]["message"]["parts"][0], json!({"kind": "text", "text": "say \"hi\"\n"}));
    }

    #[test]
    fn a_schedule_is_a_cron_workflow_and_approve_on_timeout_a_suspend_duration() {
        let w = workflow(&format!(
            "{}\nschedule: {{cron: '0 */6 * * *', timeZone: Europe/Paris, concurrencyPolicy: Replace}}\nhistoryLimit: 3\n",
            PIPELINE.replace("timeout: 1h}", "timeout: 1h, onTimeout: Approve}")
        ));
        let dag = dag::check(&w.spec).unwrap();
        let cron = cron(&w, &dag, &endpoints()).unwrap().unwrap();
        let spec = &cron.data["spec"];
        assert_eq!(spec["schedules"], json!(["0 */6 * * *"]));
        assert_eq!(spec["timezone"], "Europe/Paris");
        assert_eq!(spec["concurrencyPolicy"], "Replace");
        assert_eq!(spec["successfulJobsHistoryLimit"], 3);
        assert_eq!(spec["workflowMetadata"]["labels"][WORKFLOW_LABEL], "pipeline");
        assert_eq!(spec["workflowSpec"]["templates"][2]["suspend"], json!({"duration": "1h"}));
        assert!(super::cron(&workflow(PIPELINE), &dag, &endpoints()).unwrap().is_none());
    }

    #[test]
    fn run_requests_are_read_from_the_annotation() {
        let mut w = workflow(PIPELINE);
        assert_eq!(RunRequest::of(&w), None);
        w.metadata.annotations = Some(
            [(
                agents_api::workflow::RUN_REQUEST_ANNOTATION.to_string(),
                r#"{"id":"ab12","arguments":{"topic":"x"}}"#.to_string(),
            )]
            .into(),
        );
        assert_eq!(RunRequest::of(&w).unwrap().arguments["topic"], "x");
        w.metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(agents_api::workflow::RUN_REQUEST_ANNOTATION.into(), r#"{"id":"NOT valid"}"#.into());
        assert_eq!(RunRequest::of(&w), None);
    }
}
