# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: install demo test test-fast lint format bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/promptpulse demo

test: install
	scripts/ensure-chromium
	scripts/ensure-postgres
	$(PY) -m pytest -n 2 -q

lint: install
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src/promptpulse
	$(PY) -m pytest -q -p no:cacheprovider tests/test_architecture.py

format: install
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

# Benchmarks print figures; they are run by hand, never by the tests (see each script's --help).
bench: install
	$(PY) -m bench.ingest
	$(PY) -m bench.query
	$(PY) -m bench.sdk_overhead

clean:
	rm -rf $(VENV) promptpulse-data test-artifacts .pytest_cache
