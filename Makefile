# The two set-up commands for a new user are `make demo` and `make test`: both create .venv themselves.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

LOCK   := requirements.lock

.PHONY: install lock test lint typecheck pytest demo bench bench-large schema clean

install: $(STAMP)

# Installs exactly the locked versions (hash-checked, build backend included), then the project itself.
# Re-installs only when the lock or the project metadata changes; a second `make install` is a no-op.
$(STAMP): $(LOCK) pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Deliberately refresh the lock to the newest versions the ranges in pyproject.toml allow.
lock: install
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra dev --generate-hashes \
		--python-version 3.11 --universal --upgrade --quiet -o $(LOCK)
	@echo "wrote $(LOCK); run 'make install test' before committing it"

lint: install
	$(BIN)/ruff check reconcile tests bench scripts
	$(BIN)/ruff format --check reconcile tests bench scripts
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .reconcile
