//! The rows `get` prints for each kind, from its objects ([`Listed`]).

use agents_api::{Agent, AgentBuild, AgentStatus, AgentWorkflow, MCPServer, ModelAPI, ModelAPIMode};
use agents_render::{mcp_server, model_api};
use kube::{Resource, ResourceExt};

use super::Listed;
use crate::output::{self, RowOptions};
use crate::style;

/// `ready/desired`, where desired is the spec's count, else the Deployment's.
pub fn ready(agent: &Agent) -> String {
    let status = agent.status.clone().unwrap_or_default();
    let desired = agent.spec.replicas.or(status.replicas).unwrap_or(0);
    format!("{}/{}", status.ready_replicas.unwrap_or(0), desired)
}

impl Listed for Agent {
    const SINGULAR: &'static str = "agent";
    const PLURAL: &'static str = "agents";

    fn header(wide: bool) -> Vec<&'static str> {
        let mut header = vec!["NAME", "PHASE", "READY", "MODEL", "IMAGE", "ENDPOINT", "AGE"];
        if wide {
            header.extend(["PROVIDER", "PEERS", "REASON"]);
        }
        header
    }

    fn row(&self, options: &RowOptions) -> Vec<String> {
        let RowOptions { wide, colour, now } = *options;
        let agent = self;
        let status: AgentStatus = agent.status.clone().unwrap_or_default();
        let mut row = vec![
            agent.name_any(),
            style::phase(status.phase, colour),
            ready(agent),
            output::or_none(agent.spec.model.as_ref().map(|m| m.name.clone())),
            // What runs, as the operator reports it (the printer column, so a server-side Table reads the same).
            output::or_none(status.image.clone()),
            output::or_none(status.endpoint.clone()),
            output::age(agent.meta().creation_timestamp.as_ref(), now),
        ];
        if wide {
            let peers: Vec<&str> = agent.spec.peers.iter().map(|p| p.name.as_str()).collect();
            row.extend([
                output::or_none(agent.spec.model.as_ref().and_then(|m| m.provider.clone())),
                output::or_none(Some(peers.join(","))),
                output::or_none(ready_reason(&status.conditions)),
            ]);
        }
        row
    }
}

impl Listed for AgentBuild {
    const SINGULAR: &'static str = "agentbuild";
    const PLURAL: &'static str = "agentbuilds";

    fn header(wide: bool) -> Vec<&'static str> {
        let mut header = vec!["NAME", "PHASE", "IMAGE", "RUN", "AGE"];
        if wide {
            header.extend(["REPOSITORY", "REVISION", "REASON"]);
        }
        header
    }

    fn row(&self, options: &RowOptions) -> Vec<String> {
        let RowOptions { wide, colour, now } = *options;
        let status = self.status.clone().unwrap_or_default();
        let mut row = vec![
            self.name_any(),
            style::phase_word(status.phase.map(|p| p.as_str()), colour),
            output::or_none(status.image.clone()),
            output::or_none(status.run_name.clone()),
            output::age(self.meta().creation_timestamp.as_ref(), now),
        ];
        if wide {
            row.extend([
                self.spec.git.url.clone(),
                self.spec.git.revision.clone(),
                output::or_none(status.reason.clone()),
            ]);
        }
        row
    }
}

impl Listed for AgentWorkflow {
    const SINGULAR: &'static str = "agentworkflow";
    const PLURAL: &'static str = "agentworkflows";

    fn header(_wide: bool) -> Vec<&'static str> {
        vec!["NAME", "PHASE", "STEPS", "SCHEDULE", "LAST RUN", "AGE"]
    }

    fn row(&self, options: &RowOptions) -> Vec<String> {
        let RowOptions { colour, now, .. } = *options;
        let status = self.status.clone().unwrap_or_default();
        vec![
            self.name_any(),
            style::phase_word(status.phase.map(|p| p.as_str()), colour),
            self.spec.steps.len().to_string(),
            output::or_none(self.spec.schedule.as_ref().map(|s| s.cron.clone())),
            output::or_none(status.last_run.map(|r| r.name)),
            output::age(self.meta().creation_timestamp.as_ref(), now),
        ]
    }
}

impl Listed for ModelAPI {
    const SINGULAR: &'static str = "modelapi";
    const PLURAL: &'static str = "modelapis";

    fn header(wide: bool) -> Vec<&'static str> {
        let mut header = vec!["NAME", "MODE", "PHASE", "ENDPOINT", "MODELS", "AGE"];
        if wide {
            header.extend(["READY", "IMAGE", "REASON"]);
        }
        header
    }

    fn row(&self, options: &RowOptions) -> Vec<String> {
        let RowOptions { wide, colour, now } = *options;
        let status = self.status.clone().unwrap_or_default();
        let mode = format!("{:?}", self.spec.mode);
        let mut row = vec![
            self.name_any(),
            mode,
            style::phase_word(status.phase.map(|p| p.as_str()), colour),
            output::or_none(status.endpoint.clone()),
            output::or_none(Some(status.models.join(","))),
            output::age(self.meta().creation_timestamp.as_ref(), now),
        ];
        if wide {
            let image = match self.spec.mode {
                ModelAPIMode::Proxy => Some(self.spec.image.clone().unwrap_or_else(|| model_api::LITELLM_IMAGE.into())),
                ModelAPIMode::Hosted => Some(self.spec.image.clone().unwrap_or_else(|| model_api::OLLAMA_IMAGE.into())),
                ModelAPIMode::External => None,
            };
            row.extend([
                output::or_none(status.ready_replicas.map(|r| format!("{r}/{}", self.spec.replicas.unwrap_or(1)))),
                output::or_none(image),
                output::or_none(ready_reason(&status.conditions)),
            ]);
        }
        row
    }
}

impl Listed for MCPServer {
    const SINGULAR: &'static str = "mcpserver";
    const PLURAL: &'static str = "mcpservers";

    fn header(wide: bool) -> Vec<&'static str> {
        let mut header = vec!["NAME", "SOURCE", "PHASE", "ENDPOINT", "AGE"];
        if wide {
            header.extend(["READY", "TOOLS", "REASON"]);
        }
        header
    }

    fn row(&self, options: &RowOptions) -> Vec<String> {
        let RowOptions { wide, colour, now } = *options;
        let status = self.status.clone().unwrap_or_default();
        let mut row = vec![
            self.name_any(),
            mcp_server::source(self),
            style::phase_word(status.phase.map(|p| p.as_str()), colour),
            output::or_none(status.endpoint.clone()),
            output::age(self.meta().creation_timestamp.as_ref(), now),
        ];
        if wide {
            row.extend([
                output::or_none(status.ready_replicas.map(|r| format!("{r}/{}", self.spec.replicas.unwrap_or(1)))),
                output::or_none(status.tools.as_ref().map(|t| t.join(","))),
                output::or_none(ready_reason(&status.conditions)),
            ]);
        }
        row
    }
}

/// The reason of the `Ready` condition, which says more than the phase.
fn ready_reason(conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]) -> Option<String> {
    agents_api::conditions::find(conditions, agents_api::conditions::types::READY).map(|c| c.reason.clone())
}
