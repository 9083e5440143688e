#!/usr/bin/env bash
# The demo: a local Kubernetes control plane (built on first run, ~8 min; then ~10 s to start),
# with the plugin found by kubectl. Stop it with: cargo run -p agents-testenv -- down
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --workspace --bins --quiet
kubeconfig=$(./target/debug/agents-testenv up | tail -n 1)
bin=$(dirname "$(readlink -f "$kubeconfig")")/plugins
mkdir -p "$bin"
ln -sf "$PWD/target/debug/kubectl-agents" "$bin/kubectl-agents"
eval "$(./target/debug/agents-testenv env)"
export PATH="$bin:$PATH"

step() { printf '\n$ %s\n' "$*"; "$@"; }
step kubectl get nodes
step kubectl get crds -o custom-columns=NAME:.metadata.name
step kubectl agents version

cat <<MSG

The control plane keeps running. To use it from your shell:
  export KUBECONFIG=$KUBECONFIG PATH=$bin:$(dirname "$(command -v kubectl)"):\$PATH
Stop it with: cargo run -p agents-testenv -- down
MSG
