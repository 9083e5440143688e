//! The schema rejects invalid Agents before any controller sees them, each with a message that
//! says what to fix. Every case is sent to the real API server.

use std::sync::Arc;

use anyhow::{Context, bail};
use libtest_mimic::Trial;

use crate::support::{Ctx, Env, trials};

pub fn tests(env: &Arc<Env>) -> Vec<Trial> {
    trials!(env, "validation", [invalid_agents_are_rejected, invalid_servers_are_rejected])
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
        "each request must be at most its limit",
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
        "must be a number of pods or a percentage such as 25%",
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
        "a package server on SSE",
        "metadata: {name: t}\nspec: {package: {runtime: uvx, name: x}, transport: sse}",
        "a package server is bridged from stdio to streamable HTTP",
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
        "apiVersion: agents.dev/v1alpha1\nkind: ModelAPI\nmetadata: {name: m}\nspec: {mode: Proxy, proxy: {models: [{name: '*'}]}}\n\
         ---\napiVersion: agents.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: t}\n\
         spec: {package: {runtime: uvx, name: mcp-server-fetch, version: '2025.4.7'}}\n",
    )
    .await
    .context("a valid ModelAPI and MCPServer")?;
    Ok(())
}
