# Quick start: `make demo` runs the whole job on the example service; `make test` runs the tests.
# Both make their own virtual environment in .venv, so only Python 3.10+ and make are needed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Four workers on two cores: the tests wait on servers, subprocesses and deadlines more than
# they compute (about 1.5 cores busy at -n 4), so -n 4 took 2 min 31 s where -n 2 took
# 3 min 47 s (docs/benchmarks.md, "The test suite").
PYTEST_WORKERS ?= 4

.PHONY: all venv test pytest lint type docs demo bench tox clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## test: the whole suite (pytest -n $(PYTEST_WORKERS)), then ruff, mypy --strict and the docs build (what CI runs)
test: pytest lint type docs

pytest: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check pytest_deployable tests examples bench

type: $(STAMP)
	$(BIN)/mypy --strict pytest_deployable

## docs: the documentation site in site/; --strict makes every warning (a broken link or
## anchor, a page missing from the nav) an error
# Not --quiet: it silences the warnings, and then --strict has nothing to count.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## demo: deploy the example service locally (good, then broken), gate it, verify production
demo: $(STAMP)
	$(BIN)/python examples/demo.py

## bench: benchmarks; prints ratios side by side
bench: $(STAMP)
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/failfast.py
	$(BIN)/python bench/eventually.py
	$(BIN)/python bench/hosts.py
	$(BIN)/python bench/contract.py
	$(BIN)/python bench/metrics.py
	$(BIN)/python bench/signing.py
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/serve.py

## tox: the Python version matrix plus lint and type
tox: $(STAMP)
	$(BIN)/tox

clean:
	rm -rf $(VENV) .tox .demo build site *.egg-info .mypy_cache .ruff_cache
