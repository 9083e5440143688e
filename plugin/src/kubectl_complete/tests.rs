use clap::CommandFactory;
use proptest::prelude::*;

use super::plan::{Lookup, Names, Plan, RESOURCE_ARGUMENTS, plan};
use crate::cli::Cli;
use crate::kinds::Kind;

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

/// Every command path and argument of the table exists in the command tree, as a positional.
#[test]
fn the_resource_table_names_real_positionals() {
    let root = root();
    for (path, id, names) in RESOURCE_ARGUMENTS {
        let mut command = &root;
        for name in *path {
            command = command.find_subcommand(name).unwrap_or_else(|| panic!("no command {path:?}"));
        }
        assert!(command.get_positionals().any(|arg| arg.get_id() == *id), "{path:?} has no positional {id}");
        if let Names::Of(kind) = names {
            assert!(Kind::ALL.contains(kind));
        }
    }
}

proptest! {
    #[test]
    fn any_command_line_gets_an_answer_ending_in_a_directive(args in proptest::collection::vec(".{0,12}", 0..8)) {
        let lines = plan(&root(), &args).lines(&["x".to_string()]);
        let last = lines.last().cloned().unwrap_or_default();
        prop_assert!(last == ":4" || last == ":0");
    }
}
