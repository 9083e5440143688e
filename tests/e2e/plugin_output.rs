//! `kubectl agents get` and `build list` output that scripts read: `-o jsonpath=…`,
//! `-o custom-columns=…`, `--no-headers`, `--sort-by`, each checked against what kubectl itself
//! prints for the same objects; and `delete -l`, selecting as `get -l` does.

use std::sync::Arc;

use anyhow::ensure;
use libtest_mimic::Trial;

use crate::support::{Ctx, Env, output_within, run_ok, text, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(env, "plugin_output", [get_prints_what_scripts_read])
}

impl Ctx {
    /// `kubectl get agents.agents.dev ARGS… -n <this test's namespace>`: the reference.
    fn kubectl_get_ok(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = self.kubectl();
        command.args(["get", "agents.agents.dev"]).args(args).args(["-n", &self.ns]);
        Ok(String::from_utf8(run_ok(&mut command)?.stdout)?)
    }
}

async fn get_prints_what_scripts_read(ctx: Ctx) -> anyhow::Result<()> {
    // Listed by name (alpha, beta), sorted by replicas the other way round.
    for (name, replicas) in [("beta", 1), ("alpha", 2)] {
        ctx.apply_yaml(&format!(
            "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: {name}, labels: {{team: t}}}}\n\
             spec: {{image: ghcr.io/example/{name}:v1, replicas: {replicas}}}\n"
        ))
        .await?;
    }

    // The same bytes as kubectl's, for the same template on the same objects.
    for (args, expected) in [
        (vec!["-o", "jsonpath={.items[*].metadata.name}"], "alpha beta"),
        (vec!["-o", r#"jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}"#], "alpha\nbeta\n"),
        (vec!["-o", "jsonpath={.kind} {.items[0].spec.image}"], "List ghcr.io/example/alpha:v1"),
        (vec!["-o", "custom-columns=NAME:.metadata.name", "--no-headers", "--sort-by=.metadata.name"], "alpha\nbeta\n"),
        (
            vec!["-o", "custom-columns=NAME:.metadata.name", "--no-headers", "--sort-by={.spec.replicas}"],
            "beta\nalpha\n",
        ),
        (vec!["-o", "jsonpath={.items[*].metadata.name}", "--sort-by=spec.replicas"], "beta alpha"),
        (vec!["-o", r#"jsonpath={.items[?(@.spec.replicas>1)].metadata.name}"#], "alpha"),
        (vec!["-o", "name", "--sort-by=.spec.replicas"], "agent.agents.dev/beta\nagent.agents.dev/alpha\n"),
    ] {
        let ours = ctx.agents_ok(&[&["get"], &args[..]].concat())?;
        ensure!(ours == expected, "kubectl agents get {args:?} printed {ours:?}, not {expected:?}");
        let kubectls = ctx.kubectl_get_ok(&args)?;
        ensure!(ours == kubectls, "kubectl agents get {args:?} printed {ours:?}; kubectl get printed {kubectls:?}");
    }

    // One object asked for by name is the object itself; several are a List.
    ensure!(ctx.agents_ok(&["get", "alpha", "-o", "jsonpath={.metadata.name}"])? == "alpha");
    ensure!(ctx.agents_ok(&["get", "alpha", "beta", "-o", "jsonpath={.kind}"])? == "List");

    // Columns with a header, a missing value, and -A, which adds no column of its own here.
    let columns = "custom-columns=NAME:.metadata.name,NAMESPACE:.metadata.namespace,MODEL:.spec.model.name";
    let table = ctx.agents_ok(&["get", "-o", columns, "--sort-by=.spec.replicas"])?;
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    ensure!(
        rows == [vec!["NAME", "NAMESPACE", "MODEL"], vec!["beta", &ctx.ns, "<none>"], vec!["alpha", &ctx.ns, "<none>"]],
        "{table}"
    );
    let all = ctx.agents_ok(&["get", "-A", "-l", "team=t", "-o", "jsonpath={.items[*].metadata.name}"])?;
    ensure!(all.split(' ').filter(|n| ["alpha", "beta"].contains(n)).count() == 2, "{all}");

    // The plain table without its header (the server-side Table), and sorted (from the objects).
    let plain = ctx.agents_ok(&["get", "--no-headers"])?;
    ensure!(plain.lines().map(|l| l.split_whitespace().next()).collect::<Vec<_>>() == [Some("alpha"), Some("beta")]);
    let sorted = ctx.agents_ok(&["get", "--sort-by=.spec.replicas"])?;
    let names: Vec<_> = sorted.lines().map(|l| l.split_whitespace().next().unwrap_or_default()).collect();
    ensure!(names == ["NAME", "beta", "alpha"], "{sorted}");

    // A bad template is refused with where it went wrong and exit code 1, as kubectl refuses it.
    let output = output_within(&mut ctx.agents(&["get", "-o", "jsonpath={range .items[*]}{.metadata.name}"]))?;
    let stderr = text(&output.stderr);
    ensure!(output.status.code() == Some(1), "exit {:?}: {stderr}", output.status.code());
    ensure!(stderr.contains("unclosed {range} at column 1"), "{stderr}");
    let output = output_within(&mut ctx.agents(&["get", "-o", "jsonpath={.items[5]}"]))?;
    let stderr = text(&output.stderr);
    ensure!(output.status.code() == Some(1), "exit {:?}: {stderr}", output.status.code());
    ensure!(stderr.contains("array index out of bounds: index 5, length 2"), "{stderr}");
    let stderr = ctx.agents_err(&["get", "-o", "xml"])?;
    ensure!(stderr.contains("valid formats: table, wide, json, yaml, name, jsonpath="), "{stderr}");

    // build list takes the same flags (no AgentBuilds here: an empty List).
    let builds = ctx.agents_ok(&["build", "list", "-o", "jsonpath={.kind}:{.items[*].metadata.name}"])?;
    ensure!(builds == "List:", "{builds}");

    // describe takes several names or the same selector: one page each, in name order.
    let page_names = |pages: &str| -> Vec<String> {
        pages.lines().filter_map(|l| l.strip_prefix("Name:")).map(|n| n.trim().to_string()).collect()
    };
    let selected = ctx.agents_ok(&["describe", "-l", "team=t"])?;
    ensure!(page_names(&selected) == ["alpha", "beta"], "{selected}");
    let named = ctx.agents_ok(&["describe", "agents", "beta", "alpha"])?;
    ensure!(page_names(&named) == ["beta", "alpha"], "{named}");
    let stderr = ctx.agents_err(&["describe", "alpha", "-l", "team=t"])?;
    ensure!(stderr.contains("give names or a selector (-l), not both"), "{stderr}");

    // delete -l takes the same selector get does; nothing matching is not an error, as kubectl's.
    let stderr = ctx.agents_err(&["delete", "alpha", "-l", "team=t", "--yes"])?;
    ensure!(stderr.contains("give names or a selector (-l), not both"), "{stderr}");
    let output = run_ok(&mut ctx.agents(&["delete", "-l", "team=nobody", "--yes"]))?;
    ensure!(text(&output.stderr).contains("No resources found"), "{}", text(&output.stderr));
    let deleted = ctx.agents_ok(&["delete", "agents", "-l", "team=t", "--yes"])?;
    ensure!(deleted == "agent.agents.dev/alpha deleted\nagent.agents.dev/beta deleted\n", "{deleted}");
    Ok(())
}
