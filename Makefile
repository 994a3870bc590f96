# Two commands set everything up on a fresh machine (Python >= 3.10 with venv):
#   make demo   run the example pipeline with real Airflow against the local emulator
#   make playground   the example DAGs in Airflow's UI against the emulator (Ctrl-C stops it)
#   make test   ruff, mypy, the docs and the whole test suite on every supported Airflow
#               release line (what CI runs: tools/test_matrix.sh)
# Each creates its own virtual environments. For a quicker loop while you work:
#   make quick            ruff and the unit tests on one Airflow version (a couple of minutes)
#   make test-version     everything on one version (AIRFLOW_VERSION, default 3.3.2)
#   make docs             the documentation site into docs/_build/html (warnings are errors)
#   make dist             the sdist and the wheel into dist/, checked with twine

PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
VENV ?= .venv-airflow-$(AIRFLOW_VERSION)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# pytest-xdist workers for the tests that do not start Airflow components: most of them wait on
# emulated time (lifecycles, dag.test), so more workers than cores still shortens the run. The
# system tests (real api-server, scheduler, triggerer, browser) run in one process, sharing
# components. Exit status 5 (nothing selected) is fine for either.
PYTEST_WORKERS ?= 3
# Installs compile every module to bytecode once (uv does not by default): where
# PYTHONDONTWRITEBYTECODE is set, as on some CI machines, every Airflow process, worker and CLI
# call otherwise compiled all it imported from source, each time (half of an import's CPU time)
UV_FLAGS ?= --quiet --compile-bytecode
# What `make system` collects (collecting the unit tests too would import them only to deselect
# them): `make system SYSTEM_TESTS=tests/system/test_browser.py` runs one module
SYSTEM_TESTS ?= tests/system
# Versions `make test` runs, lowest and newest supported release lines
AIRFLOW_VERSIONS ?= 3.0.6 3.3.2
SOURCES := airflow_provider_voicetraining metastudio_emulator dags tests benchmarks tools docs
# Browser tests drive Debian's chromium through Playwright (its own browser downloads are not
# reachable everywhere): `make` installs the package with apt-get when it is missing.
CHROMIUM ?= $(shell command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null)
# Airflow's published constraint files are not reachable from every CI machine; resolving
# Airflow's own dependency tree as it stood at (or after) the release (uv --exclude-newer)
# reproduces a compatible set. A newer tree breaks 3.0.6 (e.g. cadwyn 8 vs its execution API).
RESOLVE_DATE_3.0.6 := 2025-09-20
RESOLVE_DATE_3.3.2 := 2026-11-20
RESOLVE_DATE ?= $(RESOLVE_DATE_$(AIRFLOW_VERSION))

# `make demo` runs in a venv of its own holding Airflow, the provider and its emulator extra only
DEMO_VENV ?= .venv-demo-$(AIRFLOW_VERSION)
DEMO_STAMP := $(DEMO_VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed
# Sphinx options: warnings are errors (a broken reference or include fails the build)
SPHINXOPTS ?= -W --keep-going -q

.PHONY: demo playground playground-stop test test-version quick lint typecheck unit system bench clean venv chromium system-packages docs graphviz dist

# System packages the tests need, installed with apt-get when missing (root, or sudo). One
# helper for every such package: $(call ensure_package,CHECK,DEBIAN PACKAGE,WHAT FOR).
define ensure_package
	@if ! $(1) >/dev/null 2>&1; then \
	  echo "$(2) is missing ($(3)): installing the Debian package $(2) with apt-get ..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=none; fi; \
	  if [ "$$SUDO" = none ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "ERROR: cannot install $(2): no apt-get, or not root and no sudo. Install it by hand," \
	         "or leave the test that needs it out: PYTEST_ARGS=\"-m 'not production'\" SKIP_SYSTEM_PACKAGES=1"; \
	    exit 1; \
	  fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(2) >/dev/null 2>&1 \
	    || { $$SUDO apt-get update -q >/dev/null \
	         && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(2) >/dev/null; } \
	    || { echo "ERROR: apt-get could not install $(2) (see: apt-get install $(2))"; exit 1; }; \
	  $(1) >/dev/null 2>&1 || { echo "ERROR: $(2) installed, but the check '$(1)' still fails"; exit 1; }; \
	  echo "$(2) installed."; \
	fi
endef

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip uv
	@echo "Installing apache-airflow==$(AIRFLOW_VERSION) (dependencies as of $(or $(RESOLVE_DATE),today)) and the provider into $(VENV) ..."
	@$(BIN)/uv pip install $(UV_FLAGS) --python $(BIN)/python $(if $(RESOLVE_DATE),--exclude-newer $(RESOLVE_DATE)) \
	  "apache-airflow==$(AIRFLOW_VERSION)" apache-airflow-providers-openlineage apache-airflow-providers-celery
	@$(BIN)/uv pip install $(UV_FLAGS) --python $(BIN)/python -e ".[emulator]" --group dev "apache-airflow==$(AIRFLOW_VERSION)"
	@touch $(STAMP)

venv: $(STAMP)

# The demo's own venv: Airflow (its dependency tree as of its release), the provider and the
# emulator's extra; no test, lint or docs tool.
$(DEMO_STAMP): pyproject.toml Makefile
	@test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	@$(DEMO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade uv
	@echo "Installing apache-airflow==$(AIRFLOW_VERSION) and the provider with its emulator into $(DEMO_VENV) ..."
	@$(DEMO_VENV)/bin/uv pip install $(UV_FLAGS) --python $(DEMO_VENV)/bin/python $(if $(RESOLVE_DATE),--exclude-newer $(RESOLVE_DATE)) \
	  "apache-airflow==$(AIRFLOW_VERSION)"
	@$(DEMO_VENV)/bin/uv pip install $(UV_FLAGS) --python $(DEMO_VENV)/bin/python $(if $(RESOLVE_DATE),--exclude-newer $(RESOLVE_DATE)) \
	  -e ".[emulator]" "apache-airflow==$(AIRFLOW_VERSION)"
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(DEMO_VENV)/bin/python -m tools.demo

# Airflow's UI, components and the emulator on loopback; everything it writes is in .playground/
playground: $(STAMP)
	$(BIN)/python -m tools.playground

playground-stop:
	@$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -m tools.playground --stop

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(STAMP)
	$(BIN)/mypy

# The browser tests drive a chromium binary (CHROMIUM, or Debian's package, installed when missing).
chromium:
ifeq ($(CHROMIUM),)
	$(call ensure_package,{ command -v chromium || command -v chromium-browser; },chromium,the browser tests: tests/system/test_browser.py)
else
	@echo "Browser tests use $(CHROMIUM)"
endif

# The production-shape system test runs a private Redis and a private PostgreSQL server.
system-packages:
ifneq ($(SKIP_SYSTEM_PACKAGES),1)
	$(call ensure_package,command -v redis-server,redis-server,Celery broker of the production-shape test)
	$(call ensure_package,ls /usr/lib/postgresql/*/bin/initdb,postgresql,metadata database of the production-shape test)
endif

# Exit status 5 of pytest (no test selected, e.g. by PYTEST_ARGS) counts as success.
define pytest_ok
	@rc=0; $(1) || rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ] || exit $$rc
endef

unit: $(STAMP)
	$(call pytest_ok,$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) -m "not system" --ignore=tests/system $(PYTEST_ARGS))

system: $(STAMP) chromium system-packages
	$(call pytest_ok,CHROMIUM="$(or $(CHROMIUM),$$(command -v chromium || command -v chromium-browser))" \
	  $(BIN)/python -m pytest -q -m system $(SYSTEM_TESTS) $(PYTEST_ARGS))

test:
	@AIRFLOW_VERSIONS="$(AIRFLOW_VERSIONS)" bash tools/test_matrix.sh

test-version: lint typecheck unit system

quick: lint unit

# The docs draw their diagrams with Graphviz's dot (Debian's graphviz, installed when missing).
graphviz:
	$(call ensure_package,command -v dot,graphviz,the diagrams of the docs: make docs)

$(DOCS_STAMP): $(STAMP) pyproject.toml
	@$(BIN)/uv pip install $(UV_FLAGS) --python $(BIN)/python --group docs
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP) graphviz
	@rm -rf docs/_build
	$(BIN)/python -m sphinx -b html $(SPHINXOPTS) docs docs/_build/html
	@echo "Docs: docs/_build/html/index.html"

dist: $(STAMP)
	@rm -rf dist
	$(BIN)/python -m build --sdist --wheel --outdir dist . >/dev/null
	$(BIN)/twine check --strict dist/*
	@ls -l dist

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf .venv-airflow-* .venv-demo-* .demo .playground .test-artifacts .pytest_cache .mypy_cache .ruff_cache \
	  docs/_build dist build
