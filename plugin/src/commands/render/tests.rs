//! The decisions of `render`, from manifest text to objects and notes.

use std::sync::Arc;

use agents_render::build::SEQUENCE_ANNOTATION;
use agents_render::hash::SPEC_HASH_ANNOTATION;
use serde_json::{Value, json};

use super::live::Live;
use super::world::PLACEHOLDER_UID;
use super::*;

fn resources(text: &str) -> Vec<Resource> {
    input::resources(&apply::parse(text, "in.yaml").unwrap(), "team-a", false).unwrap()
}

fn render_text(text: &str, live: Option<&Live>) -> (Vec<Document>, Vec<Note>) {
    render(resources(text), live).unwrap()
}

/// `Kind/name` of each object, in order.
fn objects(documents: &[Document]) -> Vec<String> {
    documents
        .iter()
        .map(|d| format!("{}/{}", d.object["kind"].as_str().unwrap(), d.object["metadata"]["name"].as_str().unwrap()))
        .collect()
}

fn find<'a>(documents: &'a [Document], kind: &str, name: &str) -> &'a Value {
    &documents.iter().find(|d| d.object["kind"] == kind && d.object["metadata"]["name"] == name).unwrap().object
}

fn env(deployment: &Value, name: &str) -> Option<String> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(String::from))
}

fn texts(notes: &[Note], kind: NoteKind) -> Vec<String> {
    notes.iter().filter(|n| n.kind == kind).map(|n| format!("{}: {}", n.about, n.text)).collect()
}

const AGENT: &str = "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: research}\nspec:\n  \
    image: ghcr.io/org/research:v1\n  model: {provider: openai, name: gpt-4o, modelAPIRef: {name: gateway}}\n  \
    mcpServers: [{name: fetch}]\n";
const MODEL_API: &str = "apiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {name: gateway}\n\
    spec: {mode: Proxy, port: 4000, proxy: {models: [{name: gpt-4o, model: openai/gpt-4o}]}}\n";
const MCP_SERVER: &str = "apiVersion: agents.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: fetch}\n\
    spec: {package: {runtime: uvx, name: mcp-server-fetch}, port: 9000}\n";

#[test]
fn an_agent_and_its_dependencies_render_every_child_wired_to_each_other() {
    let (documents, notes) = render_text(&format!("{AGENT}---\n{MODEL_API}---\n{MCP_SERVER}"), None);
    assert_eq!(
        objects(&documents),
        [
            "ServiceAccount/research",
            "ConfigMap/research",
            "Deployment/research",
            "Service/research",
            "ConfigMap/gateway",
            "Deployment/gateway",
            "Service/gateway",
            "Deployment/fetch",
            "Service/fetch",
        ]
    );
    let deployment = find(&documents, "Deployment", "research");
    assert_eq!(env(deployment, "MODEL_API_URL").as_deref(), Some("http://gateway.team-a.svc.cluster.local:4000"));
    assert_eq!(
        env(deployment, "MCP_SERVERS").as_deref(),
        Some(r#"{"fetch":"http://fetch.team-a.svc.cluster.local:9000/mcp"}"#)
    );
    for document in &documents {
        let object = &document.object;
        assert_eq!(object["metadata"]["namespace"], "team-a");
        assert_eq!(object["metadata"]["ownerReferences"][0]["uid"], PLACEHOLDER_UID);
        assert!(object["metadata"]["annotations"][SPEC_HASH_ANNOTATION].is_string(), "{object}");
    }
    // Only the uids were assumed: every dependency is in the input.
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].about, "owner uids");
}

#[test]
fn the_stamp_is_the_operators_so_a_render_is_what_it_applies() {
    let (documents, _) = render_text(AGENT, None);
    let config_map = find(&documents, "ConfigMap", "research");
    let mut unstamped: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(config_map.clone()).unwrap();
    unstamped.metadata.annotations = None;
    let restamped = serde_json::to_value(agents_render::hash::stamp(unstamped)).unwrap();
    assert_eq!(&restamped, config_map);
}

#[test]
fn the_live_cluster_decides_when_asked_a_dependency_not_ready_holds_the_deployment_back() {
    let pending: agents_api::ModelAPI = serde_json::from_value(json!({
        "apiVersion": "agents.dev/v1alpha1", "kind": "ModelAPI",
        "metadata": {"name": "gateway", "namespace": "team-a", "uid": "live-gateway"},
        "spec": {"mode": "Proxy"}, "status": {"phase": "Pending"},
    }))
    .unwrap();
    let agent: agents_api::Agent = serde_json::from_value(json!({
        "apiVersion": "agents.dev/v1alpha1", "kind": "Agent",
        "metadata": {"name": "research", "namespace": "team-a", "uid": "live-research"}, "spec": {},
    }))
    .unwrap();
    let live = Live { model_apis: vec![Arc::new(pending)], agents: vec![Arc::new(agent)], ..Live::default() };
    let (documents, notes) = render_text(AGENT, Some(&live));
    assert_eq!(objects(&documents), ["ServiceAccount/research", "ConfigMap/research", "Service/research"]);
    assert_eq!(documents[0].object["metadata"]["ownerReferences"][0]["uid"], "live-research");
    assert_eq!(
        texts(&notes, NoteKind::NotRendered),
        ["Agent team-a/research: no Deployment: the operator writes it once its dependencies are ready \
             (ModelAPI gateway is not ready: it is not serving; MCPServer fetch does not exist in this namespace)"]
    );
    assert!(texts(&notes, NoteKind::Assumed).is_empty(), "{notes:?}");
}

#[test]
fn an_external_model_api_renders_nothing_and_says_so() {
    let external = "apiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {name: gateway}\n\
                    spec: {mode: External, external: {url: 'https://llm.example.com/v1'}}\n";
    let (documents, notes) = render_text(external, None);
    assert!(documents.is_empty());
    assert_eq!(
        texts(&notes, NoteKind::NotRendered),
        [
            "ModelAPI team-a/gateway: mode External runs nothing in the cluster: its Agents call https://llm.example.com/v1"
        ]
    );
}

#[test]
fn monitoring_is_rendered_where_service_monitors_are_served() {
    let monitored = format!("{AGENT}  monitoring: {{}}\n");
    let (documents, notes) = render_text(&monitored, None);
    assert!(objects(&documents).contains(&"ServiceMonitor/research".to_string()));
    assert!(texts(&notes, NoteKind::Assumed).iter().any(|t| t.contains("the cluster serves ServiceMonitors")));
    let (documents, notes) = render_text(&monitored, Some(&Live::default()));
    assert!(!objects(&documents).contains(&"ServiceMonitor/research".to_string()));
    assert!(texts(&notes, NoteKind::NotRendered).iter().any(|t| t.contains("no ServiceMonitor")));
}

const BUILD: &str = "apiVersion: agents.dev/v1alpha1\nkind: AgentBuild\nmetadata: {name: image}\n\
    spec: {git: {url: 'https://github.com/org/research.git', revision: v1}, image: ghcr.io/org/research, tag: v1}\n";

#[test]
fn a_build_is_its_next_pipeline_run_unless_that_run_exists() {
    let (documents, notes) = render_text(BUILD, None);
    let run = &documents[0].object;
    assert_eq!(run["kind"], "PipelineRun");
    assert_eq!(run["metadata"]["annotations"][SEQUENCE_ANNOTATION], "1");
    assert!(run["metadata"]["annotations"].get(SPEC_HASH_ANNOTATION).is_none(), "runs are created, not applied");
    assert!(texts(&notes, NoteKind::Assumed).iter().any(|t| t.contains("the build's first run")));

    let name = run["metadata"]["name"].as_str().unwrap().to_string();
    let existing: kube::api::DynamicObject = serde_json::from_value(run.clone()).unwrap();
    let live = Live { tekton: true, runs: vec![existing], ..Live::default() };
    let (documents, notes) = render_text(BUILD, Some(&live));
    assert!(documents.is_empty());
    assert_eq!(
        texts(&notes, NoteKind::NotRendered),
        [format!(
            "AgentBuild team-a/image: no new PipelineRun: {name} already runs this spec (a spec change or `kubectl agents build image` starts another)"
        )]
    );

    let (documents, notes) = render_text(BUILD, Some(&Live::default()));
    assert!(documents.is_empty());
    assert!(texts(&notes, NoteKind::NotRendered)[0].contains("does not serve tekton.dev/v1 PipelineRuns"));
}

#[test]
fn an_agent_built_in_the_input_runs_its_image_by_tag_and_says_so() {
    let built = AGENT.replace("image: ghcr.io/org/research:v1", "buildRef: {name: image}");
    let (documents, notes) = render_text(&format!("{built}---\n{BUILD}"), None);
    let deployment = find(&documents, "Deployment", "research");
    assert_eq!(deployment["spec"]["template"]["spec"]["containers"][0]["image"], "ghcr.io/org/research:v1");
    assert!(
        texts(&notes, NoteKind::Assumed).iter().any(|t| t.starts_with("AgentBuild team-a/image: built and pushed"))
    );
}

const WORKFLOW: &str = "apiVersion: agents.dev/v1alpha1\nkind: AgentWorkflow\nmetadata: {name: pipeline}\n\
    spec:\n  steps:\n  - {name: find, agentRef: {name: research}, input: papers}\n";

#[test]
fn a_workflow_renders_its_cron_and_requested_run_and_nothing_else() {
    let (documents, notes) = render_text(WORKFLOW, None);
    assert!(documents.is_empty());
    assert!(
        texts(&notes, NoteKind::NotRendered)[0].contains("`kubectl agents workflow run pipeline` starts one"),
        "{notes:?}"
    );
    assert!(texts(&notes, NoteKind::Assumed).iter().any(|t| t.contains("Agent team-a/research: not in the input")));

    let scheduled = format!("{WORKFLOW}  schedule: {{cron: '0 9 * * *'}}\n");
    let requested = scheduled.replace(
        "metadata: {name: pipeline}",
        "metadata: {name: pipeline, annotations: {agents.dev/run-request: '{\"id\": \"r1\"}'}}",
    );
    let (documents, _) = render_text(&requested, None);
    assert_eq!(objects(&documents), ["CronWorkflow/pipeline", "Workflow/pipeline-r1"]);
    let steps = &documents[0].object["spec"]["workflowSpec"]["templates"];
    assert!(steps.to_string().contains("http://research.team-a.svc.cluster.local"), "{steps}");

    let cycle = WORKFLOW.replace("input: papers}", "input: papers, dependsOn: [find]}");
    let (documents, notes) = render_text(&cycle, None);
    assert!(documents.is_empty());
    assert!(texts(&notes, NoteKind::NotRendered)[0].contains("the operator reports it Failed"), "{notes:?}");
}

/// Pieces of manifests, good and bad: any mix of them renders or is refused, never panics.
const FRAGMENTS: &[&str] = &[
    "replicas: -1",
    "replicas: 0",
    "replicas: 2147483647",
    "port: 0",
    "port: 99999",
    "image: ''",
    "image: 'Ä:1'",
    "expose: false",
    "mcpServers: [{name: ''}, {name: fetch}]",
    "peers: [{name: research}, {name: x}]",
    "buildRef: {name: image}",
    "model: {provider: openai, name: m, modelAPIRef: {name: gateway}}",
    "autoscaling: {maxReplicas: 0, minReplicas: 5}",
    "disruptionBudget: {minAvailable: '200%'}",
    "networkPolicy: {}",
    "monitoring: {interval: x}",
    "config: {a: [1, {b: null}]}",
    "env: [{name: A}]",
    "healthCheck: {path: ''}",
    "mode: External",
    "mode: Hosted",
    "hosted: {models: [], storage: {size: lots}}",
    "external: {url: ''}",
    "proxy: {models: []}",
    "package: {runtime: npx, name: ''}",
    "transport: sse",
    "git: {url: '', revision: ''}",
    "tag: ''",
    "steps: [{name: a, agentRef: {name: research}, dependsOn: [a]}]",
    "steps: [{name: a, type: Approval}, {name: b, agentRef: {name: ''}, input: '{{steps.c.output}}'}]",
    "schedule: {cron: '61 * * * *', timeZone: Mars/Olympus}",
    "schedule: {cron: '@hourly'}",
    "historyLimit: -3",
    "replicas: two",
];

const KINDS: &[&str] = &["Agent", "ModelAPI", "MCPServer", "AgentBuild", "AgentWorkflow"];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

    #[test]
    fn any_resource_renders_or_is_refused(
        documents in proptest::collection::vec(
            (proptest::sample::select(KINDS), proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..6)),
            1..4,
        ),
        uid in proptest::bool::ANY,
    ) {
        let text: Vec<String> = documents
            .iter()
            .enumerate()
            .map(|(i, (kind, fragments))| {
                let uid = if uid { ", uid: ''" } else { "" };
                let spec: Vec<String> = fragments.iter().map(|f| format!("\n  {f}")).collect();
                let spec = if spec.is_empty() { " {}".to_string() } else { spec.concat() };
                format!("apiVersion: agents.dev/v1alpha1\nkind: {kind}\nmetadata: {{name: r{i}{uid}}}\nspec:{spec}\n")
            })
            .collect();
        let text = text.join("---\n");
        if let Ok(resources) = input::resources(&apply::parse(&text, "in.yaml").unwrap(), "team-a", false) {
            let _ = render(resources.clone(), None);
            let _ = render(resources, Some(&Live { tekton: true, argo: true, ..Live::default() }));
        }
    }
}
