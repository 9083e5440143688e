//! The schema rejects invalid Agents before any controller sees them, each with a message that
//! says what to fix. Every case is sent to the real API server, and the fields copied into a
//! child are held to what the child's own API (the same server) takes.

use std::sync::Arc;

use anyhow::{Context, bail};
use libtest_mimic::Trial;

use crate::support::{Ctx, Env, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(
        env,
        "validation",
        [invalid_agents_are_rejected, invalid_servers_are_rejected, agents_take_what_their_children_take]
    )
}

/// (what is wrong, the Agent's metadata + spec in YAML, a fragment the rejection must contain)
const CASES: &[(&str, &str, &str)] = &[
    (
        "no image, no buildRef and no model for the runtime",
        "metadata: {name: a}\nspec: {description: d}",
        "runs the reference runtime, which needs spec.model",
    ),
    (
        "the runtime with a model but no way to reach it",
        "metadata: {name: a}\nspec: {model: {name: m}}",
        "calls its model through spec.model.modelAPIRef",
    ),
    (
        "the runtime with a provider it cannot call directly",
        "metadata: {name: a}\nspec: {model: {name: m, provider: bedrock}}",
        "spec.model: Invalid value: the reference runtime (an Agent without spec.image or spec.buildRef) calls its model",
    ),
    (
        "both image and buildRef",
        "metadata: {name: a}\nspec: {image: x:1, buildRef: {name: b}}",
        "set at most one of spec.image",
    ),
    (
        "too many replicas",
        "metadata: {name: a}\nspec: {image: x:1, replicas: 5000}",
        "spec.replicas: Invalid value: 5000",
    ),
    (
        "negative replicas",
        "metadata: {name: a}\nspec: {image: x:1, replicas: -1}",
        "should be greater than or equal to 0",
    ),
    (
        "temperature out of range",
        "metadata: {name: a}\nspec: {image: x:1, model: {name: m, temperature: 2.5}}",
        "spec.model.temperature: Invalid value: 2.5",
    ),
    (
        "secret reference without a key",
        "metadata: {name: a}\nspec: {image: x:1, model: {name: m, apiKeySecretRef: {name: openai}}}",
        "spec.model.apiKeySecretRef.key: Required value",
    ),
    (
        "secret name not a DNS name",
        "metadata: {name: a}\nspec: {image: x:1, model: {name: m, apiKeySecretRef: {name: Open_AI, key: k}}}",
        "must be the name of a Secret in this namespace",
    ),
    (
        "autoscaling min above max",
        "metadata: {name: a}\nspec: {image: x:1, autoscaling: {minReplicas: 5, maxReplicas: 2}}",
        "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
    ),
    (
        "replicas and autoscaling together",
        "metadata: {name: a}\nspec: {image: x:1, replicas: 2, autoscaling: {maxReplicas: 4}}",
        "spec.replicas and spec.autoscaling cannot both be set",
    ),
    (
        "an agent name that is not a DNS label",
        "metadata: {name: 9lives}\nspec: {image: x:1}",
        "an Agent's name becomes its Service's DNS name",
    ),
    (
        "an image with spaces",
        "metadata: {name: a}\nspec: {image: \"ghcr.io/x y:1\"}",
        "spec.image: Invalid value: \"ghcr.io/x y:1\": must be an image reference such as ghcr.io/org/agent:v1",
    ),
    (
        "an image with capitals in its repository",
        "metadata: {name: a}\nspec: {image: ghcr.io/Acme/agent:v1}",
        "must be an image reference such as ghcr.io/org/agent:v1",
    ),
    (
        "an image with an empty tag",
        "metadata: {name: a}\nspec: {image: \"ghcr.io/acme/agent:\"}",
        "must be an image reference such as ghcr.io/org/agent:v1",
    ),
    (
        "an image with a no-break space",
        "metadata: {name: a}\nspec: {image: \"ghcr.io/acme/agent:v1\\u00a0\"}",
        "must be an image reference such as ghcr.io/org/agent:v1",
    ),
    (
        "a resource quantity that is not one",
        "metadata: {name: a}\nspec: {image: x:1, resources: {limits: {cpu: lots}}}",
        "spec.resources.limits[cpu]: Invalid value: \"lots\": must be a quantity",
    ),
    (
        "a request above its limit",
        "metadata: {name: a}\nspec: {image: x:1, resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}}",
        "spec.resources: Invalid value: requests[memory] is above its limit",
    ),
    (
        "an extended resource without its domain",
        "metadata: {name: a}\nspec: {image: x:1, resources: {limits: {gpu: 1}}}",
        "spec.resources.limits: Invalid value: 'gpu' is not a resource a container can ask for",
    ),
    (
        "an extended resource overcommitted",
        "metadata: {name: a}\nspec: {image: x:1, resources: {requests: {nvidia.com/gpu: 1}}}",
        "spec.resources: Invalid value: requests[nvidia.com/gpu] needs a limit equal to it",
    ),
    (
        "a network policy port out of range",
        "metadata: {name: a}\nspec: {image: x:1, networkPolicy: {ingress: [{ports: [{port: 0}]}]}}",
        "spec.networkPolicy.ingress[0].ports[0].port: Invalid value: port is a number from 1 to 65535",
    ),
    (
        "a network policy CIDR with bits past its prefix",
        "metadata: {name: a}\nspec: {image: x:1, networkPolicy: {egress: [{to: [{ipBlock: {cidr: 10.1.2.3/8}}]}]}}",
        "spec.networkPolicy.egress[0].to[0].ipBlock.cidr: Invalid value: cidr must be a network such as 10.0.0.0/8",
    ),
    (
        "a network policy selector In without values",
        "metadata: {name: a}\nspec: {image: x:1, networkPolicy: {ingress: [{from: [{podSelector: {matchExpressions: [{key: app, operator: In}]}}]}]}}",
        "spec.networkPolicy.ingress[0].from[0].podSelector.matchExpressions[0].values: Invalid value: operators In and NotIn need values",
    ),
    (
        "an environment variable name with '='",
        "metadata: {name: a}\nspec: {image: x:1, env: [{name: \"A=B\", value: x}]}",
        "spec.env[0].name: Invalid value: an environment variable's name is printable ASCII without '='",
    ),
    (
        "an environment variable with a value and a source",
        "metadata: {name: a}\nspec: {image: x:1, env: [{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]}",
        "set value or valueFrom, not both",
    ),
    (
        "an API key pasted as an environment variable's Secret name",
        "metadata: {name: a}\nspec: {image: x:1, env: [{name: KEY, valueFrom: {secretKeyRef: {name: sk-Live_4f9a, key: k}}}]}",
        "spec.env[0].valueFrom.secretKeyRef.name: Invalid value: must be the name of a Secret",
    ),
    (
        "an API key pasted as the model's Secret name",
        "metadata: {name: a}\nspec: {image: x:1, model: {name: m, apiKeySecretRef: {name: sk-Live_4f9a, key: k}}}",
        "spec.model.apiKeySecretRef.name: Invalid value: must be the name of a Secret in this namespace",
    ),
    (
        "a toleration of Exists with a value",
        "metadata: {name: a}\nspec: {image: x:1, tolerations: [{key: gpu, operator: Exists, value: \"true\"}]}",
        "spec.tolerations[0]: Invalid value: operator Exists takes no value",
    ),
    (
        "a toleration with an unknown effect",
        "metadata: {name: a}\nspec: {image: x:1, tolerations: [{key: gpu, effect: Sometimes}]}",
        "spec.tolerations[0].effect: Invalid value: effect is NoSchedule, PreferNoSchedule or NoExecute",
    ),
    (
        "a node selector key that is not a label key",
        "metadata: {name: a}\nspec: {image: x:1, nodeSelector: {\"gpu type\": a100}}",
        "each node selector is a label",
    ),
    (
        "a provider in capitals",
        "metadata: {name: a}\nspec: {image: x:1, model: {name: m, provider: OpenAI}}",
        "must be a provider name in lowercase",
    ),
    (
        "an agent that is its own peer",
        "metadata: {name: a}\nspec: {image: x:1, peers: [{name: a}]}",
        "an Agent cannot list itself in spec.peers",
    ),
    (
        "the same peer twice",
        "metadata: {name: a}\nspec: {image: x:1, peers: [{name: b}, {name: b}]}",
        ".spec.peers: duplicate entries for key [name=\"b\"]",
    ),
    (
        "both a key and a model API",
        "metadata: {name: a}\nspec: {image: x:1, model: {name: m, modelAPIRef: {name: g}, apiKeySecretRef: {name: s, key: k}}}",
        "set model.apiKeySecretRef or model.modelAPIRef, not both",
    ),
    (
        "a disruption budget with both fields",
        "metadata: {name: a}\nspec: {image: x:1, disruptionBudget: {minAvailable: 1, maxUnavailable: 1}}",
        "set exactly one of disruptionBudget.minAvailable or disruptionBudget.maxUnavailable",
    ),
    (
        "a disruption budget that is neither a number nor a percentage",
        "metadata: {name: a}\nspec: {image: x:1, disruptionBudget: {minAvailable: lots}}",
        "must be a number of pods or a percentage from 0% to 100%, such as 25%",
    ),
    (
        "a disruption budget above 100%",
        "metadata: {name: a}\nspec: {image: x:1, disruptionBudget: {maxUnavailable: 150%}}",
        "spec.disruptionBudget.maxUnavailable: Invalid value: \"150%\": must be a number of pods or a percentage from 0% to 100%",
    ),
    (
        "a relative health check path",
        "metadata: {name: a}\nspec: {image: x:1, healthCheck: {path: health}}",
        "must be an absolute HTTP path such as /health",
    ),
    (
        "monitoring without a Service",
        "metadata: {name: a}\nspec: {image: x:1, expose: false, monitoring: {}}",
        "spec.monitoring needs spec.expose",
    ),
    (
        "a malformed scrape interval",
        "metadata: {name: a}\nspec: {image: x:1, monitoring: {interval: often}}",
        "must be a duration such as 30s or 1m",
    ),
];

async fn invalid_agents_are_rejected(ctx: Ctx) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for (what, body, expected) in CASES {
        let yaml = format!("apiVersion: agents.dev/v1alpha1\nkind: Agent\n{body}\n");
        match ctx.apply_yaml(&yaml).await {
            Ok(()) => failures.push(format!("{what}: accepted")),
            Err(e) => {
                let message = format!("{e:#}");
                if !message.contains(expected) {
                    failures.push(format!("{what}: rejected with {message:?}, which lacks {expected:?}"));
                }
                if message.contains("4f9a") {
                    failures.push(format!("{what}: the rejection repeats the credential: {message:?}"));
                }
            }
        }
    }
    if !failures.is_empty() {
        bail!("{} of {} cases went wrong:\n{}", failures.len(), CASES.len(), failures.join("\n"));
    }
    // And a valid one goes through, so the cases above failed for their own reason.
    ctx.apply_yaml("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {name: a}\nspec: {image: x:1}\n")
        .await
        .context("a valid Agent")?;
    // And what the stricter rules must still take: a registry with a port, a tag and a digest;
    // quantities as numbers and strings; secret-backed env; a toleration of every taint.
    ctx.apply_yaml(&format!(
        "apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: b}}\n\
         spec: {{image: 'localhost:5000/team/agent:v1.2_rc-1@sha256:{digest}', \
         resources: {{requests: {{cpu: 250m, memory: 128Mi}}, limits: {{cpu: 1, memory: 1Gi}}}}, \
         env: [{{name: API_KEY, valueFrom: {{secretKeyRef: {{name: openai.keys, key: api_key}}}}}}, {{name: 'log.level', value: debug}}], \
         tolerations: [{{operator: Exists}}, {{key: nvidia.com/gpu, value: present, effect: NoExecute, tolerationSeconds: 30}}], \
         nodeSelector: {{kubernetes.io/arch: amd64}}}}\n",
        digest = "0123456789abcdef".repeat(4)
    ))
    .await
    .context("a valid Agent using every checked field")?;
    Ok(())
}

/// (kind, what is wrong, metadata + spec in YAML, a fragment the rejection must contain)
const SERVER_CASES: &[(&str, &str, &str, &str)] = &[
    (
        "ModelAPI",
        "a proxy without models or config",
        "metadata: {name: m}\nspec: {mode: Proxy}",
        "mode Proxy needs spec.proxy: list the models to serve in spec.proxy.models",
    ),
    (
        "ModelAPI",
        "a proxy with an empty model list",
        "metadata: {name: m}\nspec: {mode: Proxy, proxy: {models: []}}",
        "set exactly one of proxy.models (the models to serve) or proxy.configMapRef",
    ),
    (
        "ModelAPI",
        "a proxy with both models and a config",
        "metadata: {name: m}\nspec: {mode: Proxy, proxy: {models: [{name: x}], configMapRef: {name: c}}}",
        "set exactly one of proxy.models",
    ),
    (
        "ModelAPI",
        "a hosted ModelAPI without models",
        "metadata: {name: m}\nspec: {mode: Hosted, hosted: {}}",
        "hosted.models must name at least one model for Ollama to pull",
    ),
    (
        "ModelAPI",
        "a hosted model name with spaces",
        "metadata: {name: m}\nspec: {mode: Hosted, hosted: {models: [\"llama 3\"]}}",
        "each model must be an Ollama model name such as llama3.2",
    ),
    (
        "ModelAPI",
        "an external ModelAPI without a URL",
        "metadata: {name: m}\nspec: {mode: External}",
        "mode External needs spec.external.url",
    ),
    (
        "ModelAPI",
        "an external URL that is not http(s)",
        "metadata: {name: m}\nspec: {mode: External, external: {url: \"ftp://models\"}}",
        "must be an http:// or https:// URL",
    ),
    (
        "ModelAPI",
        "an external ModelAPI with pods",
        "metadata: {name: m}\nspec: {mode: External, external: {url: \"https://x\"}, replicas: 2}",
        "mode External runs nothing in the cluster",
    ),
    (
        "ModelAPI",
        "the section of another mode",
        "metadata: {name: m}\nspec: {mode: Hosted, hosted: {models: [a]}, external: {url: \"https://x\"}}",
        "set only the section of the chosen mode",
    ),
    (
        "ModelAPI",
        "an unknown mode",
        "metadata: {name: m}\nspec: {mode: Cloud}",
        "supported values: \"Proxy\", \"Hosted\", \"External\"",
    ),
    (
        "MCPServer",
        "neither package nor image",
        "metadata: {name: t}\nspec: {port: 8000}",
        "set exactly one of spec.package (a PyPI or npm package run with uvx or npx) or spec.image",
    ),
    (
        "MCPServer",
        "both package and image",
        "metadata: {name: t}\nspec: {image: x:1, package: {runtime: uvx, name: mcp-server-fetch}}",
        "set exactly one of spec.package",
    ),
    (
        "MCPServer",
        "a version inside a PyPI package name",
        "metadata: {name: t}\nspec: {package: {runtime: uvx, name: \"mcp-server-fetch==1.0\"}}",
        "package.name must be a PyPI project name such as mcp-server-fetch",
    ),
    (
        "MCPServer",
        "an npm package name in capitals",
        "metadata: {name: t}\nspec: {package: {runtime: npx, name: \"@MCP/Server\"}}",
        "package.name must be an npm package name",
    ),
    (
        "MCPServer",
        "a version range",
        "metadata: {name: t}\nspec: {package: {runtime: npx, name: server-everything, version: \"^1.0\"}}",
        "must be an exact version such as 1.2.3",
    ),
    (
        "MCPServer",
        "an unknown runtime",
        "metadata: {name: t}\nspec: {package: {runtime: pip, name: x}}",
        "supported values: \"uvx\", \"npx\"",
    ),
    (
        "MCPServer",
        "a package with image arguments",
        "metadata: {name: t}\nspec: {package: {runtime: uvx, name: x}, args: [--verbose]}",
        "spec.command and spec.args are for spec.image",
    ),
    (
        "MCPServer",
        "a package server with a path its bridge does not serve",
        "metadata: {name: t}\nspec: {package: {runtime: uvx, name: mcp-server-time}, path: /tools}",
        "a package server's bridge serves /mcp and nothing else: remove spec.path",
    ),
    (
        "ModelAPI",
        "a proxy model's apiBase with credentials in it",
        "metadata: {name: m}\nspec: {mode: Proxy, proxy: {models: [{name: x, apiBase: 'https://me:sk-live-4f9a@llm.example.com'}]}}",
        "apiBase must not carry credentials (user:password@)",
    ),
    (
        "ModelAPI",
        "a hosted ModelAPI with more replicas than its claim can serve",
        "metadata: {name: m}\nspec: {mode: Hosted, hosted: {models: [llama3.2], storage: {size: 20Gi}}, replicas: 2}",
        "spec.replicas: Invalid value: hosted.storage is one ReadWriteOnce claim, which only one pod can mount",
    ),
    (
        "ModelAPI",
        "a hosted model's storage size that is not a quantity",
        "metadata: {name: m}\nspec: {mode: Hosted, hosted: {models: [llama3.2], storage: {size: lots}}}",
        "spec.hosted.storage.size: Invalid value: \"lots\": must be a size: a quantity such as 20Gi",
    ),
    (
        "MCPServer",
        "an image with capitals in its repository",
        "metadata: {name: t}\nspec: {image: ghcr.io/Acme/tools:v1}",
        "must be an image reference such as ghcr.io/org/agent:v1",
    ),
    (
        "ModelAPI",
        "a quantity that is not one",
        "metadata: {name: m}\nspec: {mode: Hosted, hosted: {models: [llama3.2]}, resources: {requests: {memory: much}}}",
        "spec.resources.requests[memory]: Invalid value: \"much\": must be a quantity",
    ),
    (
        "ModelAPI",
        "an external URL with credentials and a wrong scheme",
        "metadata: {name: m}\nspec: {mode: External, external: {url: 'ftp://me:sk-live-4f9a@llm.example.com'}}",
        "spec.external.url: Invalid value: must be an http:// or https:// URL",
    ),
    (
        "ModelAPI",
        "an external URL with credentials in it",
        "metadata: {name: m}\nspec: {mode: External, external: {url: 'https://me:sk-live-4f9a@gw.example.com/v1'}}",
        "spec.external.url must not carry credentials (user:password@)",
    ),
    (
        "MCPServer",
        "an extended resource without its domain",
        "metadata: {name: t}\nspec: {image: x:1, resources: {requests: {gpu: 1}, limits: {gpu: 1}}}",
        "spec.resources.requests: Invalid value: 'gpu' is not a resource a container can ask for",
    ),
    (
        "ModelAPI",
        "a storage class that cannot be one",
        "metadata: {name: m}\nspec: {mode: Hosted, hosted: {models: [llama3.2], storage: {size: 20Gi, storageClassName: Fast_SSD}}}",
        "spec.hosted.storage.storageClassName: Invalid value: \"Fast_SSD\": must be the name of a StorageClass",
    ),
    (
        "MCPServer",
        "a package server on SSE",
        "metadata: {name: t}\nspec: {package: {runtime: uvx, name: x}, transport: sse}",
        "a package server is bridged from stdio to streamable HTTP",
    ),
    (
        "ModelAPI",
        "a provider key on the wildcard '*'",
        "metadata: {name: m}\nspec: {mode: Proxy, proxy: {models: [{name: '*', apiKeySecretRef: {name: k, key: openai}}]}}",
        "a key on the wildcard '*' would go to whatever provider a request names",
    ),
    (
        "ModelAPI",
        "a provider key on a model routed to the wildcard '*'",
        "metadata: {name: m}\nspec: {mode: Proxy, proxy: {models: [{name: x, model: '*', apiKeySecretRef: {name: k, key: openai}}]}}",
        "name the provider the key belongs to, e.g. {name: 'openai/*'",
    ),
    (
        "ModelAPI",
        "the proxy's master key set twice",
        "metadata: {name: m}\nspec: {mode: Proxy, proxy: {models: [{name: x}], masterKeySecretRef: {name: mk, key: k}}, \
         env: [{name: LITELLM_MASTER_KEY, value: x}]}",
        "spec.proxy.masterKeySecretRef sets LITELLM_MASTER_KEY",
    ),
];

async fn invalid_servers_are_rejected(ctx: Ctx) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for (kind, what, body, expected) in SERVER_CASES {
        let yaml = format!("apiVersion: agents.dev/v1alpha1\nkind: {kind}\n{body}\n");
        match ctx.apply_yaml(&yaml).await {
            Ok(()) => failures.push(format!("{kind}, {what}: accepted")),
            Err(e) => {
                let message = format!("{e:#}");
                if !message.contains(expected) {
                    failures.push(format!("{kind}, {what}: rejected with {message:?}, which lacks {expected:?}"));
                }
                if message.contains("sk-live-4f9a") {
                    failures.push(format!("{kind}, {what}: the rejection repeats the credential: {message:?}"));
                }
            }
        }
    }
    if !failures.is_empty() {
        bail!("{} of {} cases went wrong:\n{}", failures.len(), SERVER_CASES.len(), failures.join("\n"));
    }
    ctx.apply_yaml(
        "apiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {name: m}\n\
         spec: {mode: Proxy, proxy: {models: [{name: '*'}, {name: 'openai/*', apiKeySecretRef: {name: k, key: openai}}], \
         masterKeySecretRef: {name: mk, key: k}}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: t}\n\
         spec: {package: {runtime: uvx, name: mcp-server-fetch, version: '2025.4.7'}}\n",
    )
    .await
    .context("a valid ModelAPI and MCPServer")?;
    Ok(())
}

/// `resources` of a container, and whether a Pod takes them (Kubernetes'
/// ValidateContainerResourceRequirements: resource names, whole extended resources and pages,
/// no overcommitted extended resources or hugepages, hugepages with cpu or memory).
const RESOURCES: &[(&str, bool)] = &[
    ("{limits: {gpu: 1}}", false),
    ("{limits: {Example.com/gpu: 1}}", false),
    ("{limits: {requests.example.com/gpu: 1}}", false),
    ("{requests: {nvidia.com/gpu: 1}}", false),
    ("{requests: {nvidia.com/gpu: 1}, limits: {nvidia.com/gpu: 2}}", false),
    ("{limits: {nvidia.com/gpu: 500m}}", false),
    ("{limits: {hugepages-2Mi: 4Mi}}", false),
    ("{limits: {hugepages-2Mi: 3Mi, memory: 1Gi}}", false),
    ("{limits: {hugepages-lots: 4Mi, memory: 1Gi}}", false),
    ("{requests: {hugepages-2Mi: 4Mi, memory: 1Gi}}", false),
    ("{limits: {memory: -1Gi}}", false),
    ("{requests: {cpu: 2}, limits: {cpu: 1}}", false),
    ("{limits: {nvidia.com/gpu: 2}}", true),
    ("{requests: {nvidia.com/gpu: '1', cpu: 500m}, limits: {nvidia.com/gpu: 1}}", true),
    ("{requests: {memory: 1Gi, hugepages-2Mi: 4Mi}, limits: {hugepages-2Mi: 4Mi}}", true),
    ("{limits: {cpu: 1, hugepages-1Gi: 2Gi}}", true),
    ("{requests: {example.kubernetes.io/thing: 500m, cpu: 0, ephemeral-storage: 1Gi}}", true),
];

/// `env` of a container, and whether a Pod takes it (ValidateEnv: names, one source, the pod
/// fields and container resources a variable may read, divisors).
const ENV: &[(&str, bool)] = &[
    ("[{name: 'A=B', value: x}]", false),
    ("[{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]", false),
    ("[{name: A, valueFrom: {secretKeyRef: {name: Not_A_Name, key: k}}}]", false),
    ("[{name: A, valueFrom: {fieldRef: {fieldPath: status.phase}}}]", false),
    ("[{name: A, valueFrom: {fieldRef: {fieldPath: metadata.name, apiVersion: v2}}}]", false),
    ("[{name: A, valueFrom: {fieldRef: {fieldPath: \"metadata.labels['Example.com/x']\"}}}]", false),
    ("[{name: A, valueFrom: {resourceFieldRef: {resource: limits.gpu}}}]", false),
    ("[{name: A, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: '1024'}}}]", false),
    ("[{name: A, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1Ki}}}]", false),
    ("[{name: A, valueFrom: {resourceFieldRef: {resource: requests.memory, divisor: '1e3'}}}]", false),
    (
        "[{name: 'log.level', value: debug}, {name: A, valueFrom: {fieldRef: {fieldPath: spec.host}}}, \
         {name: B, valueFrom: {fieldRef: {fieldPath: \"metadata.annotations['Example.com/x']\"}}}, \
         {name: C, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1000m, containerName: other}}}, \
         {name: D, valueFrom: {resourceFieldRef: {resource: requests.hugepages-2Mi, divisor: 1024Ki}}}, \
         {name: E, valueFrom: {secretKeyRef: {name: openai.keys, key: api_key}}}]",
        true,
    ),
];

/// Network policy rules (`ingress:` or `egress:`), and whether a NetworkPolicy takes them
/// (ValidateNetworkPolicyPort, ValidateNetworkPolicyPeer, ValidateIPBlock, ValidateLabelSelector).
const NETWORK_RULES: &[(&str, bool)] = &[
    ("ingress: [{ports: [{protocol: HTTP, port: 80}]}]", false),
    ("ingress: [{ports: [{port: 0}]}]", false),
    ("ingress: [{ports: [{port: '8080'}]}]", false),
    ("ingress: [{ports: [{port: my_port}]}]", false),
    ("ingress: [{ports: [{port: a-very-long-name}]}]", false),
    ("egress: [{ports: [{port: http, endPort: 90}]}]", false),
    ("egress: [{ports: [{port: 100, endPort: 90}]}]", false),
    ("egress: [{ports: [{endPort: 90}]}]", false),
    ("egress: [{to: [{}]}]", false),
    ("egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]", false),
    ("egress: [{to: [{ipBlock: {cidr: 10.1.2.3/8}}]}]", false),
    ("egress: [{to: [{ipBlock: {cidr: 010.0.0.0/8}}]}]", false),
    ("egress: [{to: [{ipBlock: {cidr: '::ffff:10.0.0.0/104'}}]}]", false),
    ("egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]", false),
    ("egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]", false),
    ("ingress: [{from: [{podSelector: {matchLabels: {'bad key': x}}}]}]", false),
    ("ingress: [{from: [{podSelector: {matchLabels: {app: 'bad value'}}}]}]", false),
    ("ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: a, operator: In}]}}]}]", false),
    ("ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}}]}]", false),
    ("ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: a, operator: Equals, values: [x]}]}}]}]", false),
    ("ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: -a, operator: Exists}]}}]}]", false),
    (
        "ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: a, operator: In, values: ['no spaces']}]}}]}]",
        false,
    ),
    (
        "ingress: [{from: [{podSelector: {matchLabels: {app.kubernetes.io/name: web}}, namespaceSelector: \
         {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [prod, '']}]}}], \
         ports: [{port: http}, {port: 8000, endPort: 8010, protocol: SCTP}, {protocol: UDP}]}]",
        true,
    ),
    (
        "egress: [{to: [{ipBlock: {cidr: '2001:DB8::/32', except: ['2001:db8:1::/48']}}, {namespaceSelector: {}}], \
         ports: [{port: 443}]}]",
        true,
    ),
];

/// What the operator copies into a child is refused with the Agent exactly when the child's own
/// API refuses it: each case goes to the real API server twice, as an Agent and as the child (a
/// Deployment's container, a NetworkPolicy), both as server-side dry runs. A refused Agent names
/// its own field, never the child's.
async fn agents_take_what_their_children_take(ctx: Ctx) -> anyhow::Result<()> {
    let agent = |spec: &str| {
        format!("apiVersion: agents.dev/v1alpha1\nkind: Agent\nmetadata: {{name: a}}\nspec: {{image: 'x:1', {spec}}}\n")
    };
    // A field of the Agent's container, and the same in a Deployment's.
    let container = |field: &'static str, our_path: &'static str| {
        move |(value, admitted): &(&str, bool)| {
            let field = format!("{field}: {value}");
            let deployment = format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec: {{selector: {{matchLabels: {{app: d}}}}, \
                 template: {{metadata: {{labels: {{app: d}}}}, spec: {{containers: [{{name: c, image: 'x:1', {field}}}]}}}}}}\n"
            );
            (deployment, agent(&field), our_path, *admitted)
        }
    };
    let network_policy = |(rules, admitted): &(&str, bool)| {
        let policy = format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p}}\nspec: {{podSelector: {{}}, {rules}}}\n"
        );
        (policy, agent(&format!("networkPolicy: {{{rules}}}")), "spec.networkPolicy.", *admitted)
    };
    let cases: Vec<_> = RESOURCES
        .iter()
        .map(container("resources", "spec.resources"))
        .chain(ENV.iter().map(container("env", "spec.env[")))
        .chain(NETWORK_RULES.iter().map(network_policy))
        .collect();
    let mut failures = Vec::new();
    for (child, agent, our_path, admitted) in &cases {
        let child_says = dry_run(&ctx, child).await;
        let agent_says = dry_run(&ctx, agent).await;
        if child_says.is_ok() != *admitted {
            failures.push(format!(
                "the API server changed its mind: expected admitted={admitted}, got {child_says:?} for\n{child}"
            ));
        }
        match agent_says {
            Ok(()) if !admitted => {
                failures.push(format!("accepted, though its child is refused ({child_says:?}):\n{agent}"))
            }
            Err(message) if *admitted => {
                failures.push(format!("refused ({message}), though its child is accepted:\n{agent}"))
            }
            Err(message) if !message.contains(our_path) || message.contains("template") => {
                failures.push(format!("refused without naming {our_path}: {message}"))
            }
            _ => {}
        }
    }
    if !failures.is_empty() {
        bail!("{} of {} cases went wrong:\n{}", failures.len(), cases.len(), failures.join("\n"));
    }
    Ok(())
}

/// A server-side dry run of applying one object: what the API server would answer, stored nowhere.
async fn dry_run(ctx: &Ctx, yaml: &str) -> Result<(), String> {
    let object: kube::api::DynamicObject = serde_norway::from_str(yaml).map_err(|e| format!("not an object: {e}"))?;
    let types = object.types.clone().ok_or("no apiVersion and kind")?;
    let gvk = kube::core::GroupVersionKind::try_from(&types).map_err(|e| e.to_string())?;
    let name = object.metadata.name.clone().ok_or("no name")?;
    let (resource, _) = kube::discovery::pinned_kind(&ctx.client, &gvk).await.map_err(|e| e.to_string())?;
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(ctx.client.clone(), &ctx.ns, &resource);
    let params = kube::api::PatchParams::apply("e2e").force().dry_run();
    match api.patch(&name, &params, &kube::api::Patch::Apply(&object)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) => Err(status.message),
        Err(e) => Err(e.to_string()),
    }
}
