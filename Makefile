# One entry point for people and CI. Every target sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv lint browser test test-ray demo bench bench-search bench-s3 clean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,spark]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install arrowscope with its test and spark extras

lint: $(STAMP)  ## ruff check, ruff format --check, mypy on src/
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

browser:  ## Chromium for the browser tests (installed with apt-get when missing, as root)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Chromium for the browser tests (apt-get install -y chromium)"; \
	    apt-get update -qq && apt-get install -y -qq chromium; \
	  else \
	    echo "the browser tests need Chromium: run 'sudo apt-get install -y chromium' and 'make test' again" >&2; \
	    exit 1; \
	  fi; }

test: lint browser  ## lint, then the whole test suite (browser tests included)
	$(BIN)/python -m pytest -q

test-ray: $(STAMP)  ## install the ray extra, then run the tests marked ray (make test leaves them out)
	$(BIN)/python -m pip install -q -e '.[test,spark,ray]'
	$(BIN)/python -m pytest -q -m ray

DEMO_ARGS ?=
demo: $(STAMP)  ## run an example search into ./arrowscope-runs (DEMO_ARGS="--optimizer tpe")
	$(BIN)/arrowscope demo --dir arrowscope-runs $(DEMO_ARGS)

bench: $(STAMP)  ## side-by-side benchmarks against the peers (installs them into benchmarks/.venv-peers)
	bash benchmarks/setup_peers.sh
	$(BIN)/python benchmarks/run.py --out benchmarks/RESULTS.md
	$(BIN)/python benchmarks/bench_parallel.py --append benchmarks/RESULTS.md

bench-search: $(STAMP)  ## random, grid, TPE and CMA-ES side by side (benchmarks/RESULTS.md)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/bench_search.py --out benchmarks/RESULTS.md

bench-s3: $(STAMP)  ## arrowscope on a SeaweedFS S3 server next to local disk (benchmarks/RESULTS.md)
	$(BIN)/python benchmarks/bench_s3.py --out benchmarks/RESULTS.md

clean:  ## remove the virtualenv and demo output
	rm -rf $(VENV) arrowscope-runs .pytest_cache .mypy_cache .ruff_cache
