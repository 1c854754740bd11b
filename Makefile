# The two commands of the course (see README.md):
#   make course   set up a virtual environment and open the notebooks in Jupyter
#   make test     set up the same environment and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup course test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"

course: setup
	$(BIN)/python -m pip install --quiet jupyterlab
	$(BIN)/jupyter lab notebooks/

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 tests

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
