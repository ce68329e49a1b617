# `make run` starts a demo instance; `make test` runs every check (see README.md).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
ARGS ?=

.PHONY: run test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installed again only when pyproject.toml changes.
$(VENV)/.patron-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.patron-dev-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[dev]'
	touch $@

## run: install patron, create the demo org (once) and serve the API
# The demo's database and credentials live in the checkout's var/ (README), unless
# PATRON_DATA_DIR (or PATRON_DATABASE_URL) says otherwise.
run: export PATRON_DATA_DIR ?= $(CURDIR)/var
run: $(VENV)/.patron-installed
	$(BIN)/patron demo
	$(BIN)/patron serve

## test: ruff, mypy and the whole test suite on SQLite and PostgreSQL (pytest options in ARGS)
test:
	scripts/test.sh $(ARGS)

## lint: ruff (rules and formatting) and mypy
lint: $(VENV)/.patron-dev-installed
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
