# Every target creates .venv and installs what it needs: a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: help venv test lint demo clean

help:
	@echo "make demo   - record and print scored trajectories"
	@echo "make test   - run the test suite (asyncio and trio)"
	@echo "make lint   - ruff and mypy --strict"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/python examples/record_trajectory.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache
