//! The kinds of the agents.dev API the plugin knows, and the names users call them by.

/// A kind of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Agent,
    AgentBuild,
    ModelAPI,
    MCPServer,
    AgentWorkflow,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Agent, Kind::AgentBuild, Kind::ModelAPI, Kind::MCPServer, Kind::AgentWorkflow];

    /// Singular, plural and short names, as `kubectl get` accepts them.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Kind::Agent => &["agent", "agents", "ag"],
            Kind::AgentBuild => &["agentbuild", "agentbuilds", "ab"],
            Kind::ModelAPI => &["modelapi", "modelapis", "mapi"],
            Kind::MCPServer => &["mcpserver", "mcpservers", "mcp"],
            Kind::AgentWorkflow => &["agentworkflow", "agentworkflows", "awf", "workflow", "workflows", "wf"],
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Kind::Agent => "Agent",
            Kind::AgentBuild => "AgentBuild",
            Kind::ModelAPI => "ModelAPI",
            Kind::MCPServer => "MCPServer",
            Kind::AgentWorkflow => "AgentWorkflow",
        }
    }

    /// The kind's resource, for requests that treat every kind alike (lists of `DynamicObject`).
    pub fn resource(self) -> kube::api::ApiResource {
        use kube::api::ApiResource;
        match self {
            Kind::Agent => ApiResource::erase::<agents_api::Agent>(&()),
            Kind::AgentBuild => ApiResource::erase::<agents_api::AgentBuild>(&()),
            Kind::ModelAPI => ApiResource::erase::<agents_api::ModelAPI>(&()),
            Kind::MCPServer => ApiResource::erase::<agents_api::MCPServer>(&()),
            Kind::AgentWorkflow => ApiResource::erase::<agents_api::AgentWorkflow>(&()),
        }
    }

    /// The kind a misspelt `name` most likely meant (`agnets` → Agent), if one is that close.
    pub fn closest_to(name: &str) -> Option<Kind> {
        if Kind::parse(name).is_some() {
            return None;
        }
        let name = name.to_ascii_lowercase();
        let name = name.as_str();
        Kind::ALL
            .into_iter()
            .flat_map(|kind| kind.names().iter().map(move |known| (strsim::damerau_levenshtein(known, name), kind)))
            .filter(|(distance, _)| (1..=2).contains(distance) && name.len() > 3)
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, kind)| kind)
    }

    /// The kind called `name` (case-insensitive; `agents.agents.dev` works too).
    pub fn parse(name: &str) -> Option<Kind> {
        let name = name.to_ascii_lowercase();
        let name = name.strip_suffix(".agents.dev").unwrap_or(&name);
        Kind::ALL.into_iter().find(|k| k.names().contains(&name))
    }
}

/// Splits `[KIND] [NAME…]` arguments: a first argument naming a kind is the kind (Agent when
/// there is none), the rest are names.
pub fn split_kind(args: &[String]) -> (Kind, &[String]) {
    match args.first().and_then(|first| Kind::parse(first)) {
        Some(kind) => (kind, &args[1..]),
        None => (Kind::Agent, args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_found_by_any_of_their_names() {
        for name in ["agent", "Agents", "ag", "agents.agents.dev"] {
            assert_eq!(Kind::parse(name), Some(Kind::Agent), "{name}");
        }
        assert_eq!(Kind::parse("research"), None);
        assert_eq!(Kind::parse("ModelAPIs"), Some(Kind::ModelAPI));
        assert_eq!(Kind::parse("mcp"), Some(Kind::MCPServer));
        assert_eq!(Kind::parse("mcpservers.agents.dev"), Some(Kind::MCPServer));
        assert_eq!(Kind::parse("agentbuilds.agents.dev"), Some(Kind::AgentBuild));
        assert_eq!(Kind::parse("ab"), Some(Kind::AgentBuild));
        assert_eq!(Kind::parse("workflows"), Some(Kind::AgentWorkflow));
        assert_eq!(Kind::parse("agentworkflows.agents.dev"), Some(Kind::AgentWorkflow));
    }

    #[test]
    fn a_misspelt_kind_is_recognised_but_a_name_is_not() {
        assert_eq!(Kind::closest_to("agnets"), Some(Kind::Agent));
        assert_eq!(Kind::closest_to("modelapsi"), Some(Kind::ModelAPI));
        assert_eq!(Kind::closest_to("mcpserver"), None, "a kind's own name is parsed, not corrected");
        assert_eq!(Kind::closest_to("research"), None);
        assert_eq!(Kind::closest_to("ab"), None, "short names are too close to everything");
    }

    #[test]
    fn a_leading_kind_is_split_from_the_names() {
        let args = ["agents".to_string(), "a".to_string()];
        assert_eq!(split_kind(&args), (Kind::Agent, &args[1..]));
        let names = ["research".to_string()];
        assert_eq!(split_kind(&names), (Kind::Agent, &names[..]));
    }
}
