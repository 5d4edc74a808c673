# make test installs what the tests need (Node.js, the npm packages jsforce and soql-parser-js,
# Dovecot and PostgreSQL), checks formatting and vet, and runs every test under the race
# detector. CI runs exactly this (.ci/run).
GO      ?= go
GOFLAGS ?=
export CASEBOT_JSFORCE_DIR := $(CURDIR)/test/jsforce
export CASEBOT_SOQLJS_DIR := $(CURDIR)/test/soqljs

# Node packages the tests drive: jsforce (a real Salesforce client) and soql-parser-js (a
# reference SOQL parser).
NODE_DIRS := test/jsforce test/soqljs

.PHONY: all build test check deps dovecot postgres demo chaos bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o casebot .

demo:
	$(GO) run . demo

test: deps dovecot postgres check
	$(GO) test -race $(GOFLAGS) -count=1 -timeout 14m ./...

# make chaos runs the chaos harness at full size (test/chaos/README.md): the real binary over the
# shipped playbooks' whole timelines, SIGKILLed at least 30 times, and a run per kind of fault;
# it prints the report. make test runs a small version of it. SEED=n runs another seed.
SEED ?= 1
chaos:
	CASEBOT_CHAOS=large $(GO) test $(GOFLAGS) -count=1 -timeout 30m -v -run TestChaos ./test/chaos -seed $(SEED)

# make bench runs the benchmarks of the ledger and of a busy cycle against the sandbox
# (test/bench/README.md says how to read them).
bench:
	$(GO) test $(GOFLAGS) -run '^$$' -bench . -benchtime 1x ./connectors/sqlite ./connectors/postgres ./test/bench

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path '*/node_modules/*')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

deps: $(NODE_DIRS:%=%/node_modules/.package-lock.json)

%/node_modules/.package-lock.json: %/package.json %/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm; \
	  else echo "make test needs Node.js and npm (apt-get install nodejs npm)"; exit 1; fi; }
	cd $* && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Dovecot is the real IMAP server of the mail tests (connectors/imap/dovecot runs one per test).
# Installed when missing and running as root; otherwise those tests skip, except in CI.
DOVECOT_PKGS := dovecot-core dovecot-imapd
dovecot:
	@{ command -v dovecot || [ -x /usr/sbin/dovecot ]; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends $(DOVECOT_PKGS) || \
	      { apt-get update -qq && apt-get install -y -qq --no-install-recommends $(DOVECOT_PKGS); }; \
	  else echo "Dovecot is missing: the IMAP tests will skip (apt-get install $(DOVECOT_PKGS))"; fi; }

# PostgreSQL is the shared ledger's database (connectors/postgres/pgtest runs a private one per
# test, from Debian's /usr/lib/postgresql/<version>/bin). Installed when missing and running as
# root; otherwise those tests skip, except in CI.
POSTGRES_PKGS := postgresql
postgres:
	@{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends $(POSTGRES_PKGS) || \
	      { apt-get update -qq && apt-get install -y -qq --no-install-recommends $(POSTGRES_PKGS); }; \
	  else echo "PostgreSQL is missing: the PostgreSQL ledger tests will skip (apt-get install $(POSTGRES_PKGS))"; fi; }

clean:
	rm -f casebot
	rm -rf $(NODE_DIRS:%=%/node_modules)
