//! ModelAPI and MCPServer as server kinds.

use agents_api::{MCPServer, MCPServerStatus, ModelAPI, ModelAPIStatus, ServerPhase};
use agents_render::agent::Incomplete;
use agents_render::server::{Children, Observed};
use agents_render::{labels, mcp_server, model_api};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use kube::runtime::events::EventType;

use super::{Answer, ServerKind};
use crate::context::Context;
use crate::report::Reported;
use crate::watches::{Shared, Watches};

/// Every change of a server's phase is news once it had one; failing or losing pods is a warning.
fn news(before: Option<ServerPhase>, next: ServerPhase) -> Option<EventType> {
    before?;
    Some(match next {
        ServerPhase::Failed | ServerPhase::Degraded => EventType::Warning,
        _ => EventType::Normal,
    })
}

impl Reported for ModelAPI {
    const KIND: &'static str = "ModelAPI";
    type Status = ModelAPIStatus;
    type Phase = ServerPhase;

    fn current_status(&self) -> Option<&ModelAPIStatus> {
        self.status.as_ref()
    }

    fn phase(status: &ModelAPIStatus) -> Option<ServerPhase> {
        status.phase
    }

    fn observed_generation(status: &ModelAPIStatus) -> Option<i64> {
        status.observed_generation
    }

    fn news(before: Option<ServerPhase>, next: ServerPhase) -> Option<EventType> {
        news(before, next)
    }

    fn why(_: &ModelAPIStatus) -> Option<String> {
        None
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
}

impl Reported for MCPServer {
    const KIND: &'static str = "MCPServer";
    type Status = MCPServerStatus;
    type Phase = ServerPhase;

    fn current_status(&self) -> Option<&MCPServerStatus> {
        self.status.as_ref()
    }

    fn phase(status: &MCPServerStatus) -> Option<ServerPhase> {
        status.phase
    }

    fn observed_generation(status: &MCPServerStatus) -> Option<i64> {
        status.observed_generation
    }

    fn news(before: Option<ServerPhase>, next: ServerPhase) -> Option<EventType> {
        news(before, next)
    }

    fn why(_: &MCPServerStatus) -> Option<String> {
        None
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServerPhase::*;

    #[test]
    fn a_phase_change_is_news_once_there_was_a_phase() {
        assert_eq!(news(None, Pending), None, "a new server's first phase");
        assert_eq!(news(Some(Pending), Ready), Some(EventType::Normal));
        assert_eq!(news(Some(Ready), Degraded), Some(EventType::Warning));
        assert_eq!(news(Some(Ready), Failed), Some(EventType::Warning));
    }
}
