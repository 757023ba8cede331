# Developer entry points for kafkabook. Run `make help` for the list.
#
# Everything runs from a project-local virtualenv (.venv) so that `make test` on a fresh clone,
# on CI or on a laptop, uses exactly the dependencies that pyproject.toml declares.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Re-run pip only when pyproject.toml changes: `make test` stays fast once installed.
STAMP := $(VENV)/.kafkabook-installed
# The oracle (real Apache Kafka), docker and browser suites have targets of their own.
PYTEST_MARKERS := not oracle and not docker and not browser
PYTEST_ARGS ?=
# jupyter refuses to run as root unless told; CI machines and containers run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help install lab test lint oracle-jars oracle conformance browser binder

help:
	@echo "make install   create .venv and install kafkabook with its test and lab extras (and kcat)"
	@echo "make lab       open the course (notebooks/) in JupyterLab on the bundled backend"
	@echo "make test      run the test suite (all but the oracle, docker and browser markers)"
	@echo "make lint      ruff check + ruff format --check"
	@echo "make oracle-jars  fetch Apache Kafka's jars with Maven into ~/.cache/kafkabook/oracle"
	@echo "make oracle    run the tests against a real 3-broker Apache Kafka (Java 17 + Maven)"
	@echo "make browser   the widgets in JupyterLab in headless Chromium (installs chromium, playwright)"
	@echo "make conformance  the bundled cluster against real Kafka, and Kafka's own tools against it"
	@echo "make binder    the course in a fresh venv built from binder/, as Binder builds it"

install: $(STAMP)
	@command -v kcat >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing kcat (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null; \
	  else \
	    echo "note: kcat is not installed; install it with 'sudo apt-get install kcat'"; \
	  fi; \
	}

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing kafkabook into $(VENV) (pip install -e '.[test,lab]')"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,lab]'
	@touch $@

lab: install
	KAFKABOOK_BACKEND=bundled $(BIN)/jupyter lab notebooks/ $(ALLOW_ROOT)

test: install
	$(BIN)/python -m pytest -m "$(PYTEST_MARKERS)" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/ruff format --check src tests benchmarks

oracle-jars:
	bash scripts/oracle-jars.sh

oracle: install oracle-jars
	$(BIN)/python -m pytest -m oracle tests/oracle $(PYTEST_ARGS)

conformance: install oracle-jars
	$(BIN)/python -m pytest -m oracle tests/conformance $(PYTEST_ARGS)

browser: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check playwright
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	$(BIN)/python -m pytest -m browser tests/browser $(PYTEST_ARGS)

# The course as Binder builds it: a fresh virtualenv from binder/requirements.txt, and every
# lesson run top to bottom in it (each under 3 minutes, kernel plus cluster under 1.5 GiB).
# -rA prints each lesson's time and peak memory even when everything passes.
binder: install
	$(BIN)/python -m pytest -m course tests/course/test_binder.py -rA $(PYTEST_ARGS)
