//! Command-line flags (each also readable from an `AGENTS_OPERATOR_*` environment variable).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};

/// Reconciles agents.dev/v1alpha1 resources (today: Agent) into the Kubernetes objects that run
/// them, and reports their state in `.status`.
#[derive(Parser, Debug, Clone)]
#[command(name = "agents-operator", version, about)]
pub struct Args {
    /// Kubeconfig to use instead of $KUBECONFIG, ~/.kube/config or the in-cluster service account.
    #[arg(long, env = "AGENTS_OPERATOR_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use.
    #[arg(long, env = "AGENTS_OPERATOR_CONTEXT")]
    pub context: Option<String>,

    /// Reconcile only this namespace (default: all namespaces).
    #[arg(long, short = 'n', env = "AGENTS_OPERATOR_NAMESPACE")]
    pub namespace: Option<String>,

    /// Where /healthz, /readyz and /metrics are served.
    #[arg(long, env = "AGENTS_OPERATOR_METRICS_BIND_ADDRESS", default_value = "0.0.0.0:8080")]
    pub metrics_bind_address: SocketAddr,

    /// Elect a leader through a Lease so several replicas can run; only the leader reconciles.
    #[arg(long, env = "AGENTS_OPERATOR_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,

    /// Namespace of the leader Lease (default: the pod's namespace in a cluster, else --namespace, else "default").
    #[arg(long, env = "AGENTS_OPERATOR_LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,

    /// Seconds a leader's lease lasts without renewal before another replica may take over.
    #[arg(long, env = "AGENTS_OPERATOR_LEASE_DURATION", default_value_t = 15)]
    pub lease_duration: u64,

    /// Seconds before expiry at which the leader renews its lease.
    #[arg(long, env = "AGENTS_OPERATOR_LEASE_GRACE", default_value_t = 5)]
    pub lease_grace: u64,

    /// Objects reconciled at once, for each kind but AgentBuild: Agents, AgentWorkflows, ModelAPIs
    /// and MCPServers (AgentBuilds: --build-concurrency).
    // Read through `Args::concurrency`, which also honours the former name.
    #[arg(long, env = "AGENTS_OPERATOR_CONCURRENCY", value_name = "N", default_value_t = 16)]
    concurrency: u16,

    // `--concurrency` by its former name, flag and variable, kept out of `--help`: installs that
    // set it keep their setting.
    #[arg(
        long = "agent-concurrency",
        env = "AGENTS_OPERATOR_AGENT_CONCURRENCY",
        value_name = "N",
        hide = true,
        conflicts_with = "concurrency"
    )]
    former_agent_concurrency: Option<u16>,

    /// How MCPServers are asked for their tools: `service` calls their Service by its DNS name
    /// (the operator runs in the cluster), `pod` calls a ready pod by its IP (it runs where pod
    /// addresses are routable), `auto` picks by where it runs, `off` never asks.
    #[arg(long, env = "AGENTS_OPERATOR_MCP_TOOLS", value_enum, default_value_t = McpTools::Auto)]
    pub mcp_tools: McpTools,
    /// AgentBuilds reconciled at once.
    #[arg(long, env = "AGENTS_OPERATOR_BUILD_CONCURRENCY", default_value_t = 4)]
    pub build_concurrency: u16,

    /// The image Agents with neither spec.image nor spec.buildRef run: the reference agent runtime
    /// (default: this release's, ghcr.io/kubectl-agents/agents-runtime:v<version>). Set it to
    /// serve the image from a mirror.
    #[arg(long, env = "AGENTS_OPERATOR_AGENT_RUNTIME_IMAGE", value_name = "IMAGE")]
    pub agent_runtime_image: Option<String>,

    /// Roll pods when a Secret they read changes, as they roll when a ConfigMap does. The operator
    /// then lists and watches Secrets (keeping only a digest of each): grant it `list` and `watch`
    /// on secrets first (the Helm chart's `followSecrets` does both).
    #[arg(long, env = "AGENTS_OPERATOR_FOLLOW_SECRETS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub follow_secrets: bool,

    /// Log format: text (default) or json.
    #[arg(long, env = "AGENTS_OPERATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpTools {
    Auto,
    Service,
    Pod,
    Off,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Args {
    /// A client from `--kubeconfig`/`--context`, else the usual inference (KUBECONFIG, in-cluster).
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let options = kube::config::KubeConfigOptions { context: self.context.clone(), ..Default::default() };
        let mut config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path)
                    .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?
            }
            None if self.context.is_some() => kube::Config::from_kubeconfig(&options).await?,
            None => kube::Config::infer()
                .await
                .context("no cluster to talk to: pass --kubeconfig, set KUBECONFIG, or run in a pod")?,
        };
        agents_client::route_like_kubectl(&mut config);
        kube::Client::try_from(config).context("building the Kubernetes client")
    }

    /// Whether the client talks to the cluster the operator runs in (its service account).
    pub fn in_cluster(&self) -> bool {
        self.kubeconfig.is_none()
            && self.context.is_none()
            && std::env::var_os("KUBECONFIG").is_none()
            && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
    }

    /// Objects of each kind but AgentBuild reconciled at once (`--concurrency`).
    pub fn concurrency(&self) -> u16 {
        self.former_agent_concurrency.unwrap_or(self.concurrency)
    }

    pub fn lease_namespace(&self) -> String {
        self.leader_election_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .or_else(|| self.namespace.clone())
            .unwrap_or_else(|| "default".into())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn concurrency(flags: &[&str]) -> Result<u16, clap::Error> {
        Args::try_parse_from(std::iter::once("agents-operator").chain(flags.iter().copied())).map(|a| a.concurrency())
    }

    #[test]
    fn concurrency_is_set_by_its_name_or_its_former_one_never_both() {
        assert_eq!(concurrency(&[]).unwrap(), 16);
        assert_eq!(concurrency(&["--concurrency=8"]).unwrap(), 8);
        assert_eq!(concurrency(&["--agent-concurrency=32"]).unwrap(), 32);
        let both = concurrency(&["--concurrency=8", "--agent-concurrency=32"]).unwrap_err();
        assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn help_shows_only_the_current_name() {
        let help = Args::command().render_long_help().to_string();
        assert!(help.contains("--concurrency <N>"), "{help}");
        assert!(!help.contains("agent-concurrency"), "{help}");
    }
}
