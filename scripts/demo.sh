#!/usr/bin/env bash
# The demo: a local Kubernetes control plane (built on first run, ~8 min; then ~10 s to start),
# the operator running against it, a sample Agent, and the plugin found by kubectl.
#   ./scripts/demo.sh        start (or refresh) the demo
#   ./scripts/demo.sh down   stop the operator and the control plane
set -euo pipefail
cd "$(dirname "$0")/.."

testenv=./target/debug/agents-testenv
if [ "${1:-}" = down ]; then
  if [ -x "$testenv" ] && dir=$(dirname "$($testenv env 2>/dev/null | sed -n 's/^export KUBECONFIG=//p')") \
      && [ -f "$dir/demo-operator.pid" ]; then
    kill "$(cat "$dir/demo-operator.pid")" 2>/dev/null || true
  fi
  cargo run --quiet -p agents-testenv -- down
  exit 0
fi

cargo build --workspace --bins --quiet
kubeconfig=$($testenv up | tail -n 1)
dir=$(dirname "$kubeconfig")
mkdir -p "$dir/plugins"
ln -sf "$PWD/target/debug/kubectl-agents" "$dir/plugins/kubectl-agents"
eval "$($testenv env)"
export PATH="$dir/plugins:$PATH"

step() { printf '\n$ %s\n' "$*"; "$@"; }
# check exits 1 here (no operator Deployment in the cluster): show it, keep going.
step_anyway() { step "$@" || true; }
step kubectl agents install --crds-only

# The operator runs here, out of the cluster (no image can be built on this machine); one per
# demo cluster, restarted so it runs this build.
if [ -f "$dir/demo-operator.pid" ]; then
  kill "$(cat "$dir/demo-operator.pid")" 2>/dev/null || true
  while kill -0 "$(cat "$dir/demo-operator.pid")" 2>/dev/null; do sleep 0.1; done
fi
./target/debug/agents-operator --metrics-bind-address 127.0.0.1:0 >"$dir/demo-operator.log" 2>&1 &
echo $! >"$dir/demo-operator.pid"
echo "agents-operator running (pid $(cat "$dir/demo-operator.pid"), log $dir/demo-operator.log)"

step kubectl agents apply -f docs/examples/research-agent.yaml --wait
step kubectl agents get -o wide
step kubectl agents describe research
step kubectl agents logs research --tail 1
# An agent with a model gateway and a tool server, applied Agent first: it waits for both.
step kubectl agents apply -f docs/examples/gateway-and-tools.yaml --wait
step kubectl agents get modelapis -o wide
step kubectl agents get mcpservers
step kubectl agents describe scout
step_anyway kubectl agents check
step kubectl agents version

cat <<MSG

The control plane and the operator keep running. To use them from your shell:
  export KUBECONFIG=$KUBECONFIG PATH=$dir/plugins:$(dirname "$(command -v kubectl)"):\$PATH
Stop both with: ./scripts/demo.sh down
MSG
