//! ModelAPI and MCPServer as server kinds.

use agents_api::{MCPServer, MCPServerStatus, ModelAPI, ModelAPIStatus, ServerPhase};
use agents_render::agent::Incomplete;
use agents_render::server::{Children, Observed};
use agents_render::{labels, mcp_server, model_api};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use kube::runtime::events::Event;

use super::{Answer, ServerKind, reconcile};
use crate::context::Context;
use crate::report::Reported;
use crate::watches::{Shared, Watches};

impl Reported for ModelAPI {
    const KIND: &'static str = "ModelAPI";
    type Status = ModelAPIStatus;

    fn current_status(&self) -> Option<&ModelAPIStatus> {
        self.status.as_ref()
    }

    fn event(before: Option<&ModelAPIStatus>, after: &ModelAPIStatus) -> Option<Event> {
        reconcile::phase_event(before.and_then(|s| s.phase), after.phase)
    }
}

impl ServerKind for ModelAPI {
    const OWNER_LABEL: &'static str = labels::MODEL_API;
    fn watch(watches: &Watches) -> &Shared<Self> {
        &watches.model_apis
    }
    fn children(&self) -> Result<Children, Incomplete> {
        model_api::children(self)
    }

    fn runs_pods(&self) -> bool {
        model_api::port(self).is_some()
    }

    fn config_map_ref(&self) -> Option<&agents_api::model_api::ConfigMapKeyRef> {
        model_api::config_map_ref(self)
    }

    fn status(&self, observed: Observed<'_>, _: Option<&Answer>, now: &Time) -> ModelAPIStatus {
        model_api::status(self, observed, now)
    }

    fn phase(status: &ModelAPIStatus) -> Option<ServerPhase> {
        status.phase
    }
}

impl Reported for MCPServer {
    const KIND: &'static str = "MCPServer";
    type Status = MCPServerStatus;

    fn current_status(&self) -> Option<&MCPServerStatus> {
        self.status.as_ref()
    }

    fn event(before: Option<&MCPServerStatus>, after: &MCPServerStatus) -> Option<Event> {
        reconcile::phase_event(before.and_then(|s| s.phase), after.phase)
    }
}

impl ServerKind for MCPServer {
    const OWNER_LABEL: &'static str = labels::MCP_SERVER;
    fn watch(watches: &Watches) -> &Shared<Self> {
        &watches.mcp_servers
    }
    fn children(&self) -> Result<Children, Incomplete> {
        mcp_server::children(self)
    }

    fn runs_pods(&self) -> bool {
        true
    }

    async fn ask(&self, ctx: &Context, phase: ServerPhase) -> Option<Answer> {
        let lister = ctx.tools.as_ref()?;
        if !mcp_server::tools_wanted(self, phase) {
            return None;
        }
        let answer = lister.list(self).await.map_err(|e| format!("could not list the tools: {e}"));
        if let Err(why) = &answer {
            tracing::debug!(name = %self.metadata.name.as_deref().unwrap_or_default(), "{why}");
        }
        Some(answer)
    }

    fn status(&self, observed: Observed<'_>, answer: Option<&Answer>, now: &Time) -> MCPServerStatus {
        mcp_server::status(self, observed, answer, now)
    }

    fn phase(status: &MCPServerStatus) -> Option<ServerPhase> {
        status.phase
    }
}
