# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
VENV   := .venv
PY     := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-stamp
DEV    := $(VENV)/.dev-stamp
PYTHON ?= python3

.PHONY: install install-dev demo test test-fast lint format bench clean

# The product alone (what `make demo` needs, so a first look waits only for that)...
$(RUNTIME): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $(RUNTIME)

# ...and what the tests, linters and benches add to it.
$(DEV): $(RUNTIME)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(DEV)

install: $(RUNTIME)
install-dev: $(DEV)

demo: install
	$(VENV)/bin/promptpulse demo

# Three workers on two cores: many tests wait on servers, browsers and subprocesses, and a third
# worker fills those waits (11 min 50 s against 13 min 46 s with two, 2026-12-03).
test: install-dev
	scripts/ensure-chromium
	scripts/ensure-postgres
	PYTHON=$(PYTHON) scripts/instrumentation-env
	$(PY) -m pytest -n 3 -q

lint: install-dev
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src/promptpulse
	$(PY) -m pytest -q -p no:cacheprovider tests/test_architecture.py

format: install-dev
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

# Benchmarks print figures; they are run by hand, never by the tests (see each script's --help).
bench: install-dev
	$(PY) -m bench.ingest
	$(PY) -m bench.query
	$(PY) -m bench.sdk_overhead

clean:
	rm -rf $(VENV) .venv-instr .instr-node promptpulse-data test-artifacts .pytest_cache
