//! The DAG of a workflow drawn as a tree: each step under the first step it depends on, roots at
//! the left, with its state.

use agents_api::AgentWorkflow;
use agents_api::workflow::{StepPhase, StepType};
use agents_render::workflow::dag::run_order;
use agents_render::workflow::{Run, check};
use crossterm::style::{Color, Stylize};

/// One line per step, in the tree's order.
pub fn lines(workflow: &AgentWorkflow, run: Option<&Run>, colour: bool) -> Vec<String> {
    let steps = &workflow.spec.steps;
    let (dependencies, order) = match check(&workflow.spec) {
        Ok(dag) => {
            let order = run_order(&workflow.spec, &dag);
            (dag.dependencies, order)
        }
        Err(_) => (
            steps.iter().map(|s| (s.name.clone(), s.depends_on.iter().cloned().collect())).collect(),
            steps.iter().map(|s| s.name.clone()).collect(),
        ),
    };
    // A step hangs under the dependency that runs last (it is what the step waits for); the
    // others are named.
    let parent = |step: &str| -> Option<String> {
        let deps = dependencies.get(step)?;
        order.iter().rev().find(|s| deps.contains(*s)).cloned()
    };
    let width = steps.iter().map(|s| s.name.len()).max().unwrap_or(0) + 2 * depth_bound(steps.len());
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    fn walk(step: &str, prefix: &str, last: bool, root: bool, ctx: &mut Walk<'_>) {
        if !ctx.seen.insert(step.to_string()) {
            return;
        }
        let branch = if root {
            ""
        } else if last {
            "└─ "
        } else {
            "├─ "
        };
        let label = format!("{prefix}{branch}{step}");
        let children: Vec<String> = ctx
            .workflow
            .spec
            .steps
            .iter()
            .filter(|s| (ctx.parent)(&s.name).as_deref() == Some(step))
            .map(|s| s.name.clone())
            .collect();
        ctx.out.push(ctx.describe(step, &label));
        let child_prefix = if root { String::new() } else { format!("{prefix}{}", if last { "   " } else { "│  " }) };
        for (i, child) in children.iter().enumerate() {
            walk(child, &child_prefix, i + 1 == children.len(), false, ctx);
        }
    }
    struct Walk<'a> {
        workflow: &'a AgentWorkflow,
        run: Option<&'a Run>,
        parent: &'a dyn Fn(&str) -> Option<String>,
        dependencies: &'a std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        seen: &'a mut std::collections::BTreeSet<String>,
        out: &'a mut Vec<String>,
        width: usize,
        colour: bool,
    }
    impl Walk<'_> {
        fn describe(&self, step: &str, label: &str) -> String {
            let spec = self.workflow.spec.steps.iter().find(|s| s.name == step);
            let phase = self.run.map(|r| r.step_phase(step));
            let mut line = format!("{label:<width$}   {}", phase_text(phase, self.colour), width = self.width);
            if let Some(node) = self.run.and_then(|r| r.node(step))
                && let (Some(start), Some(end)) = (&node.started_at, &node.finished_at)
                && phase.is_some_and(StepPhase::is_finished)
            {
                let seconds = end.0.duration_since(start.0).as_secs();
                line.push_str(&format!("   {seconds}s"));
            }
            let others: Vec<&String> = self
                .dependencies
                .get(step)
                .into_iter()
                .flatten()
                .filter(|d| Some(d.to_string()) != (self.parent)(step))
                .collect();
            if !others.is_empty() {
                line.push_str(&format!(
                    "   (also after {})",
                    others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            if let Some(spec) = spec {
                match spec.step_type {
                    StepType::Agent => {
                        if let Some(agent) = &spec.agent_ref {
                            line.push_str(&format!("   agent {}", agent.name));
                        }
                    }
                    StepType::Approval => {
                        if phase == Some(StepPhase::AwaitingApproval) {
                            let message = spec.approval.as_ref().and_then(|a| a.message.clone());
                            if let Some(message) = message {
                                line.push_str(&format!("   {message:?}"));
                            }
                        }
                        if let Some(decision) = self.run.and_then(|r| r.decision(step)) {
                            line.push_str(&format!(
                                "   {} by {}{}",
                                decision.decision,
                                decision.by.unwrap_or_default(),
                                decision.message.map(|m| format!(": {m}")).unwrap_or_default()
                            ));
                        }
                    }
                }
            }
            if let Some(message) = self.run.and_then(|r| r.node(step)).and_then(|n| n.message.clone())
                && phase == Some(StepPhase::Failed)
                && !message.is_empty()
            {
                line.push_str(&format!("   {message}"));
            }
            line.trim_end().to_string()
        }
    }
    let mut walk_ctx = Walk {
        workflow,
        run,
        parent: &parent,
        dependencies: &dependencies,
        seen: &mut seen,
        out: &mut out,
        width,
        colour,
    };
    for step in steps.iter().filter(|s| parent(&s.name).is_none()) {
        walk(&step.name, "", true, true, &mut walk_ctx);
    }
    // Steps in a cycle have a parent but no root above them: list them too.
    for step in steps {
        walk(&step.name, "", true, true, &mut walk_ctx);
    }
    out
}

fn depth_bound(steps: usize) -> usize {
    steps.min(8) * 3 / 2
}

pub fn phase_text(phase: Option<StepPhase>, colour: bool) -> String {
    let text = phase.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
    if !colour {
        return text;
    }
    let colour = match phase {
        Some(StepPhase::Succeeded) => Color::Green,
        Some(StepPhase::Running | StepPhase::AwaitingApproval) => Color::Yellow,
        Some(StepPhase::Failed) => Color::Red,
        _ => Color::DarkGrey,
    };
    text.with(colour).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workflow() -> AgentWorkflow {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "agents.dev/v1alpha1", "kind": "AgentWorkflow", "metadata": {"name": "p"},
            "spec": {"steps": [
                {"name": "research", "agentRef": {"name": "researcher"}},
                {"name": "facts", "agentRef": {"name": "checker"}},
                {"name": "review", "type": "Approval", "dependsOn": ["research", "facts"]},
                {"name": "write", "agentRef": {"name": "writer"}, "dependsOn": ["review"]},
            ]},
        }))
        .unwrap()
    }

    #[test]
    fn a_step_hangs_under_the_dependency_that_runs_last() {
        let lines = lines(&workflow(), None, false);
        let starts = ["research ", "facts ", "└─ review ", "   └─ write "];
        assert_eq!(lines.len(), starts.len(), "{lines:#?}");
        for (line, start) in lines.iter().zip(starts) {
            assert!(line.starts_with(start), "{line:?} should start with {start:?}");
        }
        assert!(lines[2].contains("(also after research)"), "{}", lines[2]);
        assert!(lines[0].contains("agent researcher"), "{}", lines[0]);
    }
}
