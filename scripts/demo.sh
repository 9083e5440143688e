#!/usr/bin/env bash
# The demo: a local Kubernetes control plane (built on first run, ~8 min; then ~10 s to start),
# the operator running against it, sample Agents, one of which answers `kubectl agents invoke`,
# and the plugin found by kubectl.
#   ./scripts/demo.sh        start (or refresh) the demo
#   ./scripts/demo.sh down   stop the demo's processes and the control plane
set -euo pipefail
cd "$(dirname "$0")/.."

testenv=./target/debug/agents-testenv

# The demo's background processes (the operator, the demo model, the runtime playing hello's
# pod) are recorded as $dir/demo-NAME.pid. One of an earlier run is stopped, but only if its pid
# still runs the program recorded (pids are reused).
stop_recorded() {
  local file="$dir/demo-$1.pid" pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  fi
  rm -f "$file"
}
stop_all() {
  stop_recorded run-agent "agents-testenv run-agent"
  stop_recorded model "agents-testenv model"
  stop_recorded operator agents-operator
}
# Starts NAME in the background, its output in $dir/demo-NAME.log.
start_recorded() {
  local name=$1
  shift
  "$@" >"$dir/demo-$name.log" 2>&1 &
  echo $! >"$dir/demo-$name.pid"
}
# Waits (up to $3 seconds) until the log of NAME has a line containing TEXT; fails with the log if
# NAME exits or the time runs out.
wait_for_line() {
  local name=$1 text=$2 deadline=$((SECONDS + $3))
  until grep -q -- "$text" "$dir/demo-$name.log" 2>/dev/null; do
    if ! kill -0 "$(cat "$dir/demo-$name.pid")" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "demo: $name did not get to \"$text\"; its log ($dir/demo-$name.log):" >&2
      cat "$dir/demo-$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
}

if [ "${1:-}" = down ]; then
  cargo build --quiet -p agents-testenv
  dir=$($testenv dir)
  stop_all
  $testenv down
  exit 0
fi

cargo build --workspace --bins --quiet
dir=$($testenv dir)
# Before `up`, which removes the directory of a cluster that stopped running (and the pid files
# with it): this build replaces whatever an earlier run left.
if [ -d "$dir" ]; then stop_all; fi
kubeconfig=$($testenv up | tail -n 1)
mkdir -p "$dir/plugins"
ln -sf "$PWD/target/debug/kubectl-agents" "$dir/plugins/kubectl-agents"
eval "$($testenv env)"
export PATH="$dir/plugins:$PATH"

# Shows a command as typed (arguments with spaces quoted), then runs it.
show() {
  local line="" arg
  for arg in "$@"; do
    case $arg in *[[:space:]]*) line+=" \"$arg\"" ;; *) line+=" $arg" ;; esac
  done
  printf '\n$%s\n' "$line"
}
step() { show "$@"; "$@"; }
step kubectl agents install --crds-only

# The operator runs here, out of the cluster (no image can be built on this machine).
start_recorded operator ./target/debug/agents-operator --metrics-bind-address 127.0.0.1:0
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

# An agent that answers. KWOK's pods run nothing, so its pod is played on this machine: the
# reference runtime with the environment the operator rendered (run-agent, which waits for the
# Agent), calling the demo's model where the example's External ModelAPI points.
start_recorded model $testenv model
wait_for_line model "serves" 10
start_recorded run-agent $testenv run-agent hello --timeout 2m
echo "the demo model and hello's runtime are running (logs $dir/demo-model.log, $dir/demo-run-agent.log)"
step kubectl agents apply -f docs/examples/hello-agent.yaml --wait
wait_for_line run-agent "serves pod" 60
question="Hello! What can you do?"
show kubectl agents invoke hello "$question"
# Its stderr ends with the conversation's context id, which the follow-up passes back.
if ! kubectl agents invoke hello "$question" 2>"$dir/demo-invoke.err"; then
  cat "$dir/demo-invoke.err" >&2
  exit 1
fi
cat "$dir/demo-invoke.err" >&2
context=$(sed -n 's/^(context id \([^:]*\): continue.*/\1/p' "$dir/demo-invoke.err")
[ -n "$context" ] || { echo "demo: invoke did not tell its context id" >&2; exit 1; }
step kubectl agents invoke hello "Do you remember what I asked?" --context-id "$context"
step kubectl agents describe hello
# One screen for the namespace; exit 1 if anything needed attention.
step kubectl agents status
# The operator runs out of the cluster: check finds it by its leader Lease.
step kubectl agents check
step kubectl agents version

cat <<MSG

The control plane, the operator, the demo model and hello's runtime keep running. To use them
from your shell (\`kubectl agents invoke hello\` on a terminal is a chat):
  export KUBECONFIG=$KUBECONFIG PATH=$dir/plugins:$(dirname "$(command -v kubectl)"):\$PATH
Stop them all with: ./scripts/demo.sh down
MSG
