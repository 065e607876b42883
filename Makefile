# keepwatch. `make run` and `make test` work on a machine with only Node.js and npm:
# the pinned Bun is installed from the npm registry into .tools/ when no bun of that version is on PATH.
BUN_VERSION := 1.4.5
SYSTEM_BUN := $(shell command -v bun 2>/dev/null)
ifeq ($(SYSTEM_BUN),)
BUN := $(CURDIR)/.tools/node_modules/.bin/bun
else ifeq ($(shell bun --version 2>/dev/null),$(BUN_VERSION))
BUN := $(SYSTEM_BUN)
else
BUN := $(CURDIR)/.tools/node_modules/.bin/bun
endif

SRC := $(shell find src migrations migrations-pg -type f 2>/dev/null) package.json bun.lock
ARGS ?=

.PHONY: run test build build-arm64 bench typecheck migrations migrations-pg clean deps

$(CURDIR)/.tools/node_modules/.bin/bun:
	npm install --no-save --no-audit --no-fund --prefix $(CURDIR)/.tools bun@$(BUN_VERSION)
	@test -x $@ || { echo "bun $(BUN_VERSION) did not install into .tools" >&2; exit 1; }

node_modules/.installed: package.json bun.lock | $(BUN)
	$(BUN) install --frozen-lockfile
	@touch $@

deps: node_modules/.installed

dist/keepwatch: $(SRC) node_modules/.installed
	$(BUN) build src/main.ts src/ingest/writer-thread.ts src/db/checkpoint-thread.ts --compile --minify-syntax --minify-whitespace --outfile dist/keepwatch

build: dist/keepwatch

# linux-arm64 (edge boxes): cross-compiled with the arm64 Bun runtime of the same version, fetched
# from the npm registry (@oven/bun-linux-aarch64) instead of Bun's own download from GitHub.
# Not part of `make test` (the arm64 binary cannot run on this x64 machine).
ARM64_BUN := $(CURDIR)/.tools/arm64/package/bin/bun
$(ARM64_BUN):
	mkdir -p $(CURDIR)/.tools/arm64
	cd $(CURDIR)/.tools/arm64 && npm pack --silent @oven/bun-linux-aarch64@$(BUN_VERSION) && tar xzf oven-bun-linux-aarch64-$(BUN_VERSION).tgz
	@test -x $@ || { echo "the arm64 bun runtime did not unpack into .tools/arm64" >&2; exit 1; }

dist/keepwatch-linux-arm64: $(SRC) node_modules/.installed $(ARM64_BUN)
	$(BUN) build src/main.ts src/ingest/writer-thread.ts src/db/checkpoint-thread.ts --compile --minify-syntax --minify-whitespace \
	  --target=bun-linux-arm64 --compile-executable-path=$(ARM64_BUN) --outfile dist/keepwatch-linux-arm64

build-arm64: dist/keepwatch-linux-arm64

run: dist/keepwatch
	./dist/keepwatch serve $(ARGS)

typecheck: node_modules/.installed
	$(BUN) x tsc --noEmit

test: typecheck dist/keepwatch
	KEEPWATCH_BIN=$(CURDIR)/dist/keepwatch BUN=$(BUN) sh scripts/test.sh

bench: dist/keepwatch
	@command -v wrk >/dev/null || { echo "installing wrk (Debian package) for the load generator"; \
	  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 1; }; }
	KEEPWATCH_BIN=$(CURDIR)/dist/keepwatch $(BUN) test/bench/run.ts

# After changing src/db/schema.ts: generate a new migration (make migrations NAME=what_changed) and re-embed.
migrations: node_modules/.installed
	$(BUN) x drizzle-kit generate $(if $(NAME),--name $(NAME))
	$(BUN) scripts/embed-migrations.ts

# The PostgreSQL twin: after changing src/db/pg-schema.ts (make migrations-pg NAME=what_changed).
migrations-pg: node_modules/.installed
	$(BUN) x drizzle-kit generate --config drizzle-pg.config.ts $(if $(NAME),--name $(NAME))
	$(BUN) scripts/embed-migrations.ts

clean:
	rm -rf dist node_modules .tools
