use std::convert::Infallible;

use clap::CommandFactory;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::lookup::in_cluster;
use super::plan::{Lookup, Names, OWNED_ARGUMENTS, Plan, RESOURCE_ARGUMENTS, plan};
use crate::cli::Cli;
use crate::fake_api::FakeApi;
use crate::kinds::Kind;
use crate::session::Session;

fn root() -> clap::Command {
    let mut root = Cli::command();
    root.build();
    root
}

/// The plan for a command line as typed after `kubectl agents `: a trailing space completes an
/// empty word.
fn plan_of(line: &str) -> Plan {
    let mut args: Vec<String> = line.split(' ').map(str::to_string).collect();
    if line.is_empty() {
        args = vec![String::new()];
    }
    plan(&root(), &args)
}

/// The lines printed for `line` when the look-up finds `found`.
fn complete(line: &str, found: &[&str]) -> Vec<String> {
    let found: Vec<String> = found.iter().map(|name| name.to_string()).collect();
    plan_of(line).lines(&found)
}

/// The values of the lines, without descriptions or the directive.
fn values(lines: &[String]) -> Vec<&str> {
    lines.iter().filter(|l| !l.starts_with(':')).map(|l| l.split('\t').next().unwrap_or_default()).collect()
}

#[test]
fn nothing_typed_offers_every_command_with_its_description() {
    let lines = complete("", &[]);
    let values = values(&lines);
    for command in ["get", "describe", "logs", "invoke", "apply", "workflow", "completion", "version"] {
        assert!(values.contains(&command), "{command} in {values:?}");
    }
    assert!(lines.contains(&"logs\tPrint the logs of every replica of an agent".to_string()), "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some(":4"));
    assert_eq!(plan_of("").lookup, None, "commands need no cluster");
}

#[test]
fn a_prefix_narrows_the_commands() {
    assert_eq!(values(&complete("de", &[])), ["describe", "delete"]);
    assert_eq!(values(&complete("workflow ap", &[])), ["approve"]);
    assert_eq!(values(&complete("wf r", &[])), ["run", "reject"], "through the alias");
}

#[test]
fn a_dash_offers_the_commands_flags_and_the_global_ones() {
    let values = complete("get -", &[]);
    let values = self::values(&values);
    for flag in
        ["--namespace", "-n", "--context", "--kubeconfig", "--output", "-o", "--all-namespaces", "-A", "--watch"]
    {
        assert!(values.contains(&flag), "{flag} in {values:?}");
    }
    assert_eq!(self::values(&complete("logs --t", &[])), ["--tail", "--timestamps"]);
    assert!(!self::values(&complete("logs --", &[])).contains(&"--replicas"), "only the command's own");
}

#[test]
fn flag_values_come_from_clap() {
    let formats = complete("get -o ", &[]);
    for format in ["table", "wide", "json", "yaml", "name"] {
        assert!(values(&formats).contains(&format), "{format} in {formats:?}");
    }
    assert_eq!(values(&complete("check --output j", &[])), ["json"]);
    assert_eq!(values(&complete("render -oj", &[])), Vec::<&str>::new(), "a value glued to -o is not completed");
    assert_eq!(values(&complete("check --output=j", &[])), ["--output=json"]);
    assert_eq!(
        values(&complete("invoke research --via ", &[])).len(),
        2,
        "{:?}",
        complete("invoke research --via ", &[])
    );
    assert_eq!(plan_of("get -o ").lookup, None);
}

#[test]
fn a_file_flag_lets_the_shell_complete_files() {
    for line in ["apply -f ", "render --filename ", "get --kubeconfig ", "invoke research -f "] {
        let lines = complete(line, &[]);
        assert_eq!(lines, [":0"], "{line}");
    }
    assert_eq!(complete("apply -f x.yaml ", &[]), [":4"], "apply takes no positional");
}

#[test]
fn namespaces_and_contexts_are_looked_up() {
    assert_eq!(plan_of("get -n ").lookup, Some(Lookup::Namespaces));
    assert_eq!(complete("get -n team", &["default", "team-a", "team-b"]), ["team-a", "team-b", ":4"]);
    assert_eq!(complete("get --namespace=team-a", &["default", "team-a"]), ["--namespace=team-a", ":4"]);
    assert_eq!(plan_of("logs --context ").lookup, Some(Lookup::Contexts));
    assert_eq!(complete("--context=k", &["kind", "prod"]), ["--context=kind", ":4"]);
}

#[test]
fn get_describe_and_delete_take_a_kind_or_an_agent_then_names_of_that_kind() {
    let lines = complete("get ", &["research", "writer"]);
    let values = values(&lines);
    for value in ["agents", "agentbuilds", "modelapis", "mcpservers", "agentworkflows", "research", "writer"] {
        assert!(values.contains(&value), "{value} in {values:?}");
    }
    assert!(lines.contains(&"modelapis\tModelAPI".to_string()));
    assert_eq!(plan_of("get ").lookup, Some(Lookup::Names(Kind::Agent)));
    assert_eq!(plan_of("ls ").lookup, Some(Lookup::Names(Kind::Agent)), "through the alias");
    assert_eq!(complete("get agents re", &["research", "writer"]), ["research", ":4"]);
    assert_eq!(complete("describe agent ", &["research"]), ["research", ":4"]);
    assert_eq!(plan_of("describe mcp ").lookup, Some(Lookup::Names(Kind::MCPServer)));
    assert_eq!(plan_of("delete modelapis a ").lookup, Some(Lookup::Names(Kind::ModelAPI)));
    assert_eq!(plan_of("delete research ").lookup, Some(Lookup::Names(Kind::Agent)), "more agents");
}

#[test]
fn commands_of_one_kind_complete_its_names() {
    for line in ["logs ", "invoke ", "scale ", "restart ", "restart a ", "logs -f --tail 10 "] {
        assert_eq!(plan_of(line).lookup, Some(Lookup::Names(Kind::Agent)), "{line}");
    }
    for line in ["build ", "build list ", "build logs "] {
        assert_eq!(plan_of(line).lookup, Some(Lookup::Names(Kind::AgentBuild)), "{line}");
    }
    for line in ["workflow run ", "wf status ", "workflow approve --step s ", "workflow logs "] {
        assert_eq!(plan_of(line).lookup, Some(Lookup::Names(Kind::AgentWorkflow)), "{line}");
    }
    assert_eq!(values(&complete("build ", &["site"])), ["list", "logs", "help", "site"]);
    for line in ["invoke research ", "logs research ", "scale research --replicas ", "version ", "install "] {
        assert_eq!(plan_of(line).lookup, None, "{line}");
    }
}

#[test]
fn the_connection_flags_on_the_line_are_kept_for_the_look_up() {
    let plan = plan_of("-n team get --context=kind --kubeconfig /tmp/k agents ");
    assert_eq!(plan.global.namespace.as_deref(), Some("team"));
    assert_eq!(plan.global.context.as_deref(), Some("kind"));
    assert_eq!(plan.global.kubeconfig.as_deref(), Some(std::path::Path::new("/tmp/k")));
    assert_eq!(plan_of("get -Anteam ").global.namespace.as_deref(), Some("team"));
    assert_eq!(plan_of("get ").global.namespace, None);
}

#[test]
fn after_a_double_dash_everything_is_positional() {
    assert_eq!(plan_of("logs -- ").lookup, Some(Lookup::Names(Kind::Agent)));
    assert_eq!(complete("get -- -", &["-odd"]), ["-odd", ":4"]);
}

#[test]
fn names_that_would_break_the_protocol_are_left_out() {
    assert_eq!(complete("logs ", &["a b", "a\tb", "a\nb", "ok"]), ["ok", ":4"]);
}

#[test]
fn a_run_completes_with_the_runs_of_the_build_or_workflow_named_before_it() {
    let build_runs = Some(Lookup::BuildRuns("site".into()));
    assert_eq!(plan_of("build logs site ").lookup, build_runs);
    assert_eq!(plan_of("build logs -n team site site-").lookup, build_runs);
    let workflow_runs = Some(Lookup::WorkflowRuns("review".into()));
    for line in [
        "workflow status review ",
        "wf logs review ",
        "workflow approve review --run ",
        "workflow reject --run=",
        "workflow approve --step gate -m ok review --run ",
    ] {
        let line = line.replace("--run=", "review --run=");
        assert_eq!(plan_of(&line).lookup, workflow_runs, "{line}");
    }
    assert_eq!(complete("workflow reject review --run=review-", &["review-a1", "other"]), ["--run=review-a1", ":4"]);
    assert_eq!(complete("build logs site ", &["site-1", "site-2"]), ["site-1", "site-2", ":4"]);
    // No name yet, a name no object can have, or no argument left: nothing to look up.
    for line in ["workflow approve --run ", "build logs Site_1 ", "build logs site site-1 ", "workflow run review "] {
        assert_eq!(plan_of(line).lookup, None, "{line}");
    }
}

#[test]
fn a_container_completes_with_the_containers_of_the_agent_named() {
    let containers = Some(Lookup::Containers("research".into()));
    for line in ["logs research -c ", "logs -f research --container ", "logs research -fc "] {
        assert_eq!(plan_of(line).lookup, containers, "{line}");
    }
    assert_eq!(complete("logs research --container=s", &["agent", "sidecar"]), ["--container=sidecar", ":4"]);
    assert_eq!(plan_of("logs -c ").lookup, None, "the agent is not named yet");
    assert_eq!(plan_of("logs -l team=a -c ").lookup, None);
}

#[test]
fn all_namespaces_looks_names_up_in_every_namespace_for_the_commands_that_take_it() {
    for (line, kind) in [
        ("get -A ", Kind::Agent),
        ("get agents -A r", Kind::Agent),
        ("get --all-namespaces mcp ", Kind::MCPServer),
        ("-n team get -Aw modelapis ", Kind::ModelAPI),
        ("build list -A ", Kind::AgentBuild),
    ] {
        assert_eq!(plan_of(line).lookup, Some(Lookup::NamesInAllNamespaces(kind)), "{line}");
    }
    assert_eq!(plan_of("get -A -n ").lookup, Some(Lookup::Namespaces));
    assert_eq!(plan_of("logs -A ").lookup, Some(Lookup::Names(Kind::Agent)), "logs takes no -A");
    assert_eq!(plan_of("build -A list ").lookup, Some(Lookup::Names(Kind::AgentBuild)), "build has no -A");
}

/// The plan knows `-A` by its id: every command's `--all-namespaces` must have it.
#[test]
fn every_all_namespaces_flag_has_the_id_the_plan_reads() {
    fn visit(command: &clap::Command, path: String, found: &mut Vec<String>) {
        for arg in command.get_arguments().filter(|arg| arg.get_long() == Some("all-namespaces")) {
            assert_eq!(arg.get_id(), "all_namespaces", "{path}");
            found.push(path.clone());
        }
        for sub in command.get_subcommands() {
            visit(sub, format!("{path} {}", sub.get_name()).trim().to_string(), found);
        }
    }
    let mut found = Vec::new();
    visit(&root(), String::new(), &mut found);
    found.sort();
    assert_eq!(found, ["build list", "get", "status"], "the commands that take -A");
}

/// The command at `path` in the tree.
fn command_at<'a>(root: &'a clap::Command, path: &[&str]) -> &'a clap::Command {
    path.iter()
        .fold(root, |command, name| command.find_subcommand(name).unwrap_or_else(|| panic!("no command {path:?}")))
}

/// Every command path and argument of the tables exists in the command tree: a positional for
/// the names of a kind and for an owner, a positional or a flag taking a value for what it owns.
#[test]
fn the_tables_name_real_arguments() {
    let root = root();
    for (path, id, names) in RESOURCE_ARGUMENTS {
        let command = command_at(&root, path);
        assert!(command.get_positionals().any(|arg| arg.get_id() == *id), "{path:?} has no positional {id}");
        if let Names::Of(kind) = names {
            assert!(Kind::ALL.contains(kind));
        }
    }
    for (path, id, owner, _) in OWNED_ARGUMENTS {
        let command = command_at(&root, path);
        let arg = command.get_arguments().find(|arg| arg.get_id() == *id);
        let arg = arg.unwrap_or_else(|| panic!("{path:?} has no argument {id}"));
        assert!(arg.get_action().takes_values(), "{path:?} {id} takes no value");
        assert!(command.get_positionals().any(|arg| arg.get_id() == *owner), "{path:?} has no positional {owner}");
    }
}

fn object(api_version: &str, kind: &str, namespace: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind,
           "metadata": {"name": name, "namespace": namespace, "labels": labels}})
}

fn pod(name: &str, agent: &str, containers: &[&str], init: &[&str]) -> Value {
    let mut pod = object("v1", "Pod", "team", name, json!({"agents.dev/agent": agent}));
    let named = |names: &[&str]| names.iter().map(|n| json!({"name": n, "image": "x:1"})).collect::<Vec<_>>();
    pod["spec"] = json!({"containers": named(containers), "initContainers": named(init)});
    pod
}

async fn look_up(objects: Vec<Value>, lookup: Lookup) -> Vec<String> {
    in_cluster(&FakeApi::new(objects).session("team"), lookup).await.expect("the fake answers")
}

#[tokio::test]
async fn runs_are_found_by_their_owners_label_in_the_namespace() {
    let run = |namespace, name, build| {
        object("tekton.dev/v1", "PipelineRun", namespace, name, json!({"agents.dev/build": build}))
    };
    let runs = vec![
        run("team", "site-1", "site"),
        run("team", "other-1", "other"),
        run("elsewhere", "site-9", "site"),
        run("team", "site-2", "site"),
    ];
    assert_eq!(look_up(runs, Lookup::BuildRuns("site".into())).await, ["site-1", "site-2"]);

    let run = |name, workflow| {
        object("argoproj.io/v1alpha1", "Workflow", "team", name, json!({"agents.dev/workflow": workflow}))
    };
    let runs = vec![run("review-a1", "review"), run("nightly-b2", "nightly")];
    assert_eq!(look_up(runs, Lookup::WorkflowRuns("review".into())).await, ["review-a1"]);
}

#[tokio::test]
async fn containers_are_those_of_the_agents_pods_then_their_init_containers_each_once() {
    let pods = vec![
        pod("research-1", "research", &["agent"], &["setup"]),
        pod("research-2", "research", &["agent", "sidecar"], &["setup"]),
        pod("writer-1", "writer", &["pen"], &[]),
    ];
    assert_eq!(look_up(pods, Lookup::Containers("research".into())).await, ["agent", "sidecar", "setup"]);
}

#[tokio::test]
async fn names_in_all_namespaces_come_once_each() {
    let agent = |namespace, name| object("agents.dev/v1alpha1", "Agent", namespace, name, json!({}));
    let agents = vec![agent("b", "writer"), agent("a", "research"), agent("b", "research")];
    assert_eq!(look_up(agents.clone(), Lookup::NamesInAllNamespaces(Kind::Agent)).await, ["research", "writer"]);
    assert_eq!(look_up(agents, Lookup::Names(Kind::Agent)).await, Vec::<String>::new(), "none in team");
}

/// A cluster without Tekton or Argo Workflows answers a list of their kinds with 404.
#[tokio::test]
async fn runs_of_a_kind_the_cluster_does_not_serve_are_none_not_an_error() {
    let service = tower::service_fn(|_request: http::Request<kube::client::Body>| async {
        let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                          "message": "the server could not find the requested resource", "code": 404});
        let response = http::Response::builder()
            .status(404)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(kube::client::Body::from(body.to_string().into_bytes()))
            .expect("a response");
        Ok::<_, Infallible>(response)
    });
    let session = Session::with_client(kube::Client::new(service, "team"), "team");
    for lookup in [Lookup::BuildRuns("site".into()), Lookup::WorkflowRuns("review".into())] {
        assert_eq!(in_cluster(&session, lookup.clone()).await.ok(), Some(Vec::new()), "{lookup:?}");
    }
    assert!(in_cluster(&session, Lookup::Names(Kind::Agent)).await.is_err(), "our own kinds' 404 is an error");
}

proptest! {
    #[test]
    fn any_command_line_gets_an_answer_ending_in_a_directive(args in proptest::collection::vec(".{0,12}", 0..8)) {
        let lines = plan(&root(), &args).lines(&["x".to_string()]);
        let last = lines.last().cloned().unwrap_or_default();
        prop_assert!(last == ":4" || last == ":0");
    }
}
