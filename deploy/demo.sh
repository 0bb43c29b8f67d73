#!/usr/bin/env bash
# The quick-start demo: a coordinator with embedded etcd, one Docker runner,
# and examples/demo submitted with the CLI and followed to the end.
# Everything it starts is stopped and removed when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin}
work=$(mktemp -d -t gantry-demo.XXXXXX)
pids=()
cleanup() {
  # Newest first: the runner drains and exits while its coordinator is
  # still there, then the coordinator stops.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "==> starting gantry-coordinator (embedded etcd in $work/data)"
"$BIN/gantry-coordinator" --listen 127.0.0.1:0 --data-dir "$work/data" \
  --registration-token "$token" --ready-file "$work/addr" --log-level warn &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
[ -s "$work/addr" ] || { echo "coordinator did not start" >&2; exit 1; }
addr=$(cat "$work/addr")
echo "==> coordinator on $addr; starting gantry-runner (docker executor)"
"$BIN/gantry-runner" --coordinator "$addr" --config "$work/runner.yml" \
  --registration-token "$token" --name demo-runner --concurrency 2 --log-level warn &
pids+=($!)

echo "==> gantry submit examples/demo"
status=0
GANTRY_COORDINATOR=$addr "$BIN/gantry" submit examples/demo || status=$?
echo
GANTRY_COORDINATOR=$addr "$BIN/gantry" runners || true
exit $status
