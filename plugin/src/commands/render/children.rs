//! Each resource's children, from the operator's own rendering (agents-render) and its decisions:
//! children it applies carry the content hash it stamps them with; runs it creates (a build's
//! PipelineRun, a workflow's run) are created as rendered. What the operator would not write now
//! is said in a note instead.

use agents_api::{AgentBuild, AgentWorkflow, ModelAPIMode};
use agents_render::agent::resolve::{Lookup, resolve};
use agents_render::agent::{self, Inputs};
use agents_render::workflow::{self as workflows, RunRequest};
use agents_render::{build, hash, mcp_server, model_api, server};
use kube::Resource as _;
use serde::Serialize;

use super::input::Resource;
use super::live::Live;
use super::{Document, Note};
use agents_render::agent::resolve::Objects;

/// What one resource renders to.
#[derive(Debug, Default)]
pub struct Rendered {
    pub documents: Vec<Document>,
    pub notes: Vec<Note>,
}

impl Rendered {
    fn push(&mut self, owner: &str, object: &impl Serialize) -> anyhow::Result<()> {
        self.documents.push(Document { owner: owner.to_string(), object: serde_json::to_value(object)? });
        Ok(())
    }

    /// A child the operator applies: stamped with the hash it compares before each apply.
    fn applied<K: kube::Resource + Serialize>(&mut self, owner: &str, child: Option<K>) -> anyhow::Result<()> {
        match child {
            Some(child) => self.push(owner, &hash::stamp(child)),
            None => Ok(()),
        }
    }

    fn not_rendered(&mut self, owner: &str, text: impl Into<String>) {
        self.notes.push(Note::not_rendered(owner, text.into()));
    }

    fn assumed(&mut self, owner: &str, text: impl Into<String>) {
        self.notes.push(Note::assumed(owner, text.into()));
    }
}

/// The children of `resource`, as the operator would write them with `world` around it.
pub fn render(resource: &Resource, world: &Objects, live: Option<&Live>) -> anyhow::Result<Rendered> {
    let mut out = Rendered::default();
    let owner = resource.label();
    match resource {
        Resource::Agent(a) => render_agent(a, world, live, &owner, &mut out)?,
        Resource::ModelAPI(m) => {
            if m.spec.mode == ModelAPIMode::External {
                let url = model_api::endpoint(m).unwrap_or_default();
                out.not_rendered(&owner, format!("mode External runs nothing in the cluster: its Agents call {url}"));
            }
            server_children(model_api::children(m)?, &owner, &mut out)?;
        }
        Resource::MCPServer(m) => server_children(mcp_server::children(m)?, &owner, &mut out)?,
        Resource::AgentBuild(b) => render_build(b, live, &owner, &mut out)?,
        Resource::AgentWorkflow(w) => render_workflow(w, world, live, &owner, &mut out)?,
    }
    Ok(out)
}

fn render_agent(
    a: &agents_api::Agent,
    world: &Objects,
    live: Option<&Live>,
    owner: &str,
    out: &mut Rendered,
) -> anyhow::Result<()> {
    let dependencies = resolve(a, world, None);
    let service_monitor_served = live.is_none_or(|l| l.service_monitors);
    let children = agent::children(Inputs { agent: a, dependencies: &dependencies, service_monitor_served })?;
    if children.deployment.is_none() {
        out.not_rendered(
            owner,
            format!(
                "no Deployment: the operator writes it once its dependencies are ready ({})",
                dependencies.blockers().join("; ")
            ),
        );
    }
    if agent::runs_the_runtime(a) {
        out.assumed(
            owner,
            format!(
                "runs the reference runtime of this release, {} (an operator started with --agent-runtime-image runs that image instead)",
                agent::release_runtime_image()
            ),
        );
    }
    if a.spec.monitoring.is_some() {
        match live {
            None => out.assumed(owner, "the cluster serves ServiceMonitors (monitoring.coreos.com/v1): the operator writes none where it does not"),
            Some(_) if !service_monitor_served => out.not_rendered(owner, "no ServiceMonitor: the cluster does not serve monitoring.coreos.com/v1 ServiceMonitors"),
            Some(_) => {}
        }
    }
    out.applied(owner, Some(children.service_account))?;
    out.applied(owner, Some(children.config_map))?;
    out.applied(owner, children.deployment)?;
    out.applied(owner, children.service)?;
    out.applied(owner, children.autoscaler)?;
    out.applied(owner, children.disruption_budget)?;
    out.applied(owner, children.network_policy)?;
    out.applied(owner, children.service_monitor)
}

fn server_children(children: server::Children, owner: &str, out: &mut Rendered) -> anyhow::Result<()> {
    out.applied(owner, children.config_map)?;
    out.applied(owner, children.claim)?;
    out.applied(owner, children.deployment)?;
    out.applied(owner, children.service)
}

fn render_build(b: &AgentBuild, live: Option<&Live>, owner: &str, out: &mut Rendered) -> anyhow::Result<()> {
    let namespace = b.meta().namespace.as_deref().unwrap_or_default();
    let name = b.meta().name.as_deref().unwrap_or_default();
    let run_name = build::run_name(b);
    let runs = match live {
        None => {
            out.assumed(
                owner,
                format!("the cluster runs Tekton Pipelines, and {run_name} is the build's first run (numbered 1)"),
            );
            Vec::new()
        }
        Some(live) if !live.tekton => {
            out.not_rendered(
                owner,
                "no PipelineRun: the cluster does not serve tekton.dev/v1 PipelineRuns (install Tekton Pipelines)",
            );
            return Ok(());
        }
        Some(live) => live.runs_of(namespace, name),
    };
    if runs.iter().any(|r| r.metadata.name.as_deref() == Some(run_name.as_str())) {
        out.not_rendered(owner, format!("no new PipelineRun: {run_name} already runs this spec (a spec change or `kubectl agents build {name}` starts another)"));
        return Ok(());
    }
    out.push(owner, &build::next_run(b, &runs)?)
}

fn render_workflow(
    w: &AgentWorkflow,
    world: &Objects,
    live: Option<&Live>,
    owner: &str,
    out: &mut Rendered,
) -> anyhow::Result<()> {
    let namespace = w.meta().namespace.as_deref().unwrap_or_default();
    let name = w.meta().name.as_deref().unwrap_or_default();
    match live {
        None => out.assumed(owner, "the cluster runs Argo Workflows"),
        Some(live) if !live.argo => {
            out.not_rendered(
                owner,
                "no Argo object: the cluster does not serve argoproj.io/v1alpha1 Workflows (install Argo Workflows)",
            );
            return Ok(());
        }
        Some(_) => {}
    }
    let dag = match workflows::check(&w.spec) {
        Ok(dag) => dag,
        Err(invalid) => {
            out.not_rendered(owner, format!("nothing: the operator reports it Failed, as {invalid}"));
            return Ok(());
        }
    };
    let agents = workflows::resolve::agents(w, |agent| world.agent(namespace, agent));
    let endpoints = workflows::resolve::endpoints(&agents);
    let waiting = workflows::status::agents_not_ready(&agents);
    if w.spec.schedule.is_some() {
        match &waiting {
            None => out.applied(owner, workflows::cron(w, &dag, &endpoints)?)?,
            Some(waiting) => out.not_rendered(owner, format!("no CronWorkflow yet: the operator is {waiting}")),
        }
    }
    let handled =
        live.and_then(|l| l.workflow(namespace, name)).and_then(|w| w.status.as_ref()?.last_run_request.clone());
    match RunRequest::of(w) {
        Some(request) if handled.as_deref() == Some(request.id.as_str()) => {
            out.not_rendered(owner, format!("no Workflow: run {} was started already", request.id));
        }
        Some(request) => match &waiting {
            None => out.push(owner, &workflows::render_run(w, &dag, &endpoints, &request)?)?,
            Some(waiting) => {
                out.not_rendered(owner, format!("no Workflow for run {} yet: the operator is {waiting}", request.id))
            }
        },
        None if w.spec.schedule.is_none() => out.not_rendered(
            owner,
            format!("no Argo object until a run is asked for: `kubectl agents workflow run {name}` starts one"),
        ),
        None => {}
    }
    Ok(())
}
