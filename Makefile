# Run 'make' or 'make help' to list the targets.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO ?= go
BIN := bin
PKGS := ./...
# Integration tests start real API servers; on a 2-core machine the whole
# suite takes a few minutes.
TEST_FLAGS ?= -timeout 30m
# Modules with tests of their own, outside the main module's ./...: the
# dashboard, alert and alert-evaluator tests need Prometheus server packages
# that the main go.mod does not carry.
TEST_MODULES := dashboards hack/alerteval hack/release
CHART := charts/meshcert
# Files the chart carries as copies, because Helm reads only inside the
# chart: the alert rules and the Grafana dashboard.
CHART_FILES := dashboards/alerts.yaml dashboards/meshcert.json
MANIFEST := deploy/meshcert.yaml
BENCH ?= .
# The tools environment is computed once per recipe: building the tools is
# slow the first time and instant afterwards.
TOOLS_ENV = eval "$$(hack/tools/env.sh)"

# Release inputs. VERSION is the one place the version is set: the image
# tag, the binaries' version and the chart's appVersion follow it. Every
# timestamp in the image and the archives is the commit time, so a commit
# always gives the same digests; a dirty tree is marked in the commit.
VERSION := $(shell cat VERSION)
COMMIT ?= $(shell git rev-parse HEAD)$(shell test -z "$$(git status --porcelain)" || echo -dirty)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct)
DIST := dist
IMAGE_REPOSITORY ?= ghcr.io/meshcert/meshcert
RELEASE_TOOL = cd hack/release && $(GO) run .
RELEASE_FLAGS = -dir $(CURDIR) -version $(VERSION) -commit $(COMMIT) -source-date-epoch $(SOURCE_DATE_EPOCH)

.PHONY: help
help: ## List the targets with a line each.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build meshcert, the webhook and the exporter into bin/.
	$(GO) build -trimpath -o $(BIN)/ ./cmd/...

.PHONY: tools
tools: ## Build kube-apiserver, etcd, helm and promtool into ~/.cache/meshcert (first run: 15 to 25 minutes on 2 cores).
	@$(TOOLS_ENV) && env | grep -E '^(TEST_ASSET_|MESHCERT_(HELM|PROMTOOL))' | sort

.PHONY: test
test: ## Run every test, including the ones against real API servers (builds the tools first).
	@$(TOOLS_ENV) && $(GO) test $(TEST_FLAGS) $(PKGS) && \
	for mod in $(TEST_MODULES); do (cd $$mod && $(GO) test $(TEST_FLAGS) ./...) || exit 1; done

.PHONY: bench
bench: ## Run the benchmarks (BENCH=regexp selects them); figures go in BENCHMARKS.md.
	@$(TOOLS_ENV) && $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem $(TEST_FLAGS) $(PKGS)

.PHONY: fuzz
# Minimizing each new input for up to a minute, go test's default, stalled
# FuzzParseValue at about 10 inputs a minute; bounded to 100 runs, it
# tries about 1,000 a second.
fuzz: ## Run each fuzz test for FUZZTIME (default 30s), minimizing inputs in FUZZMINIMIZETIME (default 100x).
	@$(GO) list -f '{{.ImportPath}} {{.Dir}}' $(PKGS) | while read -r pkg dir; do \
		for fuzz in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | cut -d' ' -f2); do \
			echo "$$pkg $$fuzz"; \
			$(GO) test -run '^$$' -fuzz "^$$fuzz$$" -fuzztime $${FUZZTIME:-30s} \
				-fuzzminimizetime $${FUZZMINIMIZETIME:-100x} $$pkg; \
		done; \
	done

.PHONY: lint
lint: ## Check formatting and run go vet on every module.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [[ -n $$unformatted ]]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	@# The tool modules that only pin a binary have no packages to vet.
	@for mod in hack/tools/*/ $(TEST_MODULES); do \
		if compgen -G "$$mod/*.go" > /dev/null; then (cd $$mod && $(GO) vet ./...); fi; \
	done

.PHONY: chart-files
chart-files: ## Copy the alert rules and the dashboard from dashboards/ into the chart.
	cp $(CHART_FILES) $(CHART)/files/

.PHONY: manifests
manifests: chart-files ## Render deploy/meshcert.yaml from the chart, for kubectl apply.
	@$(TOOLS_ENV) && hack/render-manifest.sh > $(MANIFEST).tmp && mv $(MANIFEST).tmp $(MANIFEST)

.PHONY: check-manifests
check-manifests: ## Fail when the chart's copied files or deploy/meshcert.yaml are out of date.
	@for f in $(CHART_FILES); do \
		diff -u $$f $(CHART)/files/$$(basename $$f) || { echo "$(CHART)/files is out of date: run 'make manifests'" >&2; exit 1; }; \
	done
	@$(TOOLS_ENV) && hack/render-manifest.sh | diff -u $(MANIFEST) - || { echo "$(MANIFEST) is out of date: run 'make manifests'" >&2; exit 1; }

.PHONY: image
image: ## Build the linux/amd64 and linux/arm64 image into dist/image/ (OCI layout and docker archives).
	$(RELEASE_TOOL) image $(RELEASE_FLAGS) -repository $(IMAGE_REPOSITORY) -out $(CURDIR)/$(DIST)/image

.PHONY: release
release: ## Build the CLI archives, checksums.txt and the krew manifest into dist/release/.
	$(RELEASE_TOOL) release $(RELEASE_FLAGS) -out $(CURDIR)/$(DIST)/release

.PHONY: demo
demo: ## Run the whole system on two local control planes and walk through an operator's day.
	@$(TOOLS_ENV) && $(GO) build -o $(BIN)/ ./cmd/... && \
	(cd hack/alerteval && $(GO) build -o $(CURDIR)/$(BIN)/ .) && \
	$(BIN)/meshcert demo

.PHONY: clean
clean: ## Remove bin/ and dist/. The tool cache in ~/.cache/meshcert is kept.
	rm -rf $(BIN) $(DIST)
