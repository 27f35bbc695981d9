# Two commands set everything up:  `make serve`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=

.PHONY: serve test lint typecheck unit install dev node bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# runtime dependencies only
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[speed]'
	touch $@

# runtime + test + lint + official SDKs
$(VENV)/.dev: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[speed,dev]'
	touch $@ $(VENV)/.installed

# the Node.js official clients used by the JS integration tests
tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.dev
node: tests/js/node_modules/.installed

## Start Tessera on the embedded defaults (state in ./tessera-data, port 9800).
serve: install
	$(VENV)/bin/tessera serve $(ARGS)

lint: dev
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples
	$(VENV)/bin/mypy

## Install everything (Python and Node), lint, type-check, run the whole suite.
test: dev node lint
	$(PY) -m pytest $(ARGS)

unit: dev
	$(PY) -m pytest tests/unit tests/contract $(ARGS)

$(VENV)/.bench: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[speed,dev,bench]'
	touch $@

## Benchmarks (bench/README.md); needs wrk (apt-get install wrk).
bench: $(VENV)/.bench
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) tests/js/node_modules .mypy_cache .ruff_cache .pytest_cache
