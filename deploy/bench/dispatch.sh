#!/usr/bin/env bash
# Dispatch benchmark: for 10, 100 and 1000 simulated runners, each on a
# fresh coordinator (embedded etcd, temp data dir), measures jobs/s through
# submit -> lease -> complete with jobs that finish at once, ready-to-lease
# latency at half that load, and the coordinator's memory. Prints a table
# and appends a Markdown report to $1 (default /tmp/gantry-dispatch-bench.md),
# so runs before and after a change collect in one file. Takes about three
# minutes once bin/ is built. Extra arguments go to the load generator
# (deploy/bench/loadgen --help), e.g. --duration 10s.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=${1:-/tmp/gantry-dispatch-bench.md}
shift || true

if [[ ! -x bin/gantry-coordinator ]]; then
  make build
fi
label=$(git describe --always --dirty 2>/dev/null || echo "unknown commit")
newer=$(find cmd coordinator pkg proto go.mod go.sum -type f \( -name '*.go' -o -name 'go.*' \) \
  -newer bin/gantry-coordinator 2>/dev/null | head -3)
if [[ -n $newer ]]; then
  echo "warning: bin/gantry-coordinator is older than the sources (e.g. ${newer%%$'\n'*}); run make build to measure them" >&2
  label+=", coordinator binary older than the sources"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/loadgen" ./deploy/bench/loadgen

"$tmp/loadgen" \
  --coordinator-bin bin/gantry-coordinator \
  --runners 10,100,1000 \
  --warmup 3s --duration 20s \
  --markdown "$out" --label "$label" "$@"
echo "results appended to $out"
