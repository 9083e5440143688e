//! `kubectl agents describe agentbuild NAME`: the source and target, the current run step by
//! step, the last pushed image, and the runs kept.

use agents_api::AgentBuild;
use kube::ResourceExt;
use kube::api::DynamicObject;

use super::progress;
use crate::output;

/// The page of `build`, with its runs (or why they could not be listed).
pub fn page(build: &AgentBuild, runs: Result<&[DynamicObject], String>, colour: bool) -> String {
    let spec = &build.spec;
    let status = build.status.clone().unwrap_or_default();
    let mut page = String::new();
    let mut line = |text: String| {
        page.push_str(&text);
        page.push('\n');
    };
    line(format!("Name:         {}", build.name_any()));
    line(format!("Namespace:    {}", build.namespace().unwrap_or_default()));
    line(format!("Phase:        {}", progress::phase(status.phase, colour)));
    line(format!("Reason:       {}", output::or_none(status.reason.clone())));
    line(format!("Message:      {}", output::or_none(status.message.clone())));
    line(format!("Source:       {} at {} (dir {})", spec.git.url, spec.git.revision, spec.git.context_dir));
    if let Some(token) = &spec.git.token_secret_ref {
        line(format!("  Token:      Secret {} key {}", token.name, token.key));
    }
    line(format!("Dockerfile:   {}", spec.dockerfile));
    line(format!("Target:       {}:{}", spec.image, spec.tag));
    if let Some(push) = &spec.push_secret_ref {
        line(format!("  Credentials: Secret {} key {}", push.name, push.key));
    }
    for arg in &spec.build_args {
        line(format!("  Build arg:  {}={}", arg.name, arg.value));
    }
    line(format!("Timeout:      {} (keeps {} finished runs)", spec.timeout, spec.history_limit));
    line(format!("Last image:   {}", output::or_none(status.image.clone())));
    line(format!("Current run:  {}", output::or_none(status.run_name.clone())));
    for step in &status.steps {
        line(format!("  {:<6}      {}", step.name, progress::describe(step)));
    }
    match runs {
        Ok(runs) if !runs.is_empty() => {
            line("Runs:".into());
            for run in runs {
                let outcome = format!("{:?}", agents_render::build::tekton::RunStatus::of(run).outcome());
                line(format!("  {}   {outcome}", run.name_any()));
            }
        }
        Ok(_) => {}
        Err(why) => line(format!("Runs:         cannot list them: {why}")),
    }
    page
}
