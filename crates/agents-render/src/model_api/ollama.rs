//! Mode Hosted: Ollama, which pulls the listed models when it starts and is ready only once all
//! of them are pulled. Models live on a PersistentVolumeClaim when asked, an emptyDir otherwise.

use agents_api::ModelAPI;
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, ExecAction, HTTPGetAction, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, Probe, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::{hash, server};

/// A pinned Ollama release; `spec.image` overrides it.
pub const DEFAULT_IMAGE: &str = "ollama/ollama:0.12.6";
pub const PORT: i32 = 11434;
const MODELS_DIR: &str = "/models";
/// Written once every model is pulled; the readiness probe looks for it. The script reads the
/// path from `MODELS_PULLED_MARKER` and names none itself, so it also runs as rendered outside a
/// pod (the end-to-end test runs it); the probe runs no shell, so it names the path.
const PULLED_MARKER: &str = "/tmp/models-pulled";

/// Serves, pulls each model (a failed pull fails the container, so Kubernetes retries and the
/// events say why), then marks itself ready.
const START: &str = r#"set -e
rm -f "$MODELS_PULLED_MARKER"
ollama serve &
server=$!
until ollama list >/dev/null 2>&1; do
  kill -0 "$server"
  sleep 1
done
for model in $OLLAMA_PULL_MODELS; do
  echo "pulling $model"
  ollama pull "$model"
done
touch "$MODELS_PULLED_MARKER"
echo "all models pulled: $OLLAMA_PULL_MODELS"
wait "$server"
"#;

/// The claim to create (when `hosted.storage` asks for one) and the pod.
pub fn render(model_api: &ModelAPI, port: i32, meta: &ObjectMeta) -> (Option<PersistentVolumeClaim>, server::Pod) {
    let spec = &model_api.spec;
    let hosted = spec.hosted.as_ref();
    let models = hosted.map(|h| h.models.join(" ")).unwrap_or_default();
    let claim = hosted.and_then(|h| h.storage.as_ref()).map(|storage| PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some(super::claim_name(meta)), ..meta.clone() },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some([("storage".to_string(), Quantity(storage.size.clone()))].into()),
                ..Default::default()
            }),
            storage_class_name: storage.storage_class_name.clone(),
            ..Default::default()
        }),
        ..Default::default()
    });
    let models_volume = match &claim {
        Some(claim) => Volume {
            name: "models".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.metadata.name.clone().unwrap_or_default(),
                ..Default::default()
            }),
            ..Default::default()
        },
        None => {
            Volume { name: "models".into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() }
        }
    };
    let var = |name: &str, value: String| EnvVar { name: name.into(), value: Some(value), ..Default::default() };
    let mut env = vec![
        var("OLLAMA_HOST", format!("0.0.0.0:{port}")),
        var("OLLAMA_MODELS", MODELS_DIR.into()),
        var("OLLAMA_PULL_MODELS", models.clone()),
        var("MODELS_PULLED_MARKER", PULLED_MARKER.into()),
        var("HOME", "/tmp".into()),
    ];
    env.extend(spec.env.iter().cloned());
    let container = Container {
        image: Some(spec.image.clone().unwrap_or_else(|| DEFAULT_IMAGE.into())),
        command: Some(vec!["/bin/sh".into(), "-c".into(), START.into()]),
        env: Some(env),
        resources: spec.resources.clone(),
        readiness_probe: Some(Probe {
            exec: Some(ExecAction { command: Some(vec!["test".into(), "-f".into(), PULLED_MARKER.into()]) }),
            period_seconds: Some(5),
            ..Default::default()
        }),
        liveness_probe: Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/".into()),
                port: IntOrString::String("http".into()),
                ..Default::default()
            }),
            initial_delay_seconds: Some(30),
            period_seconds: Some(10),
            ..Default::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "models".into(),
            mount_path: MODELS_DIR.into(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let pod = server::Pod {
        container,
        port,
        volumes: vec![models_volume],
        replicas: spec.replicas,
        // A changed model list rolls the pods (the env changes too; the hash says why).
        annotations: [(hash::CONFIG_HASH_ANNOTATION.to_string(), hash::of(&models))].into(),
    };
    (claim, pod)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_api::children;
    use crate::model_api::fixtures::model_api;

    #[test]
    fn models_are_pulled_at_start_and_gate_readiness() {
        let rendered = children(&model_api("mode: Hosted\nhosted: {models: [llama3.2, 'qwen2.5:7b']}\n")).unwrap();
        let pod = rendered.deployment.unwrap().spec.template.spec.unwrap();
        let container = &pod.containers[0];
        let env = container.env.as_ref().unwrap();
        let pull = env.iter().find(|e| e.name == "OLLAMA_PULL_MODELS").unwrap();
        assert_eq!(pull.value.as_deref(), Some("llama3.2 qwen2.5:7b"));
        assert!(container.command.as_ref().unwrap()[2].contains("ollama pull"));
        let readiness = container.readiness_probe.as_ref().unwrap().exec.as_ref().unwrap();
        assert_eq!(readiness.command.as_ref().unwrap().last().map(String::as_str), Some(PULLED_MARKER));
        // The script writes the marker where the probe looks, and names no other path for it.
        let marker = env.iter().find(|e| e.name == "MODELS_PULLED_MARKER").unwrap();
        assert_eq!(marker.value.as_deref(), Some(PULLED_MARKER));
        assert!(!container.command.as_ref().unwrap()[2].contains(PULLED_MARKER));
        assert_eq!(rendered.service.unwrap().spec.unwrap().ports.unwrap()[0].port, PORT);
        let volumes = pod.volumes.unwrap();
        assert!(volumes.iter().any(|v| v.name == "models" && v.empty_dir.is_some()));
        assert!(rendered.claim.is_none());
    }

    #[test]
    fn storage_asks_for_a_claim() {
        let rendered = children(&model_api(
            "mode: Hosted\nhosted: {models: [llama3.2], storage: {size: 20Gi, storageClassName: fast}}\n",
        ))
        .unwrap();
        let claim = rendered.claim.unwrap();
        assert_eq!(claim.metadata.name.as_deref(), Some("gateway-models"));
        let spec = claim.spec.unwrap();
        assert_eq!(spec.resources.unwrap().requests.unwrap()["storage"], Quantity("20Gi".into()));
        assert_eq!(spec.storage_class_name.as_deref(), Some("fast"));
        let pod = rendered.deployment.unwrap().spec.template.spec.unwrap();
        let volume = pod.volumes.unwrap().into_iter().find(|v| v.name == "models").unwrap();
        assert_eq!(volume.persistent_volume_claim.unwrap().claim_name, "gateway-models");
    }
}
