# Two commands set everything up on a fresh machine (Python >= 3.10 with venv):
#   make demo   run the example pipeline with real Airflow against the local emulator
#   make test   lint, type-check and run the whole test suite
# Each creates its own virtual environment. AIRFLOW_VERSION picks the Airflow release.

PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
VENV ?= .venv-airflow-$(AIRFLOW_VERSION)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck unit bench clean venv

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip uv
	@echo "Installing apache-airflow==$(AIRFLOW_VERSION) and the provider into $(VENV) ..."
	@$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[dev]" "apache-airflow==$(AIRFLOW_VERSION)" \
	  || $(BIN)/python -m pip install --quiet -e ".[dev]" "apache-airflow==$(AIRFLOW_VERSION)"
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m airflow_provider_voicetraining.demo

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_voicetraining dags tests benchmarks
	$(BIN)/ruff format --check airflow_provider_voicetraining dags tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf .venv-airflow-* .demo .test-artifacts .pytest_cache .mypy_cache .ruff_cache
