//! Pods follow the ConfigMaps and Secrets they read: a change to one rolls the pods of every Agent
//! and server that reads it (and of no other), a relabel rolls nothing.

use std::sync::Arc;

use agents_api::{Agent, AgentPhase};
use agents_render::inputs::{self, Input};
use anyhow::ensure;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
use libtest_mimic::Trial;
use serde_json::json;

use crate::support::{Ctx, Env, phase_is, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(env, "follow_inputs", [pods_roll_when_the_config_maps_and_secrets_they_read_change])
}

const HASH: &str = agents_render::inputs::INPUTS_HASH_ANNOTATION;

const OBJECTS: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: token}
stringData: {token: first}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
data: {x: '1'}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: litellm-own}
data: {config.yaml: 'model_list: []'}
---
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: reader}
spec:
  image: ghcr.io/example/agent:v1
  env:
  - {name: GREETING, valueFrom: {configMapKeyRef: {name: settings, key: greeting}}}
  - {name: TOKEN, valueFrom: {secretKeyRef: {name: token, key: token}}}
---
apiVersion: agents.dev/v1alpha1
kind: Agent
metadata: {name: bystander}
spec:
  image: ghcr.io/example/agent:v1
  env:
  - {name: X, valueFrom: {configMapKeyRef: {name: other, key: x}}}
---
apiVersion: agents.dev/v1alpha1
kind: ModelAPI
metadata: {name: own}
spec: {mode: Proxy, proxy: {configMapRef: {name: litellm-own}}}
";

/// The inputs hash on a Deployment's pod template.
fn inputs_hash(deployment: &Deployment) -> Option<String> {
    deployment.spec.template.metadata.as_ref()?.annotations.as_ref()?.get(HASH).cloned()
}

fn ours(meta: &ObjectMeta) -> bool {
    let labels = meta.labels.as_ref();
    labels.and_then(|l| l.get(agents_render::labels::MANAGED_BY)).map(String::as_str)
        == Some(agents_render::labels::MANAGER)
}

/// The hash the Deployment `name` should carry for what its pods read now, computed by the test
/// from the live ConfigMaps and Secrets.
async fn expected_hash(ctx: &Ctx, deployment: &Deployment) -> anyhow::Result<Option<String>> {
    let Some(pod) = deployment.spec.template.spec.as_ref() else { return Ok(None) };
    let read = inputs::of(pod);
    let mut digests = std::collections::BTreeMap::new();
    for input in &read {
        let digest = match input {
            // The operator's own (the Agent's agent.yaml) are in the config hash instead.
            Input::ConfigMap(name) => {
                let config_map = ctx.api::<ConfigMap>().get_opt(name).await?;
                config_map.filter(|c| !ours(&c.metadata)).map(|c| inputs::config_map_digest(&c))
            }
            Input::Secret(name) => ctx.api::<Secret>().get_opt(name).await?.map(|s| inputs::secret_digest(&s)),
        };
        digests.insert(input.clone(), digest);
    }
    let mut stamped = Deployment::default();
    inputs::stamp(&mut stamped, &read, |input| digests.get(input).cloned().flatten());
    Ok(inputs_hash(&stamped))
}

/// Waits until the Deployment `name` carries the hash of what its pods read now, and returns it.
async fn settled(ctx: &Ctx, name: &str) -> anyhow::Result<String> {
    let deployments: Api<Deployment> = ctx.api();
    let what = format!("Deployment {name}'s pod template to carry the hash of the ConfigMaps and Secrets it reads");
    ctx.wait_for_value(&what, || async {
        let Some(deployment) = deployments.get_opt(name).await? else { return Ok(None) };
        let expected = expected_hash(ctx, &deployment).await?;
        Ok(expected.filter(|expected| inputs_hash(&deployment).as_ref() == Some(expected)))
    })
    .await
}

async fn patch<K>(ctx: &Ctx, name: &str, patch: serde_json::Value) -> anyhow::Result<()>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    ctx.api::<K>().patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

async fn pods_roll_when_the_config_maps_and_secrets_they_read_change(ctx: Ctx) -> anyhow::Result<()> {
    let _operator = ctx.operator(&["--follow-secrets"])?;
    ctx.apply_yaml(OBJECTS).await?;
    let agents: Api<Agent> = ctx.api();
    let deployments: Api<Deployment> = ctx.api();
    ctx.wait_for(&agents, "reader", "phase Ready", phase_is(AgentPhase::Ready)).await?;
    let first = settled(&ctx, "reader").await?;
    let bystander = settled(&ctx, "bystander").await?;
    let gateway = settled(&ctx, "own").await?;

    // A changed ConfigMap rolls the pods that read it, and the Agent is Ready on the new ones.
    patch::<ConfigMap>(&ctx, "settings", json!({"data": {"greeting": "bonjour"}})).await?;
    let second = settled(&ctx, "reader").await?;
    ensure!(second != first);
    ctx.wait_for(&deployments, "reader", "the rollout to finish", |d: Option<&Deployment>| {
        d.is_some_and(|d| {
            d.status.as_ref().is_some_and(|s| {
                s.observed_generation == d.metadata.generation
                    && s.updated_replicas == s.replicas
                    && s.available_replicas == s.replicas
            })
        })
    })
    .await?;
    ctx.wait_for(&agents, "reader", "phase Ready", phase_is(AgentPhase::Ready)).await?;

    // So does a changed Secret (with --follow-secrets).
    patch::<Secret>(&ctx, "token", json!({"stringData": {"token": "rotated"}})).await?;
    let third = settled(&ctx, "reader").await?;
    ensure!(third != second);

    // A ModelAPI's own LiteLLM config: its proxy pods roll too.
    patch::<ConfigMap>(&ctx, "litellm-own", json!({"data": {"config.yaml": "model_list: [] # edited"}})).await?;
    ensure!(settled(&ctx, "own").await? != gateway);

    // A relabelled ConfigMap rolls nothing. The ConfigMaps come through one watch in order, so
    // once `other`'s change has rolled the bystander, the relabel before it has been seen.
    patch::<ConfigMap>(&ctx, "settings", json!({"metadata": {"labels": {"team": "research"}}})).await?;
    patch::<ConfigMap>(&ctx, "other", json!({"data": {"x": "2"}})).await?;
    ensure!(settled(&ctx, "bystander").await? != bystander);
    let reader = deployments.get("reader").await?;
    ensure!(inputs_hash(&reader).as_deref() == Some(third.as_str()), "a relabel rolled the reader's pods");
    Ok(())
}
