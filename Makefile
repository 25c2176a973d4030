GO ?= go
# staticcheck and other tools installed with go install
export PATH := $(PATH):$(shell $(GO) env GOPATH)/bin

.PHONY: test cluster services lint bench fuzz

# MODULES are the repository's Go modules: the library (.), the examples
# and the optional integrations, each with its own go.mod (go.work joins
# them for development).
MODULES := $(shell find . -name go.mod -not -path './.git/*' -printf '%h\n' | sort)

# test brings up the brokers and the Python peer, then runs every test of
# every module with the race detector. Tests that need a service fail when
# CI is set and the service is missing.
test: services
	@set -e; for m in $(MODULES); do \
		echo "== module $$m"; \
		(cd $$m && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 20m ./...); \
	done
	@# The call-path probe (internal/probe) built in, as the benchmarks use it.
	$(GO) vet -tags probe ./... && $(GO) test -tags probe -count=1 ./internal/probe/

# cluster runs the cluster tests (internal/clustertest, build tag cluster):
# a 3-node RabbitMQ cluster and a 3-server NATS cluster started on this
# machine, with nodes killed and restarted under load, Python
# oslo.messaging beside the Go services. About 7 minutes.
cluster: services
	$(GO) test -race -count=1 -tags cluster -timeout 40m -run 'ClusterFailover' -v ./internal/clustertest/

services:
	./.ci/services.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	@set -e; for m in $(MODULES); do \
		(cd $$m && $(GO) vet ./... && \
		if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed; skipped"; fi); \
	done
	@! git grep -n 'interface{}' -- '*.go' ':!*_test.go' || { echo "use any, not interface{}"; exit 1; }
	@! git grep -n 'time\.After(' -- '*.go' ':!*_test.go' ':!drivers/drivertest/*' || { echo "time.After leaks timers outside tests"; exit 1; }

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./client/ ./dispatcher/ ./transport/ ./internal/pyjson/

# fuzz runs each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$(for m in $(MODULES); do (cd $$m && $(GO) list ./...); done); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done
