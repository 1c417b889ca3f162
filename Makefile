# Two commands set everything up from a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run demo test lint unit integration e2e bench fuzz build clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tollgate local

# A fresh local stack (state in .tollgate/demo/) seeded with three tenants, a month of usage,
# alerts and last month's invoices; prints the dashboard URL and the admin key. Ctrl-C stops it.
demo: $(STAMP)
	$(BIN)/tollgate demo --start

# The lint gate (also the first step of `make test`): the template, ruff's rules (complexity
# at most 10, exemptions named in place) and format, and mypy (strict where pyproject.toml says).
LINTED := shared dev functions tests bench
lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

# The whole suite on TEST_WORKERS processes (pytest-xdist; default: one per core). A file runs
# whole on one worker (--dist loadfile), so its module fixtures are built once; each worker
# starts its own local stack for the end-to-end tests. `make test TEST_WORKERS=0` runs serially.
TEST_WORKERS ?= auto
test: lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

e2e: $(STAMP)
	$(BIN)/python -m pytest -q tests/e2e

bench: $(STAMP)
	$(BIN)/python -m bench

fuzz: $(STAMP)
	TOLLGATE_FUZZ_EXAMPLES=$${TOLLGATE_FUZZ_EXAMPLES:-200} $(BIN)/python -m pytest -q tests/e2e/test_fuzz.py

clean:
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .aws-sam

# `sam build` in its own venv: aws-sam-cli pins boto3 and pydantic. Needs python3.13 on PATH.
SAM_VENV := .sam-venv
build:
	test -x $(SAM_VENV)/bin/sam || ($(PYTHON) -m venv $(SAM_VENV) && $(SAM_VENV)/bin/pip install --quiet aws-sam-cli)
	$(SAM_VENV)/bin/sam validate --lint
	$(SAM_VENV)/bin/sam build
