//! The ConfigMaps (and, with `--follow-secrets`, the Secrets) that pods read, kept only as digests
//! of their contents, so that a change to one rolls the pods that read it
//! (`agents_render::inputs`).
//!
//! One watch per kind, shared by every controller that runs pods. It skips the operator's own
//! ConfigMaps (their contents are in the pod template's config hash already). Each controller
//! keeps [`Readers`], filled by its reconciles: which of its objects read what, so that a change
//! reconciles those objects and no other.

use agents_render::inputs::{self, Input};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::watcher;

use super::fanout::Fanout;
use super::reduced::{self, Change, Reduced};
use super::{Filled, Readers, Reads};
use crate::context::Context;

/// A changed input: its namespace and what it is.
pub type Changed = (String, Input);

pub struct Inputs {
    digests: Digests,
    filled: Vec<Filled>,
    changes: Fanout<Changed>,
}

/// The digests of the inputs, for the reconciles.
#[derive(Clone)]
pub struct Digests {
    config_maps: Reduced<String>,
    /// `None` unless the operator follows Secrets (it then needs to list and watch them).
    secrets: Option<Reduced<String>>,
}

impl Inputs {
    /// The watches, not started yet.
    pub fn new(ctx: &Context) -> Self {
        // Not the operator's own: a pod template hashes their contents already.
        let not_ours = format!("{}!={}", agents_render::labels::MANAGED_BY, agents_render::labels::MANAGER);
        let config = || watcher::Config::default().labels(&not_ours).any_semantic();
        let (config_maps, config_maps_filled, config_map_changes) =
            reduced::watch(ctx.api::<ConfigMap>(), config(), |c| Some(inputs::config_map_digest(c)));
        let config_map_changes = config_map_changes.map(|change| changed(change, Input::ConfigMap));
        let mut filled = vec![config_maps_filled];
        let (secrets, changes) = if ctx.follow_secrets {
            let (secrets, secrets_filled, secret_changes) =
                reduced::watch(ctx.api::<Secret>(), config(), |s| Some(inputs::secret_digest(s)));
            filled.push(secrets_filled);
            let secret_changes = secret_changes.map(|change| changed(change, Input::Secret));
            (Some(secrets), futures::stream::select(config_map_changes, secret_changes).boxed())
        } else {
            (None, config_map_changes.boxed())
        };
        Inputs { digests: Digests { config_maps, secrets }, filled, changes: Fanout::new(changes) }
    }

    /// The digests and the inputs that change, from the start, for a controller whose gate
    /// waits for them.
    pub fn read(&self, reads: &mut Reads) -> (Digests, impl Stream<Item = Changed> + Send + 'static) {
        self.filled.iter().for_each(|filled| reads.wait_for(filled));
        (self.digests.clone(), self.changes.follow())
    }

    pub fn start(self) {
        self.changes.start();
    }
}

impl Digests {
    /// No input followed yet: a Deployment is stamped with no digest.
    #[cfg(test)]
    pub fn none() -> Self {
        Digests { config_maps: Reduced::default(), secrets: None }
    }

    /// The digest of `input` in `namespace`, if it exists and is followed.
    pub fn digest(&self, namespace: &str, input: &Input) -> Option<String> {
        match input {
            Input::ConfigMap(name) => self.config_maps.get(namespace, name),
            Input::Secret(name) => self.secrets.as_ref()?.get(namespace, name),
        }
    }

    /// Stamps `deployment`'s pod template with the digests of what it reads, and records that
    /// the object `name` reads those (before reading the digests: a change landing in between
    /// then reconciles it again rather than going unnoticed). `own` is the ConfigMap rendered
    /// beside the Deployment: the watch skips the operator's ConfigMaps, so it is not recorded.
    pub fn stamp(
        &self,
        readers: &Readers,
        namespace: &str,
        name: &str,
        deployment: &mut Deployment,
        own: Option<&ConfigMap>,
    ) {
        let Some(pod) = deployment.spec.template.spec.as_ref() else { return };
        let mut read = inputs::of(pod);
        if let Some(own) = own.and_then(|config_map| config_map.metadata.name.clone()) {
            read.remove(&Input::ConfigMap(own));
        }
        readers.record(namespace, name, read.clone());
        inputs::stamp(deployment, &read, |input| self.digest(namespace, input));
    }
}

fn changed(change: Change<String>, kind: fn(String) -> Input) -> Changed {
    let (namespace, name) = change.key;
    (namespace, kind(name))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        ConfigMapVolumeSource, Container, EnvFromSource, PodSpec, SecretEnvSource, Volume,
    };

    use super::*;

    #[test]
    fn the_configmap_rendered_beside_the_deployment_is_not_recorded_as_read() {
        let config_map = |name: &str| ConfigMapVolumeSource { name: name.into(), ..Default::default() };
        let mut deployment = Deployment::default();
        let template = &mut deployment.spec.template;
        template.spec = Some(PodSpec {
            containers: vec![Container {
                env_from: Some(vec![EnvFromSource {
                    secret_ref: Some(SecretEnvSource { name: "openai".into(), ..Default::default() }),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            volumes: Some(vec![
                Volume { name: "own".into(), config_map: Some(config_map("research")), ..Default::default() },
                Volume { name: "user".into(), config_map: Some(config_map("prompts")), ..Default::default() },
            ]),
            ..Default::default()
        });
        let mut own = ConfigMap::default();
        own.metadata.name = Some("research".into());
        let readers = Readers::default();
        Digests::none().stamp(&readers, "ns", "research", &mut deployment, Some(&own));
        assert_eq!(readers.of("ns", &Input::ConfigMap("research".into())), Vec::<String>::new());
        assert_eq!(readers.of("ns", &Input::ConfigMap("prompts".into())), ["research"]);
        assert_eq!(readers.of("ns", &Input::Secret("openai".into())), ["research"]);
    }
}
