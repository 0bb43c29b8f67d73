# Gantry build, test and demo entry points. Every target installs what it
# needs: pinned Go tools into .tools/bin, Debian packages when missing, and
# the local test images (nothing is pulled from a registry).

SHELL := /bin/bash
GO ?= go
TOOLS := $(CURDIR)/.tools/bin
BIN := $(CURDIR)/bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/gantry-ci/gantry/runner.Version=$(VERSION)

BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
# A real S3-compatible server for the blob store's tests (coordinator/blob/s3test).
VERSITYGW_VERSION := v1.8.0

export PATH := $(TOOLS):$(PATH)
export GANTRY_S3_SERVER := $(TOOLS)/versitygw

.PHONY: all build demo test fuzz-brief test-unit test-e2e test-images chromium prometheus tools proto proto-check lint fmt-check vet bench clean

all: build

## build: static binaries in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## demo: build everything, then run a coordinator (embedded etcd), a runner and the example pipeline
demo: build test-images
	./deploy/demo.sh

## test: everything CI checks
test: fmt-check vet proto-check test-images chromium prometheus $(TOOLS)/versitygw
	$(GO) test -race -timeout 25m ./...
	$(MAKE) fuzz-brief

# Every parser of user input has a fuzz target; CI runs each briefly (no
# panic, no hang on generated inputs). Budgets are execution counts (a few
# seconds each here), not durations: Go 1.26's fuzz coordinator can fail a
# duration-bounded run with "context deadline exceeded" at the deadline
# (golang/go#75804, fixed in Go 1.27). Longer runs: FUZZTIME=10m.
FUZZTIME ?=
FUZZ_TARGETS := ./pkg/pipeline:FuzzParse:60000 ./pkg/ghworkflow:FuzzParse:20000 \
	./pkg/expr/gitlab:FuzzParse:300000 ./pkg/expr/actions:FuzzParse:200000 \
	./pkg/source:FuzzUnpack:5000 ./pkg/source:FuzzUnpackEntries:8000 \
	./runner/executor/docker:FuzzWorkspaceTarArtifacts:5000 \
	./pkg/reports:FuzzJUnit:60000 ./pkg/reports:FuzzCoverage:60000 \
	./coordinator/web:FuzzLineHTML:20000 ./coordinator/web:FuzzRenderLog:20000

## fuzz-brief: run each fuzz target briefly (FUZZTIME=DURATION for longer)
fuzz-brief:
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; n=$${rest##*:}; \
	  budget=$${FUZZTIME:-$${n}x}; echo "fuzz $$pkg $$fn ($$budget)"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $$budget -fuzzminimizetime 2s $$pkg || exit 1; \
	done

## test-unit: only the fast in-process tests
test-unit:
	$(GO) test -race -short ./...

test-images:
	./deploy/testimages/build.sh

# The dashboard's browser test (tests/dashboard_test.go) drives Debian's
# chromium; without it that test skips (fails when CI=true).
chromium:
	@command -v chromium >/dev/null || { echo "installing chromium (Debian)"; \
	  sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# tests/prometheus_test.go runs Debian's prometheus and promtool; without
# them those tests skip (fail when CI=true).
prometheus:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { echo "installing prometheus (Debian)"; \
	  sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }

$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

$(TOOLS)/versitygw:
	GOBIN=$(TOOLS) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc $(TOOLS)/versitygw

## proto: regenerate the checked-in gRPC code
proto: tools
	buf lint
	buf generate

## proto-check: fail when the checked-in generated code is stale or the API breaks lint
proto-check: tools
	buf lint
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  sed "s#out: proto#out: $$tmp#" buf.gen.yaml > $$tmp/buf.gen.yaml && \
	  buf generate --template $$tmp/buf.gen.yaml && \
	  if ! diff -r -q $$tmp/gantry proto/gantry -x '*.proto' >/dev/null; then \
	    diff -r $$tmp/gantry proto/gantry -x '*.proto' | head -40; \
	    echo "generated code in proto/ is stale: run 'make proto' and commit the result"; exit 1; \
	  fi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## bench: benchmarks; results go to docs/BENCHMARKS.md
bench: build test-images
	./deploy/bench/overhead.sh
	./deploy/bench/dispatch.sh
	$(GO) run ./deploy/bench/artifacts --bin $(BIN) --executors shell,docker --label '$(VERSION)' --markdown /tmp/gantry-artifacts-bench.md
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./pkg/pipeline ./pkg/ghworkflow

clean:
	rm -rf $(BIN)
