#!/usr/bin/env bash
# Runs Gantry's benchmarks; copy the printed results into docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
GANTRY_TEST_RACE=0 go test -run '^$' -bench . -benchtime 1x -timeout 30m ./tests/bench/
