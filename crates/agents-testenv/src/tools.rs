//! The pinned Go programs the control plane is made of, and where their sources come from.
//!
//! Every tool is built the same way (see `gobuild`): a throwaway main module in the cache that
//! `require`s the exact upstream version, because the module proxy refuses `go install` for some
//! of them (it cannot read their version list) but serves every exact version.

/// Kubernetes minor of the whole stack; k8s-openapi's `v1_37` feature matches it.
pub const KUBERNETES_VERSION: &str = "v1.37.2";

/// A Go program (or several from one module) built from the module proxy.
#[derive(Debug)]
pub struct GoTool {
    /// Short name: the cache directory and the messages use it.
    pub name: &'static str,
    pub module: &'static str,
    pub version: &'static str,
    /// Packages built in one `go build`, so the packages they share compile once.
    pub packages: &'static [&'static str],
    /// For modules whose `main` package lives in another module (etcd's binary): a `main.go`
    /// written into the throwaway module, built as `.`; the binary is then named after `name`.
    pub main_go: Option<&'static str>,
    /// Kubernetes' root module resolves its staging modules with `replace => ./staging/...`,
    /// which a dependent module cannot see; each must be replaced by its published version.
    pub replaces_staging: bool,
    /// Packages whose `gitVersion` & co. are stamped, so binaries report their real version.
    pub version_packages: &'static [&'static str],
}

impl GoTool {
    /// The file names `go build -o DIR/` produces.
    pub fn binaries(&self) -> Vec<&'static str> {
        if self.main_go.is_some() {
            return vec![self.name];
        }
        self.packages.iter().map(|p| p.rsplit('/').next().unwrap_or(p)).collect()
    }

    /// `name-version`, the cache key.
    pub fn id(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }
}

pub const KUBERNETES: GoTool = GoTool {
    name: "kubernetes",
    module: "k8s.io/kubernetes",
    version: KUBERNETES_VERSION,
    packages: &[
        "k8s.io/kubernetes/cmd/kube-apiserver",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-scheduler",
        "k8s.io/kubernetes/cmd/kubectl",
    ],
    main_go: None,
    replaces_staging: true,
    version_packages: &["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"],
};

/// The version Kubernetes 1.37 pins in `hack/lib/etcd.sh`.
pub const ETCD: GoTool = GoTool {
    name: "etcd",
    module: "go.etcd.io/etcd/server/v3",
    version: "v3.7.0",
    packages: &[],
    main_go: Some(
        "package main\n\nimport (\n\t\"os\"\n\n\t\"go.etcd.io/etcd/server/v3/etcdmain\"\n)\n\n\
         func main() { etcdmain.Main(os.Args) }\n",
    ),
    replaces_staging: false,
    version_packages: &[],
};

pub const KWOK: GoTool = GoTool {
    name: "kwok",
    module: "sigs.k8s.io/kwok",
    version: "v0.8.0",
    packages: &["sigs.k8s.io/kwok/cmd/kwok"],
    main_go: None,
    replaces_staging: false,
    version_packages: &[],
};

/// krew, the kubectl plugin manager, and krew's own manifest validator: the distribution tests
/// install the plugin with it offline. v0.5.0 is the only version the proxy serves whole. Left
/// unstamped on purpose: krew never runs its upgrade check (a GitHub call) in a development build.
pub const KREW: GoTool = GoTool {
    name: "krew",
    module: "sigs.k8s.io/krew",
    version: "v0.5.0",
    packages: &["sigs.k8s.io/krew/cmd/krew", "sigs.k8s.io/krew/cmd/validate-krew-manifest"],
    main_go: None,
    replaces_staging: false,
    version_packages: &[],
};

/// Argo Workflows' controller, run out of cluster by the tests that need DAGs, approvals and cron
/// to really happen (see `argo::Controller`). ~2.5 min cold on 2 cores, 1.2 GB peak.
pub const ARGO_WORKFLOW_CONTROLLER: GoTool = GoTool {
    name: "argo-workflow-controller",
    module: "github.com/argoproj/argo-workflows/v3",
    version: "v3.7.18",
    packages: &["github.com/argoproj/argo-workflows/v3/cmd/workflow-controller"],
    main_go: None,
    replaces_staging: false,
    version_packages: &[],
};

/// Tekton Pipelines' controller, run out of cluster by the tests that need real PipelineRuns
/// (see `tekton.rs`). The module is [`TEKTON`]'s.
pub const TEKTON_CONTROLLER: GoTool = GoTool {
    name: "tekton-controller",
    module: "github.com/tektoncd/pipeline",
    version: "v1.15.0",
    packages: &["github.com/tektoncd/pipeline/cmd/controller"],
    main_go: None,
    replaces_staging: false,
    version_packages: &[],
};

/// Modules read for their manifests only (CRDs); never built.
#[derive(Debug)]
pub struct ManifestSource {
    pub module: &'static str,
    pub version: &'static str,
}

/// The newest Tekton Pipelines the proxy serves whole (v1.16+ are refused).
pub const TEKTON: ManifestSource = ManifestSource { module: "github.com/tektoncd/pipeline", version: "v1.15.0" };

/// Argo Workflows: only the `/v3` major is served.
pub const ARGO: ManifestSource = ManifestSource { module: "github.com/argoproj/argo-workflows/v3", version: "v3.7.18" };

/// prometheus-operator, for the ServiceMonitor CRD.
pub const PROMETHEUS_OPERATOR: ManifestSource =
    ManifestSource { module: "github.com/prometheus-operator/prometheus-operator", version: "v0.85.0" };

/// KWOK's module also carries the stage manifests that make fake nodes and pods progress.
pub const KWOK_STAGES: ManifestSource = ManifestSource { module: KWOK.module, version: KWOK.version };

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_are_named_after_their_packages_or_the_tool() {
        assert_eq!(KUBERNETES.binaries(), ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"]);
        assert_eq!(ETCD.binaries(), ["etcd"]);
        assert_eq!(KWOK.binaries(), ["kwok"]);
        assert_eq!(KREW.binaries(), ["krew", "validate-krew-manifest"]);
        assert_eq!(ARGO_WORKFLOW_CONTROLLER.binaries(), ["workflow-controller"]);
        assert_eq!(ARGO_WORKFLOW_CONTROLLER.version, ARGO.version);
        assert_eq!(TEKTON_CONTROLLER.binaries(), ["controller"]);
        assert_eq!(TEKTON_CONTROLLER.version, TEKTON.version);
    }
}
