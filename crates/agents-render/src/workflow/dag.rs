//! The steps as a graph: dependencies (declared, and implied by `{{steps.X.output}}`), cycles
//! spelled out, and inputs translated into Argo's template language.

use std::collections::{BTreeMap, BTreeSet};

use agents_api::workflow::{AgentWorkflowSpec, StepType, WorkflowStep};

/// Why a workflow cannot run as written (the schema cannot see these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    Cycle(Vec<String>),
    Input {
        step: String,
        problem: String,
    },
    /// A schedule Argo could never run, or whose runs could never be foretold.
    Schedule(super::schedule::Unschedulable),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Cycle(steps) => {
                write!(
                    f,
                    "the steps' dependencies form a cycle: {}; remove one of these dependencies",
                    steps.join(" → ")
                )
            }
            Invalid::Input { step, problem } => write!(f, "step {step}: {problem}"),
            Invalid::Schedule(why) => write!(f, "spec.schedule.{}: {}", why.field, why.problem),
        }
    }
}

impl std::error::Error for Invalid {}

impl Invalid {
    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Invalid::Cycle(_) => "DependencyCycle",
            Invalid::Input { .. } => "InvalidInput",
            Invalid::Schedule(_) => "InvalidSchedule",
        }
    }
}

/// A checked workflow: each step's dependencies (sorted) and its input in Argo's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dag {
    pub dependencies: BTreeMap<String, BTreeSet<String>>,
    pub inputs: BTreeMap<String, String>,
}

/// Checks a workflow's steps and inputs, and translates the inputs.
pub fn check(spec: &AgentWorkflowSpec) -> Result<Dag, Invalid> {
    if let Some(schedule) = &spec.schedule {
        super::schedule::parse(&schedule.cron, schedule.time_zone.as_deref()).map_err(Invalid::Schedule)?;
    }
    let steps: BTreeMap<&str, &WorkflowStep> = spec.steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let arguments: BTreeSet<&str> = spec.arguments.iter().map(|a| a.name.as_str()).collect();
    let mut dependencies = BTreeMap::new();
    let mut inputs = BTreeMap::new();
    for step in &spec.steps {
        let mut depends: BTreeSet<String> = step.depends_on.iter().cloned().collect();
        if step.step_type == StepType::Agent {
            let (text, used) = translate(step, &steps, &arguments)?;
            depends.extend(used);
            inputs.insert(step.name.clone(), text);
        }
        dependencies.insert(step.name.clone(), depends);
    }
    if let Some(cycle) = find_cycle(&spec.steps, &dependencies) {
        return Err(Invalid::Cycle(cycle));
    }
    Ok(Dag { dependencies, inputs })
}

/// The expression Argo evaluates to a step's answer: the text of the first part of the A2A
/// `message/send` result (see docs/agent-contract.md).
pub fn answer_expression(step: &str) -> String {
    format!("jsonpath(tasks['{step}'].outputs.result, '$.result.parts[0].text')")
}

/// The step's input with `{{arguments.X}}` and `{{steps.X.output}}` in Argo's syntax, and the
/// steps it reads. Without an input, an agent gets the answers of the steps it depends on.
fn translate(
    step: &WorkflowStep,
    steps: &BTreeMap<&str, &WorkflowStep>,
    arguments: &BTreeSet<&str>,
) -> Result<(String, BTreeSet<String>), Invalid> {
    let problem = |problem: String| Invalid::Input { step: step.name.clone(), problem };
    let Some(input) = &step.input else {
        let answers: Vec<String> = step
            .depends_on
            .iter()
            .filter(|d| steps.get(d.as_str()).is_some_and(|s| s.step_type == StepType::Agent))
            .map(|d| format!("{{{{={}}}}}", answer_expression(d)))
            .collect();
        return Ok((answers.join("\n\n"), BTreeSet::new()));
    };
    let mut out = String::new();
    let mut used = BTreeSet::new();
    let mut rest = input.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| problem("an input has a '{{' without its '}}'".into()))?;
        let placeholder = after[..end].trim();
        let parts: Vec<&str> = placeholder.split('.').collect();
        match parts.as_slice() {
            ["arguments", name] if arguments.contains(name) => {
                out.push_str(&format!("{{{{workflow.parameters.{name}}}}}"));
            }
            ["arguments", name] => {
                return Err(problem(format!(
                    "the input uses {{{{arguments.{name}}}}}, but spec.arguments has no {name:?}: add it there"
                )));
            }
            ["steps", name, "output"] => match steps.get(name) {
                Some(s) if s.step_type == StepType::Agent && *name != step.name => {
                    out.push_str(&format!("{{{{={}}}}}", answer_expression(name)));
                    used.insert(name.to_string());
                }
                Some(_) if *name == step.name => {
                    return Err(problem("the input cannot use the step's own output".into()));
                }
                Some(_) => {
                    return Err(problem(format!(
                        "the input uses {{{{steps.{name}.output}}}}, but {name} is an Approval step, which has no output"
                    )));
                }
                None => {
                    return Err(problem(format!(
                        "the input uses {{{{steps.{name}.output}}}}, but there is no step {name:?}"
                    )));
                }
            },
            _ => {
                return Err(problem(format!(
                    "unknown placeholder {{{{{placeholder}}}}}: use {{{{arguments.NAME}}}} or {{{{steps.STEP.output}}}}"
                )));
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok((out, used))
}

/// A cycle, as the step names around it (the first repeated at the end), if there is one.
fn find_cycle(steps: &[WorkflowStep], dependencies: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit<'a>(
        step: &'a str,
        dependencies: &'a BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(step).copied().unwrap_or(Mark::New) {
            Mark::Done => return None,
            Mark::Open => {
                let from = path.iter().position(|s| *s == step).unwrap_or(0);
                let mut cycle: Vec<String> = path[from..].iter().map(|s| s.to_string()).collect();
                cycle.push(step.to_string());
                return Some(cycle);
            }
            Mark::New => {}
        }
        marks.insert(step, Mark::Open);
        path.push(step);
        for next in dependencies.get(step).into_iter().flatten() {
            if let Some(cycle) = visit(next, dependencies, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(step, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for step in steps {
        let mut path = Vec::new();
        if let Some(mut cycle) = visit(&step.name, dependencies, &mut marks, &mut path) {
            // Dependencies point backwards (a step → what it waits for): read it in run order.
            cycle.reverse();
            return Some(cycle);
        }
    }
    None
}

/// Steps in an order that respects their dependencies (spec order among equals).
pub fn run_order(spec: &AgentWorkflowSpec, dag: &Dag) -> Vec<String> {
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < spec.steps.len() {
        let before = order.len();
        for step in &spec.steps {
            if done.contains(&step.name) {
                continue;
            }
            if dag.dependencies.get(&step.name).into_iter().flatten().all(|d| done.contains(d)) {
                done.insert(step.name.clone());
                order.push(step.name.clone());
            }
        }
        if order.len() == before {
            break;
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::fixtures::spec;

    #[test]
    fn inputs_become_argo_parameters_and_expressions() {
        let spec = spec(
            r#"
steps:
- {name: research, agentRef: {name: researcher}, input: "Find papers on {{ arguments.topic }}"}
- {name: write-up, agentRef: {name: writer}, input: "Summarise: {{steps.research.output}}"}
- {name: review, type: Approval, dependsOn: [write-up]}
- {name: publish, agentRef: {name: publisher}, dependsOn: [review, write-up]}
arguments: [{name: topic}]
"#,
        );
        let dag = check(&spec).unwrap();
        assert_eq!(dag.inputs["research"], "Find papers on {{workflow.parameters.topic}}");
        assert_eq!(
            dag.inputs["write-up"],
            "Summarise: {{=jsonpath(tasks['research'].outputs.result, '$.result.parts[0].text')}}"
        );
        // The step reads research, so it depends on it without saying so.
        assert_eq!(dag.dependencies["write-up"], BTreeSet::from(["research".to_string()]));
        // No input: the answers of the agent steps it depends on.
        assert_eq!(dag.inputs["publish"], "{{=jsonpath(tasks['write-up'].outputs.result, '$.result.parts[0].text')}}");
        assert_eq!(run_order(&spec, &dag), ["research", "write-up", "review", "publish"]);
    }

    #[test]
    fn a_schedule_that_cannot_run_makes_the_spec_invalid() {
        let out_of_range = spec("steps: [{name: a, agentRef: {name: x}}]\nschedule: {cron: '0 9 * * 8'}\n");
        let error = check(&out_of_range).unwrap_err();
        assert_eq!(error.reason(), "InvalidSchedule");
        assert_eq!(error.to_string(), "spec.schedule.cron: the day-of-week field has 8, outside 0-6");
        let unknown_zone =
            spec("steps: [{name: a, agentRef: {name: x}}]\nschedule: {cron: '@daily', timeZone: Mars/Olympus}\n");
        assert!(
            check(&unknown_zone)
                .unwrap_err()
                .to_string()
                .starts_with("spec.schedule.timeZone: \"Mars/Olympus\" is not a time zone")
        );
    }

    #[test]
    fn a_cycle_is_spelled_out() {
        let spec = spec(
            r#"
steps:
- {name: a, agentRef: {name: x}, dependsOn: [c]}
- {name: b, agentRef: {name: x}, dependsOn: [a]}
- {name: c, agentRef: {name: x}, input: "{{steps.b.output}}"}
- {name: d, agentRef: {name: x}}
"#,
        );
        let error = check(&spec).unwrap_err();
        assert_eq!(error, Invalid::Cycle(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
        assert_eq!(
            error.to_string(),
            "the steps' dependencies form a cycle: a → b → c → a; remove one of these dependencies"
        );
    }

    #[test]
    fn bad_placeholders_say_what_to_fix() {
        for (input, expected) in [
            ("{{arguments.nope}}", "spec.arguments has no \"nope\""),
            ("{{steps.ghost.output}}", "there is no step \"ghost\""),
            ("{{steps.review.output}}", "Approval step, which has no output"),
            ("{{workflow.name}}", "unknown placeholder {{workflow.name}}"),
            ("{{steps.a.output", "without its '}}'"),
            ("{{steps.a.output}}", "own output"),
        ] {
            let spec = spec(&format!(
                "steps:\n- {{name: a, agentRef: {{name: x}}, input: {input:?}}}\n- {{name: review, type: Approval}}\n"
            ));
            let error = check(&spec).unwrap_err().to_string();
            assert!(error.starts_with("step a: ") && error.contains(expected), "{input}: {error}");
        }
    }
}
