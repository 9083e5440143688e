//! ModelAPI and MCPServer as server kinds.

use agents_api::{MCPServer, MCPServerStatus, ModelAPI, ModelAPIStatus, ServerPhase};
use agents_render::agent::Incomplete;
use agents_render::server::{Children, Observed};
use agents_render::{labels, mcp_server, model_api};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::ServerKind;

impl ServerKind for ModelAPI {
    const KIND: &'static str = "ModelAPI";
    const OWNER_LABEL: &'static str = labels::MODEL_API;
    type Status = ModelAPIStatus;

    fn children(&self) -> Result<Children, Incomplete> {
        model_api::children(self)
    }

    fn runs_pods(&self) -> bool {
        model_api::port(self).is_some()
    }

    fn status(&self, observed: Observed<'_>, now: &Time) -> ModelAPIStatus {
        model_api::status(self, observed, now)
    }

    fn current_status(&self) -> Option<&ModelAPIStatus> {
        self.status.as_ref()
    }

    fn phase(status: &ModelAPIStatus) -> Option<ServerPhase> {
        status.phase
    }
}

impl ServerKind for MCPServer {
    const KIND: &'static str = "MCPServer";
    const OWNER_LABEL: &'static str = labels::MCP_SERVER;
    type Status = MCPServerStatus;

    fn children(&self) -> Result<Children, Incomplete> {
        mcp_server::children(self)
    }

    fn runs_pods(&self) -> bool {
        true
    }

    fn status(&self, observed: Observed<'_>, now: &Time) -> MCPServerStatus {
        mcp_server::status(self, observed, now)
    }

    fn current_status(&self) -> Option<&MCPServerStatus> {
        self.status.as_ref()
    }

    fn phase(status: &MCPServerStatus) -> Option<ServerPhase> {
        status.phase
    }
}
