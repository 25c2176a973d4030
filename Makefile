GO ?= go

.PHONY: test services lint bench fuzz

# test brings up the brokers and the Python peer, then runs every test with
# the race detector. Tests that need a service fail when CI is set and the
# service is missing.
test: services
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

services:
	./.ci/services.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed; skipped"; fi
	@! git grep -n 'interface{}' -- '*.go' ':!*_test.go' || { echo "use any, not interface{}"; exit 1; }
	@! git grep -n 'time\.After(' -- '*.go' ':!*_test.go' ':!drivers/drivertest/*' || { echo "time.After leaks timers outside tests"; exit 1; }

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./client/ ./dispatcher/ ./transport/ ./internal/pyjson/

# fuzz runs each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done
