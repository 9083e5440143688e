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
    /// Package variables the upstream release sets at link time (`-X package.variable=value`),
    /// so the binary reports what the released one does.
    pub link_variables: &'static [(&'static str, &'static str)],
    /// For programs with C or C++ compiled in: what their cgo build needs. `None` builds with
    /// `CGO_ENABLED=0`.
    pub cgo: Option<Cgo>,
}

/// What a cgo build needs besides the module.
#[derive(Debug)]
pub struct Cgo {
    /// Headers the sources include that the module's zip leaves out: the Go command drops every
    /// subdirectory of a `vendor/` directory from module zips, where C projects keep theirs.
    pub headers: &'static [CHeader],
    /// What the machine must provide (compilers, system headers), said when the build fails.
    pub needs: &'static str,
}

/// A C header the build includes as `include`, copied from `file` of the module `module@version`.
#[derive(Debug)]
pub struct CHeader {
    pub include: &'static str,
    pub module: &'static str,
    pub version: &'static str,
    pub file: &'static str,
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
    link_variables: &[],
    cgo: None,
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
    link_variables: &[],
    cgo: None,
};

pub const KWOK: GoTool = GoTool {
    name: "kwok",
    module: "sigs.k8s.io/kwok",
    version: "v0.8.0",
    packages: &["sigs.k8s.io/kwok/cmd/kwok"],
    main_go: None,
    replaces_staging: false,
    version_packages: &[],
    link_variables: &[],
    cgo: None,
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
    link_variables: &[],
    cgo: None,
};

/// Helm, the package manager: the chart tests lint, template, install, upgrade and uninstall
/// `charts/agents-operator` with it. v4 is the current major; its client-go matches our minor
/// closely enough for install/upgrade/uninstall against the local control plane.
pub const HELM: GoTool = GoTool {
    name: "helm",
    module: "helm.sh/helm/v4",
    version: "v4.3.2",
    packages: &["helm.sh/helm/v4/cmd/helm"],
    main_go: None,
    replaces_staging: false,
    version_packages: &[],
    link_variables: &[],
    cgo: None,
};

/// Prometheus' `promtool`: the monitoring tests check and unit-test the PrometheusRule's rules
/// with it. ~3 min cold on 2 cores (the module pulls every service discovery's SDK).
pub const PROMTOOL: GoTool = GoTool {
    name: "promtool",
    module: "github.com/prometheus/prometheus",
    version: "v0.316.0",
    packages: &["github.com/prometheus/prometheus/cmd/promtool"],
    main_go: None,
    replaces_staging: false,
    version_packages: &[],
    link_variables: &[],
    cgo: None,
};

/// Prometheus' own PromQL parser as a filter: a JSON array of expressions on stdin, for each the
/// metric names its selectors read (or its parse error) on stdout. The monitoring tests hold
/// every name a rule or dashboard reads to what the binaries export. [`PROMTOOL`]'s module.
pub const PROMQL_SELECTORS: GoTool = GoTool {
    name: "promql-selectors",
    module: "github.com/prometheus/prometheus",
    version: "v0.316.0",
    packages: &[],
    main_go: Some(
        "package main\n\nimport (\n\t\"encoding/json\"\n\t\"fmt\"\n\t\"os\"\n\n\
         \t\"github.com/prometheus/prometheus/model/labels\"\n\t\"github.com/prometheus/prometheus/promql/parser\"\n)\n\n\
         type result struct {\n\tExpr  string   `json:\"expr\"`\n\tNames []string `json:\"names\"`\n\
         \tError string   `json:\"error,omitempty\"`\n}\n\n\
         func main() {\n\tvar exprs []string\n\tif err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {\n\
         \t\tfmt.Fprintln(os.Stderr, \"stdin is not a JSON array of strings:\", err)\n\t\tos.Exit(2)\n\t}\n\
         \tp := parser.NewParser(parser.Options{})\n\tout := []result{}\n\tfor _, e := range exprs {\n\
         \t\tr := result{Expr: e, Names: []string{}}\n\t\tif expr, err := p.ParseExpr(e); err != nil {\n\
         \t\t\tr.Error = err.Error()\n\t\t} else {\n\
         \t\t\tparser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {\n\
         \t\t\t\tif vs, ok := node.(*parser.VectorSelector); ok {\n\t\t\t\t\tname := vs.Name\n\
         \t\t\t\t\tfor _, m := range vs.LabelMatchers {\n\
         \t\t\t\t\t\tif name == \"\" && m.Name == labels.MetricName && m.Type == labels.MatchEqual {\n\
         \t\t\t\t\t\t\tname = m.Value\n\t\t\t\t\t\t}\n\t\t\t\t\t}\n\
         \t\t\t\t\tif name == \"\" {\n\t\t\t\t\t\tr.Error = \"a selector without a metric name: \" + vs.String()\n\
         \t\t\t\t\t}\n\t\t\t\t\tr.Names = append(r.Names, name)\n\t\t\t\t}\n\t\t\t\treturn nil\n\t\t\t})\n\
         \t\t}\n\t\tout = append(out, r)\n\t}\n\tif err := json.NewEncoder(os.Stdout).Encode(out); err != nil {\n\
         \t\tos.Exit(1)\n\t}\n}\n",
    ),
    replaces_staging: false,
    version_packages: &[],
    link_variables: &[],
    cgo: None,
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
    link_variables: &[],
    cgo: None,
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
    link_variables: &[],
    cgo: None,
};

/// crane, go-containerregistry's registry tool: the image tests push the release's OCI layouts to
/// its in-memory registry (`crane registry serve`, on loopback) and read them back, an
/// implementation of the OCI specifications independent of the release task's.
pub const CRANE: GoTool = GoTool {
    name: "crane",
    module: "github.com/google/go-containerregistry",
    version: "v0.22.1",
    packages: &["github.com/google/go-containerregistry/cmd/crane"],
    main_go: None,
    replaces_staging: false,
    version_packages: &[],
    link_variables: &[],
    cgo: None,
};

/// Ollama, the server a Hosted ModelAPI's pod runs, at the release of the image the operator
/// renders (`agents-render`'s `ollama/ollama:0.12.6`; a test below holds the two together),
/// stamped as the release stamps it. CPU only: the GPU backends (and the tuned CPU ones) are
/// CMake builds the image adds beside the binary.
///
/// llama.cpp's vendored headers are not in the module's zip, so neighbouring releases stand in:
/// nlohmann/json 3.11.2 (the release vendors 3.12.0) and stb_image 2.27 from the system (Debian's
/// `nlohmann-json3-dev` and `libstb-dev`), miniaudio 0.11.23 (it vendors 0.11.22) from malgo, a
/// Go module that ships it. Their code runs only with a model loaded (JSON-schema grammars, image
/// and audio input), which no test here does.
///
/// 6.5 min cold on 2 cores shared with other builds, most of it compiling llama.cpp and ggml.
pub const OLLAMA: GoTool = GoTool {
    name: "ollama",
    module: "github.com/ollama/ollama",
    version: "v0.12.6",
    packages: &["github.com/ollama/ollama"],
    main_go: None,
    replaces_staging: false,
    version_packages: &[],
    link_variables: &[
        ("github.com/ollama/ollama/version.Version", "0.12.6"),
        ("github.com/ollama/ollama/server.mode", "release"),
    ],
    cgo: Some(Cgo {
        headers: &[CHeader {
            include: "miniaudio/miniaudio.h",
            module: "github.com/gen2brain/malgo",
            version: "v0.11.24",
            file: "miniaudio.h",
        }],
        needs: "gcc and g++, and the headers of nlohmann/json and stb_image \
                (Debian: `apt-get install g++ nlohmann-json3-dev libstb-dev`; `bash .ci/run` installs them)",
    }),
};

/// `health-check`, the GitOps tests' reader of health: runs an Argo CD `health.lua` against an
/// object as Argo CD does (gopher-lua v1.1.2, the version Argo CD pins, with the libraries Argo CD
/// opens for an `argocd-cm` health check: package, base, table and a safe os; no string or math)
/// and prints kstatus' `status.Compute` (what Flux's health checks read) beside it. `go mod tidy`
/// adds gopher-lua at the newest version the proxy serves; `health-check --versions` prints what
/// was built in, and the test checks it.
pub const HEALTH_CHECK: GoTool = GoTool {
    name: "health-check",
    module: "sigs.k8s.io/cli-utils",
    version: "v0.37.2",
    packages: &[],
    main_go: Some(HEALTH_CHECK_MAIN),
    replaces_staging: false,
    version_packages: &[],
    link_variables: &[],
    cgo: None,
};

const HEALTH_CHECK_MAIN: &str = r#"// health-check: the two GitOps readings of a Kubernetes object. It runs an Argo CD health.lua
// against the object as Argo CD's util/lua does (gopher-lua; only the package, base and table
// libraries and a safe os with time and date; the global obj is the object; the returned
// table's status and message are read, an unknown status reads Unknown), and computes kstatus'
// status.Compute (what Flux's health checks read).
//
//	health-check HEALTH.lua < OBJECT.json   prints {"health":{...},"kstatus":{...}}
//	health-check --versions                 prints the modules it was built with
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type reading struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--versions" {
		info, _ := debug.ReadBuildInfo()
		for _, dep := range info.Deps {
			fmt.Println(dep.Path, dep.Version)
		}
		return
	}
	if len(os.Args) != 2 {
		fail(2, "usage: health-check HEALTH.lua < OBJECT.json")
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(2, err.Error())
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(2, err.Error())
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(input); err != nil {
		fail(2, "the object: "+err.Error())
	}
	out := map[string]any{}
	if health, err := argoHealth(obj, string(script)); err != nil {
		out["healthError"] = err.Error()
	} else {
		out["health"] = health
	}
	if result, err := status.Compute(obj); err != nil {
		out["kstatusError"] = err.Error()
	} else {
		out["kstatus"] = reading{Status: result.Status.String(), Message: result.Message}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(1, err.Error())
	}
}

func fail(code int, message string) {
	fmt.Fprintln(os.Stderr, "health-check:", message)
	os.Exit(code)
}

// argoHealth runs script as Argo CD runs a health check from argocd-cm (useOpenLibs unset).
func argoHealth(obj *unstructured.Unstructured, script string) (*reading, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, err
		}
	}
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(l.SetFuncs(l.NewTable(), safeOs))
		return 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj.Object))
	fn, err := l.LoadString(script)
	if err != nil {
		return nil, err
	}
	l.Push(fn)
	if err := l.PCall(0, lua.MultRet, nil); err != nil {
		return nil, err
	}
	switch returned := l.Get(-1).(type) {
	case *lua.LNilType:
		return &reading{}, nil
	case *lua.LTable:
		health := &reading{}
		for field, into := range map[string]*string{"status": &health.Status, "message": &health.Message} {
			switch value := returned.RawGetString(field).(type) {
			case *lua.LNilType:
			case lua.LString:
				*into = string(value)
			default:
				return nil, fmt.Errorf("%s is a %s, not a string", field, value.Type())
			}
		}
		switch health.Status {
		case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
			return health, nil
		}
		return &reading{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	default:
		return nil, fmt.Errorf("expect table output from Lua script, not %s", returned.Type())
	}
}

var safeOs = map[string]lua.LGFunction{
	"time": func(l *lua.LState) int { l.Push(lua.LNumber(time.Now().Unix())); return 1 },
	"date": func(l *lua.LState) int { l.Push(lua.LString(time.Now().Format(time.ANSIC))); return 1 },
}

func openSafeOs(l *lua.LState) int {
	l.Push(l.RegisterModule(lua.OsLibName, safeOs))
	return 1
}

// toLua converts an object decoded by apimachinery (int64 and float64 numbers) as Argo CD does.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		array := l.CreateTable(len(v), 0)
		for _, item := range v {
			array.Append(toLua(l, item))
		}
		return array
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetH(lua.LString(key), toLua(l, item))
		}
		return table
	}
	return lua.LNil
}
"#;

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
        assert_eq!(CRANE.binaries(), ["crane"]);
        assert_eq!(PROMTOOL.binaries(), ["promtool"]);
        assert_eq!(PROMQL_SELECTORS.binaries(), ["promql-selectors"]);
        assert_eq!(PROMQL_SELECTORS.version, PROMTOOL.version);
        assert_eq!(HELM.binaries(), ["helm"]);
        assert_eq!(ARGO_WORKFLOW_CONTROLLER.binaries(), ["workflow-controller"]);
        assert_eq!(ARGO_WORKFLOW_CONTROLLER.version, ARGO.version);
        assert_eq!(TEKTON_CONTROLLER.binaries(), ["controller"]);
        assert_eq!(TEKTON_CONTROLLER.version, TEKTON.version);
        assert_eq!(HEALTH_CHECK.binaries(), ["health-check"]);
        assert_eq!(OLLAMA.binaries(), ["ollama"]);
    }

    /// The Ollama built here is the one in the image of a Hosted ModelAPI's pod, and says so.
    #[test]
    fn the_ollama_built_is_the_ollama_of_the_image() {
        let tag = agents_render::model_api::OLLAMA_IMAGE.rsplit(':').next().unwrap();
        assert_eq!(format!("v{tag}"), OLLAMA.version);
        assert!(OLLAMA.link_variables.contains(&("github.com/ollama/ollama/version.Version", tag)));
    }
}
