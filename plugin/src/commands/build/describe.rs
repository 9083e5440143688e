//! `kubectl agents describe agentbuild NAME`: the source and target, the current run step by
//! step, the last pushed image, and the runs kept.

use std::fmt::Write;
use std::process::ExitCode;

use kube::ResourceExt;

use super::progress;
use crate::output;
use crate::session::Session;
use crate::style;

pub async fn run(session: &Session, name: &str) -> anyhow::Result<ExitCode> {
    let build = super::get(session, name).await?;
    let spec = &build.spec;
    let status = build.status.clone().unwrap_or_default();
    let colour = style::colour_enabled_on_stdout();
    let mut page = String::new();
    writeln!(page, "Name:         {}", build.name_any())?;
    writeln!(page, "Namespace:    {}", build.namespace().unwrap_or_default())?;
    writeln!(page, "Phase:        {}", progress::phase(status.phase, colour))?;
    writeln!(page, "Reason:       {}", output::or_none(status.reason.clone()))?;
    writeln!(page, "Message:      {}", output::or_none(status.message.clone()))?;
    writeln!(page, "Source:       {} at {} (dir {})", spec.git.url, spec.git.revision, spec.git.context_dir)?;
    if let Some(token) = &spec.git.token_secret_ref {
        writeln!(page, "  Token:      Secret {} key {}", token.name, token.key)?;
    }
    writeln!(page, "Dockerfile:   {}", spec.dockerfile)?;
    writeln!(page, "Target:       {}:{}", spec.image, spec.tag)?;
    if let Some(push) = &spec.push_secret_ref {
        writeln!(page, "  Credentials: Secret {} key {}", push.name, push.key)?;
    }
    for arg in &spec.build_args {
        writeln!(page, "  Build arg:  {}={}", arg.name, arg.value)?;
    }
    writeln!(page, "Timeout:      {} (keeps {} finished runs)", spec.timeout, spec.history_limit)?;
    writeln!(page, "Last image:   {}", output::or_none(status.image.clone()))?;
    writeln!(page, "Current run:  {}", output::or_none(status.run_name.clone()))?;
    for step in &status.steps {
        writeln!(page, "  {:<6}      {}", step.name, progress::describe(step))?;
    }
    print!("{page}");
    match super::runs_of(session, name).await {
        Ok(runs) if !runs.is_empty() => {
            println!("Runs:");
            for run in runs {
                let outcome = format!("{:?}", agents_render::build::tekton::RunStatus::of(&run).outcome());
                println!("  {}   {outcome}", run.name_any());
            }
        }
        Ok(_) => {}
        Err(e) => println!("Runs:         cannot list them: {}", crate::error::explain(&e)),
    }
    Ok(ExitCode::SUCCESS)
}
