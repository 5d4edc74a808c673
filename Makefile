# make test installs what the tests need (Node.js for the jsforce check), checks formatting and
# vet, and runs every test. CI runs exactly this (see .ci/run).
GO      ?= go
GOFLAGS ?=
export CASEBOT_JSFORCE_DIR := $(CURDIR)/test/jsforce

.PHONY: all build test check deps demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o casebot .

demo:
	$(GO) run . demo

test: deps check
	$(GO) test $(GOFLAGS) -count=1 -timeout 14m ./...

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './test/jsforce/*')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Node.js and npm drive jsforce, a real Salesforce client, against the sandbox.
deps: test/jsforce/node_modules/.package-lock.json

test/jsforce/node_modules/.package-lock.json: test/jsforce/package.json test/jsforce/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm; \
	  else echo "make test needs Node.js and npm (apt-get install nodejs npm)"; exit 1; fi; }
	cd test/jsforce && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clean:
	rm -f casebot
	rm -rf test/jsforce/node_modules
