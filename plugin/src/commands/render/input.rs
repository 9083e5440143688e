//! The agents.dev resources of the manifests, typed and placed in their namespace as `apply`
//! would place them. Other kinds (a Secret beside an Agent) are not the operator's to render and
//! are passed over.

use std::collections::BTreeMap;

use agents_api::{AgentBuild, AgentWorkflow, MCPServer, ModelAPI};
use kube::api::ObjectMeta;
use serde::de::DeserializeOwned;

use crate::commands::apply::Manifest;
use crate::error::Explained;
use crate::kinds::Kind;

/// One agents.dev resource to render.
#[derive(Debug, Clone)]
pub enum Resource {
    Agent(Box<agents_api::Agent>),
    ModelAPI(ModelAPI),
    MCPServer(MCPServer),
    AgentBuild(AgentBuild),
    AgentWorkflow(AgentWorkflow),
}

impl Resource {
    pub fn kind(&self) -> Kind {
        match self {
            Resource::Agent(_) => Kind::Agent,
            Resource::ModelAPI(_) => Kind::ModelAPI,
            Resource::MCPServer(_) => Kind::MCPServer,
            Resource::AgentBuild(_) => Kind::AgentBuild,
            Resource::AgentWorkflow(_) => Kind::AgentWorkflow,
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Resource::Agent(o) => &o.metadata,
            Resource::ModelAPI(o) => &o.metadata,
            Resource::MCPServer(o) => &o.metadata,
            Resource::AgentBuild(o) => &o.metadata,
            Resource::AgentWorkflow(o) => &o.metadata,
        }
    }

    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Resource::Agent(o) => &mut o.metadata,
            Resource::ModelAPI(o) => &mut o.metadata,
            Resource::MCPServer(o) => &mut o.metadata,
            Resource::AgentBuild(o) => &mut o.metadata,
            Resource::AgentWorkflow(o) => &mut o.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    pub fn namespace(&self) -> &str {
        self.meta().namespace.as_deref().unwrap_or_default()
    }

    /// `Agent team-a/research`: how notes and comments name it.
    pub fn label(&self) -> String {
        format!("{} {}/{}", self.kind().kind(), self.namespace(), self.name())
    }
}

/// Every agents.dev resource of the manifests, in their order, each in its namespace: its own,
/// else `namespace` (`-n`, the context's, or `default`). With `-n` given, a manifest naming
/// another namespace is refused, as `apply` refuses it.
pub fn resources(manifests: &[Manifest], namespace: &str, namespace_given: bool) -> anyhow::Result<Vec<Resource>> {
    let mut resources = Vec::new();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for manifest in manifests {
        let Some(mut resource) = resource(manifest)? else { continue };
        let name = resource.name().to_string();
        let kind = resource.kind().kind();
        let meta = resource.meta_mut();
        match meta.namespace.as_deref() {
            Some(named) if namespace_given && named != namespace => {
                return Err(Explained(format!(
                    "{}: the namespace of {kind} {name} ({named}) does not match the namespace -n gave ({namespace}): pass -n {named}, or remove metadata.namespace from the manifest",
                    manifest.source
                ))
                .into());
            }
            Some(_) => {}
            None => meta.namespace = Some(namespace.to_string()),
        }
        // Status is the operator's to write: applying a manifest never sets it.
        clear_status(&mut resource);
        let label = resource.label();
        if let Some(first) = seen.insert(label.clone(), &manifest.source) {
            return Err(Explained(format!(
                "{}: {label} is defined twice (also in {first}): keep one definition",
                manifest.source
            ))
            .into());
        }
        resources.push(resource);
    }
    Ok(resources)
}

fn clear_status(resource: &mut Resource) {
    match resource {
        Resource::Agent(o) => o.status = None,
        Resource::ModelAPI(o) => o.status = None,
        Resource::MCPServer(o) => o.status = None,
        Resource::AgentBuild(o) => o.status = None,
        Resource::AgentWorkflow(o) => o.status = None,
    }
}

/// The manifest as an agents.dev resource; `None` for another API's object.
fn resource(manifest: &Manifest) -> anyhow::Result<Option<Resource>> {
    let object = &manifest.object;
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let source = &manifest.source;
    let Some(version) = api_version.strip_prefix(agents_api::GROUP).and_then(|rest| rest.strip_prefix('/')) else {
        return Ok(None);
    };
    if version != agents_api::VERSION {
        return Err(Explained(format!(
            "{source}: {kind} {name} has apiVersion {api_version}, which the agents.dev API does not have: set apiVersion: {}",
            agents_api::API_VERSION
        ))
        .into());
    }
    let typed = Kind::ALL.into_iter().find(|k| k.kind() == kind).ok_or_else(|| {
        let hint =
            Kind::closest_to(kind).or_else(|| Kind::parse(kind)).map(|k| format!(" (did you mean {}?)", k.kind()));
        let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.kind()).collect();
        Explained(format!(
            "{source}: {api_version} has no kind {kind}{}; its kinds are {}",
            hint.unwrap_or_default(),
            kinds.join(", ")
        ))
    })?;
    let resource = match typed {
        Kind::Agent => Resource::Agent(Box::new(decode(manifest, kind, name)?)),
        Kind::ModelAPI => Resource::ModelAPI(decode(manifest, kind, name)?),
        Kind::MCPServer => Resource::MCPServer(decode(manifest, kind, name)?),
        Kind::AgentBuild => Resource::AgentBuild(decode(manifest, kind, name)?),
        Kind::AgentWorkflow => Resource::AgentWorkflow(decode(manifest, kind, name)?),
    };
    Ok(Some(resource))
}

/// The typed object, or the field that does not fit and why.
fn decode<K: DeserializeOwned>(manifest: &Manifest, kind: &str, name: &str) -> anyhow::Result<K> {
    serde_path_to_error::deserialize(manifest.object.clone()).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." { String::new() } else { format!("{path}: ") };
        anyhow::Error::new(Explained(format!(
            "{}: {kind} {name}: {at}{}: fix the manifest (`kubectl agents apply --dry-run -f` checks it against the cluster's schema)",
            manifest.source,
            e.inner()
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifests(text: &str) -> Vec<Manifest> {
        crate::commands::apply::parse(text, "in.yaml").unwrap()
    }

    fn error(text: &str, namespace_given: bool) -> String {
        resources(&manifests(text), "team-a", namespace_given).unwrap_err().to_string()
    }

    const AGENT: &str =
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: research}\nspec: {image: 'a:1'}\n";

    #[test]
    fn agents_dev_resources_are_typed_and_placed_in_a_namespace() {
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: key}}\n---\n{AGENT}---\n\
             apiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {{name: gateway, namespace: team-b}}\n\
             spec: {{mode: Proxy}}\nstatus: {{phase: Failed}}\n"
        );
        let found = resources(&manifests(&text), "team-a", false).unwrap();
        let labels: Vec<String> = found.iter().map(Resource::label).collect();
        assert_eq!(labels, ["Agent team-a/research", "ModelAPI team-b/gateway"]);
        assert!(matches!(&found[1], Resource::ModelAPI(m) if m.status.is_none()), "status is the operator's");
    }

    #[test]
    fn bad_input_says_what_where_and_how_to_fix_it() {
        let other_namespace = AGENT.replace("{name: research}", "{name: research, namespace: team-b}");
        assert!(
            error(&other_namespace, true).contains("does not match the namespace -n gave (team-a): pass -n team-b")
        );
        assert!(resources(&manifests(&other_namespace), "team-a", false).is_ok());

        let version = error(&AGENT.replace("v1alpha1", "v1"), false);
        assert!(
            version.contains("in.yaml: Agent research has apiVersion agents.dev/v1")
                && version.contains("set apiVersion: agents.dev/v1alpha1"),
            "{version}"
        );

        let kind = error(&AGENT.replace("kind: Agent", "kind: Agnet"), false);
        assert!(kind.contains("has no kind Agnet (did you mean Agent?); its kinds are Agent, AgentBuild"), "{kind}");

        let field = error(&AGENT.replace("spec: {image: 'a:1'}", "spec: {image: 'a:1', replicas: two}"), false);
        assert!(field.starts_with("in.yaml: Agent research: spec.replicas: invalid type: string \"two\""), "{field}");

        let twice = error(&format!("{AGENT}---\n{AGENT}"), false);
        assert!(twice.contains("Agent team-a/research is defined twice"), "{twice}");
    }
}
