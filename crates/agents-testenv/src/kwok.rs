//! KWOK: fake nodes whose pods progress without a kubelet or a container runtime.
//!
//! Standalone `kwok` has no built-in behaviour; its `--config` carries the stages that move nodes
//! and pods along (taken from KWOK's own module, so they match the binary) and a `ClusterLogs`
//! object that serves one CRI-format file as every container's log.
//!
//! Nothing listens inside a fake pod, so `kubectl port-forward` to one reaches whatever the pod's
//! `PortForward` object names: [`forward_pod`] points a pod's port at a listener of the test's own.

use std::net::SocketAddr;
use std::path::Path;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::core::ObjectMeta;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::crds::FIELD_MANAGER;

/// The stage files (relative to KWOK's `kustomize/stage/`) that make nodes Ready and keep them so,
/// and that run, complete and delete pods.
const STAGES: &[&str] = &[
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
];

/// Stages of our own that play the pod failures a real kubelet reports (ImagePullBackOff,
/// CrashLoopBackOff, OOMKilled, a missing Secret), for pods that ask for one (see the file).
const POD_FAULTS: &str = include_str!("../stages/pod-faults.yaml");

/// Owner kinds whose pods run to completion. KWOK's stage only completes Job pods; Tekton's
/// TaskRun pods and Argo's Workflow pods must finish too, or their runs never end.
const COMPLETING_OWNERS: &[&str] = &["Job", "TaskRun", "Workflow"];

/// Builds KWOK's `--config` document stream from the stages in `kwok_module` and a `ClusterLogs`
/// that serves `log_file` (and follows it, so lines appended later reach `kubectl logs -f`).
pub fn config(kwok_module: &Path, log_file: &Path) -> Result<String, Error> {
    let mut docs = Vec::new();
    for stage in STAGES {
        let path = kwok_module.join("kustomize/stage").join(stage);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read the KWOK stage", &path, e))?;
        let mut doc: Value =
            serde_norway::from_str(&text).map_err(|e| Error::Manifest { path: path.clone(), detail: e.to_string() })?;
        if stage.ends_with("pod-complete.yaml") {
            complete_more_owners(&mut doc).map_err(|detail| Error::Manifest { path, detail })?;
        }
        docs.push(doc);
    }
    docs.extend(pod_faults()?);
    docs.push(json!({
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterLogs",
        "metadata": {"name": "all-containers"},
        "spec": {"logs": [{"logsFile": log_file, "follow": true}]},
    }));
    let mut out = String::new();
    for doc in docs {
        out.push_str("---\n");
        out.push_str(
            &serde_norway::to_string(&doc)
                .map_err(|e| Error::Manifest { path: kwok_module.to_path_buf(), detail: e.to_string() })?,
        );
    }
    Ok(out)
}

fn pod_faults() -> Result<Vec<Value>, Error> {
    let invalid =
        |e: serde_norway::Error| Error::Manifest { path: "stages/pod-faults.yaml".into(), detail: e.to_string() };
    serde_norway::Deserializer::from_str(POD_FAULTS).map(|doc| Value::deserialize(doc).map_err(invalid)).collect()
}

/// KWOK's `PortForward` kind (`portforwards.kwok.x-k8s.io/v1alpha1`, namespaced), for tests that
/// list or delete the objects [`forward_pod`] creates.
pub fn port_forward_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kwok.x-k8s.io", "v1alpha1", "PortForward"),
        "portforwards",
    )
}

/// Makes port-forwards to `port` of the pod `namespace/pod` reach `target`, a listener on this
/// machine (kwok dials it from its own process), e.g. a fake server bound to the pod's IP.
///
/// Server-side applies a `PortForward` named after the pod (kwok matches it to the pod by name
/// and namespace, and it wins over any cluster-wide rule), owned by the pod (its uid), so the
/// garbage collector removes it with the pod (~0.1 s after, seen by hand). It forwards `port` only: a port-forward to another port of the pod fails with "forward not
/// found". A second call for the same pod replaces the first; use [`forward_pod_ports`] for
/// several ports.
///
/// kwok learns of the object through a watch, within milliseconds but not synchronously: a
/// connection made at once may still be refused, so a test retries its first one.
pub async fn forward_pod(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    port: u16,
    target: SocketAddr,
) -> Result<(), Error> {
    forward_pod_ports(client, namespace, pod, &[(port, target)]).await
}

/// [`forward_pod`] for several ports at once: each `(port, target)` pair routes one pod port.
pub async fn forward_pod_ports(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    forwards: &[(u16, SocketAddr)],
) -> Result<(), Error> {
    let uid = Api::<Pod>::namespaced(client.clone(), namespace)
        .get(pod)
        .await
        .map_err(|e| Error::kube(format!("read the pod {namespace}/{pod} to forward its ports"), e))?
        .metadata
        .uid
        .unwrap_or_default();
    let resource = port_forward_resource();
    let mut object = DynamicObject::new(pod, &resource).within(namespace).data(port_forward_spec(forwards));
    object.metadata = ObjectMeta {
        owner_references: Some(vec![OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: pod.into(),
            uid,
            ..Default::default()
        }]),
        ..object.metadata
    };
    Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
        .patch(pod, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&object))
        .await
        .map_err(|e| Error::kube(format!("apply the PortForward {namespace}/{pod}"), e))?;
    Ok(())
}

/// The `spec` of a `PortForward`: one entry per port, each to an address kwok dials (an IP
/// without brackets: kwok joins it with the port itself).
fn port_forward_spec(forwards: &[(u16, SocketAddr)]) -> Value {
    let forwards: Vec<Value> = forwards
        .iter()
        .map(|(port, target)| {
            json!({"ports": [port], "target": {"address": target.ip().to_string(), "port": target.port()}})
        })
        .collect();
    json!({"spec": {"forwards": forwards}})
}

fn complete_more_owners(stage: &mut Value) -> Result<(), String> {
    let expressions = stage
        .pointer_mut("/spec/selector/matchExpressions")
        .and_then(Value::as_array_mut)
        .ok_or("pod-complete has no spec.selector.matchExpressions")?;
    let owners = expressions
        .iter_mut()
        .find(|e| e["key"] == ".metadata.ownerReferences.[].kind")
        .ok_or("pod-complete no longer selects pods by owner kind")?;
    owners["values"] = json!(COMPLETING_OWNERS);
    Ok(())
}

/// One fake node. KWOK's node-initialize stage fills in its status (Ready, addresses, capacity,
/// the kubelet endpoint that serves logs).
pub fn node(name: &str) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
            "annotations": {"kwok.x-k8s.io/node": "fake"},
        },
    }))
    .expect("a Node literal is a valid Node")
}

/// The first line of every simulated container's log, in CRI format (`TIME STREAM TAG TEXT`).
pub fn cri_log_line(time: &str, text: &str) -> String {
    format!("{time} stdout F {text}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_complete_stage_finishes_tekton_and_argo_pods() {
        let mut stage = json!({"spec": {"selector": {"matchExpressions": [
            {"key": ".status.phase", "operator": "In", "values": ["Running"]},
            {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]},
        ]}}});
        complete_more_owners(&mut stage).unwrap();
        assert_eq!(stage["spec"]["selector"]["matchExpressions"][1]["values"], json!(["Job", "TaskRun", "Workflow"]));
        assert_eq!(stage["spec"]["selector"]["matchExpressions"][0]["values"], json!(["Running"]));
    }

    #[test]
    fn a_port_forward_names_each_port_and_its_target() {
        let spec =
            port_forward_spec(&[(8000, "127.64.0.5:41000".parse().unwrap()), (9090, "[::1]:41001".parse().unwrap())]);
        assert_eq!(
            spec,
            json!({"spec": {"forwards": [
                {"ports": [8000], "target": {"address": "127.64.0.5", "port": 41000}},
                {"ports": [9090], "target": {"address": "::1", "port": 41001}},
            ]}})
        );
        assert_eq!(port_forward_resource().plural, "portforwards");
    }

    #[test]
    fn the_pod_fault_stages_are_stages_that_win_over_pod_ready() {
        let stages = pod_faults().unwrap();
        assert_eq!(stages.len(), 3);
        for stage in stages {
            assert_eq!(stage["kind"], "Stage");
            assert_eq!(stage["spec"]["weight"], 1, "KWOK's pod-ready has weight 0: {}", stage["metadata"]["name"]);
        }
    }

    #[test]
    fn a_changed_stage_is_reported_not_ignored() {
        let mut stage = json!({"spec": {"selector": {"matchExpressions": []}}});
        assert!(complete_more_owners(&mut stage).is_err());
    }
}
