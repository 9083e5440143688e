//! What render knows of the objects references name, held as [`Objects`], which the operator's
//! rules of look-up (`agents_render::agent::resolve`) read. In order of trust: what the cluster holds (`--cluster`: as the operator sees it,
//! status and all), then the input's resources as they will be once Ready (each with the endpoint
//! its controller would publish), then, without a cluster, a stand-in for each reference neither
//! holds: Ready at the in-cluster URL its kind's defaults give, and named in the notes.

use std::collections::BTreeMap;
use std::sync::Arc;

use agents_api::{
    Agent, AgentBuild, AgentBuildStatus, AgentPhase, AgentStatus, BuildPhase, MCPServer, MCPServerStatus, ModelAPI,
    ModelAPIStatus, ServerPhase,
};
use agents_render::agent::resolve::{ObjectKey as Key, Objects, object_key as key};
use agents_render::{mcp_server, model_api};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::Note;
use super::input::Resource;
use super::live::Live;

/// Stands for the uid the API server gives an owner when it creates it.
pub const PLACEHOLDER_UID: &str = "00000000-0000-0000-0000-000000000000";

/// Gives each resource the uid its children's owner references carry: its own (a manifest read
/// from a cluster has one), the live object's (`--cluster`), or [`PLACEHOLDER_UID`], which the
/// note returned says.
pub fn with_uids(resources: &mut [Resource], live: Option<&Live>) -> Option<Note> {
    let mut placeholders = Vec::new();
    for resource in resources.iter_mut() {
        if resource.meta().uid.is_some() {
            continue;
        }
        let uid = live.and_then(|l| l.uid(resource.kind(), resource.namespace(), resource.name()));
        if uid.is_none() {
            placeholders.push(format!("{} {}", resource.kind().kind(), resource.name()));
        }
        resource.meta_mut().uid = Some(uid.unwrap_or_else(|| PLACEHOLDER_UID.to_string()));
    }
    (!placeholders.is_empty()).then(|| {
        let not_there = if live.is_some() { "not in the cluster yet" } else { "not read from a cluster" };
        Note::assumed(
            "owner uids",
            format!(
                "{PLACEHOLDER_UID} stands for the uid the API server gives each owner when it creates it ({not_there}: {}); \
                 objects applied with it would be garbage-collected, as their owner does not exist",
                placeholders.join(", ")
            ),
        )
    })
}

/// What references can name: the live objects, the input's resources as they will be once
/// Ready, and (without a cluster) a stand-in for each reference neither holds. Returns the
/// notes that say what was assumed.
pub fn world(resources: &[Resource], live: Option<&Live>) -> (Objects, Vec<Note>) {
    let mut world = Objects::default();
    for resource in resources {
        let at = key(resource.namespace(), resource.name());
        match resource {
            Resource::Agent(o) => insert(&mut world.agents, at, as_ready_agent(o.as_ref().clone())),
            Resource::ModelAPI(o) => insert(&mut world.model_apis, at, as_ready_model_api(o.clone())),
            Resource::MCPServer(o) => insert(&mut world.mcp_servers, at, as_ready_mcp_server(o.clone())),
            Resource::AgentBuild(o) => insert(&mut world.builds, at, as_built(o.clone())),
            Resource::AgentWorkflow(_) => {}
        }
    }
    if let Some(live) = live {
        live.agents.iter().for_each(|o| insert(&mut world.agents, key_of(o), o.clone()));
        live.builds.iter().for_each(|o| insert(&mut world.builds, key_of(o), o.clone()));
        live.model_apis.iter().for_each(|o| insert(&mut world.model_apis, key_of(o), o.clone()));
        live.mcp_servers.iter().for_each(|o| insert(&mut world.mcp_servers, key_of(o), o.clone()));
    }
    let mut notes = builds_by_tag(&world, resources);
    if live.is_some() {
        return (world, notes);
    }
    for resource in resources {
        notes.extend(stand_ins_for(&mut world, resource));
    }
    (world, notes)
}

/// A note for each build of the input an Agent of the input runs, named by tag (the cluster
/// holds no pushed digest for it).
fn builds_by_tag(world: &Objects, resources: &[Resource]) -> Vec<Note> {
    let referenced: std::collections::BTreeSet<Key> = resources
        .iter()
        .filter_map(|r| match r {
            Resource::Agent(a) => Some(key(r.namespace(), &a.spec.build_ref.as_ref()?.name)),
            _ => None,
        })
        .collect();
    referenced
        .iter()
        .filter_map(|at| {
            let status = world.builds.get(at)?.status.as_ref()?;
            let image = status.image.as_deref().filter(|_| status.digest.is_none())?;
            Some(Note::assumed(
                &format!("AgentBuild {}/{}", at.0, at.1),
                format!(
                    "built and pushed; its Agents run it by tag, {image}, where the operator runs the digest the build pushed ({image}@sha256:…)"
                ),
            ))
        })
        .collect()
}

/// Adds a stand-in for each reference of `resource` that names nothing known; one note each.
fn stand_ins_for(world: &mut Objects, resource: &Resource) -> Vec<Note> {
    let namespace = resource.namespace();
    let mut notes = Vec::new();
    let mut note = |kind: &str, name: &str, what: String| {
        notes.push(Note::assumed(&format!("{kind} {namespace}/{name}"), format!("not in the input: {what}")));
    };
    let agent_names: Vec<String> = match resource {
        Resource::Agent(agent) => {
            let spec = &agent.spec;
            if let Some(r) = spec.model.as_ref().and_then(|m| m.model_api_ref.as_ref())
                && let Some(stand_in) = stand_in(&mut world.model_apis, namespace, &r.name, as_ready_model_api)
            {
                let url = model_api::endpoint(&stand_in).unwrap_or_default();
                note("ModelAPI", &r.name, format!("assumed Ready at {url} (a Proxy on its default port)"));
            }
            for r in &spec.mcp_servers {
                if let Some(stand_in) = stand_in(&mut world.mcp_servers, namespace, &r.name, as_ready_mcp_server) {
                    let url = mcp_server::endpoint(&stand_in).unwrap_or_default();
                    note("MCPServer", &r.name, format!("assumed Ready at {url} (streamable HTTP on its default port)"));
                }
            }
            if let Some(r) = &spec.build_ref
                && let Some(stand_in) = stand_in(&mut world.builds, namespace, &r.name, as_built)
            {
                let image = stand_in.status.as_ref().and_then(|s| s.image.clone()).unwrap_or_default();
                note(
                    "AgentBuild",
                    &r.name,
                    format!("assumed built; {image} stands for the image it pushes (by digest)"),
                );
            }
            spec.peers.iter().map(|r| r.name.clone()).collect()
        }
        Resource::AgentWorkflow(workflow) => agents_render::workflow::referenced_agents(workflow).into_iter().collect(),
        _ => Vec::new(),
    };
    for name in agent_names {
        if let Some(stand_in) = stand_in(&mut world.agents, namespace, &name, as_ready_agent) {
            let url = agents_render::agent::endpoint(&stand_in).unwrap_or_default();
            note("Agent", &name, format!("assumed Ready at {url}"));
        }
    }
    notes
}

fn key_of<K: kube::Resource>(object: &Arc<K>) -> Key {
    key(object.meta().namespace.as_deref().unwrap_or_default(), object.meta().name.as_deref().unwrap_or_default())
}

fn insert<K>(map: &mut BTreeMap<Key, Arc<K>>, at: Key, object: impl Into<Arc<K>>) {
    map.insert(at, object.into());
}

/// A stand-in for `namespace/name`, made Ready by `ready`, unless the name is known already.
fn stand_in<K>(map: &mut BTreeMap<Key, Arc<K>>, namespace: &str, name: &str, ready: fn(K) -> K) -> Option<Arc<K>>
where
    K: DeserializeOwned + kube::Resource<DynamicType = ()>,
{
    let at = key(namespace, name);
    if map.contains_key(&at) {
        return None;
    }
    let object = Arc::new(ready(minimal(namespace, name)?));
    map.insert(at, object.clone());
    Some(object)
}

/// The object `namespace/name` of kind `K` with the smallest spec its kind takes: every field
/// at its default (a ModelAPI is a Proxy, an MCPServer an image server).
fn minimal<K: DeserializeOwned + kube::Resource<DynamicType = ()>>(namespace: &str, name: &str) -> Option<K> {
    let spec = match K::kind(&()).as_ref() {
        "ModelAPI" => json!({"mode": "Proxy"}),
        "MCPServer" => json!({"image": "stand-in"}),
        "AgentBuild" => json!({"git": {"url": "https://stand-in.invalid/", "revision": "main"},
                               "image": format!("build.invalid/{name}"), "tag": "unknown"}),
        _ => json!({}),
    };
    serde_json::from_value(json!({
        "apiVersion": K::api_version(&()), "kind": K::kind(&()),
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }))
    .ok()
}

/// An Agent as its status reads once Ready (what an AgentWorkflow waits for).
fn as_ready_agent(mut agent: Agent) -> Agent {
    let endpoint = agents_render::agent::endpoint(&agent);
    agent.status = Some(AgentStatus { phase: Some(AgentPhase::Ready), endpoint, ..Default::default() });
    agent
}

fn as_ready_model_api(mut model_api: ModelAPI) -> ModelAPI {
    let endpoint = model_api::endpoint(&model_api);
    model_api.status = Some(ModelAPIStatus { phase: Some(ServerPhase::Ready), endpoint, ..Default::default() });
    model_api
}

fn as_ready_mcp_server(mut mcp: MCPServer) -> MCPServer {
    let endpoint = mcp_server::endpoint(&mcp);
    mcp.status = Some(MCPServerStatus { phase: Some(ServerPhase::Ready), endpoint, ..Default::default() });
    mcp
}

/// A build as its status reads once a run succeeded, but named by tag: the digest is not known
/// before the push.
fn as_built(mut build: AgentBuild) -> AgentBuild {
    let image = format!("{}:{}", build.spec.image, build.spec.tag);
    build.status =
        Some(AgentBuildStatus { phase: Some(BuildPhase::Succeeded), image: Some(image), ..Default::default() });
    build
}

#[cfg(test)]
mod tests {
    use agents_render::agent::Dependency;
    use agents_render::agent::resolve::resolve;

    use super::*;
    use crate::commands::render::input::resources;

    fn input(text: &str) -> Vec<Resource> {
        resources(&crate::commands::apply::parse(text, "in.yaml").unwrap(), "team-a", false).unwrap()
    }

    const RESEARCH: &str = "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: research}\n\
        spec:\n  model: {provider: openai, name: gpt-4o, modelAPIRef: {name: gateway}}\n  \
        mcpServers: [{name: search}]\n  peers: [{name: writer}]\n  buildRef: {name: image}\n";

    fn agent(resources: &[Resource]) -> &Agent {
        resources.iter().find_map(|r| if let Resource::Agent(a) = r { Some(a) } else { None }).unwrap()
    }

    #[test]
    fn without_a_cluster_every_reference_is_ready_and_each_stand_in_is_named() {
        let resources = input(RESEARCH);
        let (world, notes) = world(&resources, None);
        let deps = resolve(agent(&resources), &world, None);
        assert!(deps.all_ready(), "{:?}", deps.blockers());
        assert_eq!(deps.model_api_url(), Some("http://gateway.team-a.svc.cluster.local:8000"));
        assert_eq!(
            deps.mcp_servers["search"],
            Dependency::Ready("http://search.team-a.svc.cluster.local:8000/mcp".into())
        );
        assert_eq!(deps.peers["writer"], Dependency::Ready("http://writer.team-a.svc.cluster.local".into()));
        assert_eq!(deps.built_image(), Some("build.invalid/image:unknown"));
        let about: Vec<&str> = notes.iter().map(|n| n.about.as_str()).collect();
        assert_eq!(
            about,
            ["ModelAPI team-a/gateway", "MCPServer team-a/search", "AgentBuild team-a/image", "Agent team-a/writer"]
        );
        assert!(
            notes[0].text.contains("assumed Ready at http://gateway.team-a.svc.cluster.local:8000"),
            "{}",
            notes[0].text
        );
    }

    #[test]
    fn dependencies_in_the_input_are_ready_at_the_endpoint_their_spec_gives() {
        let text = format!(
            "{RESEARCH}---\napiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {{name: gateway}}\n\
             spec: {{mode: External, external: {{url: 'https://llm.example.com/v1', apiKeySecretRef: {{name: k, key: t}}}}}}\n\
             ---\napiVersion: agents.dev/v1alpha1\nkind: MCPServer\nmetadata: {{name: search}}\n\
             spec: {{package: {{runtime: uvx, name: mcp-server-fetch}}, port: 9000}}\n\
             ---\napiVersion: agents.dev/v1alpha1\nkind: AgentBuild\nmetadata: {{name: image}}\n\
             spec: {{git: {{url: 'https://github.com/o/r.git', revision: main}}, image: ghcr.io/o/r, tag: v2}}\n"
        );
        let resources = input(&text);
        let (world, notes) = world(&resources, None);
        let deps = resolve(agent(&resources), &world, None);
        assert_eq!(deps.model_api_url(), Some("https://llm.example.com/v1"));
        assert_eq!(deps.model_api_key.as_ref().map(|k| k.name.as_str()), Some("k"));
        assert_eq!(
            deps.mcp_servers["search"],
            Dependency::Ready("http://search.team-a.svc.cluster.local:9000/mcp".into())
        );
        assert_eq!(deps.built_image(), Some("ghcr.io/o/r:v2"));
        let about: Vec<&str> = notes.iter().map(|n| n.about.as_str()).collect();
        assert_eq!(about, ["AgentBuild team-a/image", "Agent team-a/writer"]);
        assert!(notes[0].text.contains("ghcr.io/o/r:v2@sha256:…"), "{}", notes[0].text);
    }

    #[test]
    fn owners_without_a_uid_get_the_placeholder_and_a_note() {
        let mut resources = input(&format!("{RESEARCH}---\n{}", RESEARCH.replace("research", "critic")));
        resources[1].meta_mut().uid = Some("7e57".into());
        let note = with_uids(&mut resources, None).unwrap();
        assert_eq!(resources[0].meta().uid.as_deref(), Some(PLACEHOLDER_UID));
        assert_eq!(resources[1].meta().uid.as_deref(), Some("7e57"));
        assert!(note.text.contains("not read from a cluster: Agent research)"), "{}", note.text);
    }
}
