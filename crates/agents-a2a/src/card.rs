//! The agent card (`/.well-known/agent-card.json`): who an agent is and where it is called.

use serde::{Deserialize, Serialize};

use crate::Version;

/// An agent card. The runtime serves 1.0's fields together with 0.3's top-level `url`,
/// `preferredTransport` and `protocolVersion`, so clients of either version read it; reading
/// accepts a card of either version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentCard {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_interfaces: Vec<Interface>,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub default_input_modes: Vec<String>,
    #[serde(default)]
    pub default_output_modes: Vec<String>,
    #[serde(default)]
    pub skills: Vec<Skill>,
    /// 0.3: the URL of the preferred interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_transport: Option<String>,
    /// 0.3: the version of the card's `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interface {
    pub url: String,
    /// `JSONRPC`, `GRPC` or `HTTP+JSON`.
    pub protocol_binding: String,
    pub protocol_version: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    #[serde(default)]
    pub streaming: bool,
    #[serde(default)]
    pub push_notifications: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Skill {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

const JSONRPC: &str = "JSONRPC";

/// The version a card names: `1.0`, `1.0.0` and any `1.x` are 1.0; `0.3` and `0.3.x` are 0.3.
pub fn parse_version(text: &str) -> Option<Version> {
    let mut numbers = text.trim().split('.');
    match (numbers.next(), numbers.next()) {
        (Some("1"), _) => Some(Version::V1_0),
        (Some("0"), Some("3")) => Some(Version::V0_3),
        _ => None,
    }
}

impl AgentCard {
    /// The card of an agent called at `url`, speaking 1.0 and 0.3 over JSON-RPC with streaming.
    pub fn served(name: &str, description: &str, version: &str, url: &str, skills: Vec<Skill>) -> Self {
        let interface = |v: Version| Interface {
            url: url.to_string(),
            protocol_binding: JSONRPC.into(),
            protocol_version: v.as_str().into(),
        };
        AgentCard {
            name: name.to_string(),
            description: description.to_string(),
            version: version.to_string(),
            supported_interfaces: vec![interface(Version::V1_0), interface(Version::V0_3)],
            capabilities: Capabilities { streaming: true, push_notifications: false },
            default_input_modes: vec!["text/plain".into()],
            default_output_modes: vec!["text/plain".into()],
            skills,
            url: Some(url.to_string()),
            preferred_transport: Some(JSONRPC.into()),
            protocol_version: Some(Version::V0_3.as_str().into()),
        }
    }

    /// Where to send JSON-RPC calls and in which version: the first 1.0 JSON-RPC interface, else
    /// the first 0.3 one, else a 0.3 card's `url`.
    pub fn endpoint(&self) -> Option<(&str, Version)> {
        let jsonrpc = |version: Version| {
            self.supported_interfaces.iter().find(|i| {
                i.protocol_binding.eq_ignore_ascii_case(JSONRPC) && parse_version(&i.protocol_version) == Some(version)
            })
        };
        if let Some(interface) = jsonrpc(Version::V1_0).or_else(|| jsonrpc(Version::V0_3)) {
            return Some((&interface.url, parse_version(&interface.protocol_version)?));
        }
        let transport = self.preferred_transport.as_deref().unwrap_or(JSONRPC);
        let version = self.protocol_version.as_deref().map_or(Some(Version::V0_3), parse_version)?;
        (transport.eq_ignore_ascii_case(JSONRPC) && version == Version::V0_3).then_some(())?;
        self.url.as_deref().map(|url| (url, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_served_card_names_both_versions_and_prefers_1_0() {
        let card = AgentCard::served("research", "Finds papers", "0.1.0", "http://research.team-a/", vec![]);
        let json = serde_json::to_value(&card).unwrap();
        assert_eq!(json["supportedInterfaces"][0]["protocolVersion"], "1.0");
        assert_eq!(json["supportedInterfaces"][1]["protocolVersion"], "0.3");
        assert_eq!(
            (json["url"].as_str(), json["protocolVersion"].as_str()),
            (Some("http://research.team-a/"), Some("0.3"))
        );
        assert_eq!(json["capabilities"]["streaming"], true);
        assert_eq!(card.endpoint(), Some(("http://research.team-a/", Version::V1_0)));
    }

    #[test]
    fn a_0_3_card_is_called_at_its_url() {
        let card: AgentCard = serde_json::from_value(json!({
            "name": "old", "url": "http://old/a2a", "protocolVersion": "0.3.0", "preferredTransport": "JSONRPC",
            "skills": [{"id": "s", "name": "S"}]
        }))
        .unwrap();
        assert_eq!(card.endpoint(), Some(("http://old/a2a", Version::V0_3)));
        assert_eq!(card.skills[0].name, "S");
    }

    #[test]
    fn a_card_without_a_jsonrpc_interface_has_no_endpoint() {
        let card: AgentCard = serde_json::from_value(json!({
            "name": "grpc-only",
            "supportedInterfaces": [{"url": "grpc://x", "protocolBinding": "GRPC", "protocolVersion": "1.0"}]
        }))
        .unwrap();
        assert_eq!(card.endpoint(), None);
        let future: AgentCard =
            serde_json::from_value(json!({"name": "f", "url": "http://f", "protocolVersion": "2.0"})).unwrap();
        assert_eq!(future.endpoint(), None);
    }

    #[test]
    fn versions_are_read_by_major_and_minor() {
        assert_eq!(parse_version("1.0"), Some(Version::V1_0));
        assert_eq!(parse_version("1.1.2"), Some(Version::V1_0));
        assert_eq!(parse_version("0.3.0"), Some(Version::V0_3));
        assert_eq!(parse_version("0.2.5"), None);
    }
}
