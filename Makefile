# The two commands of the course (see README.md):
#   make course   set up a virtual environment and open the notebooks in Jupyter
#   make test     set up the same environment and run the test suite (unit tests + every notebook)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Torch goes in first, by exact version: on the course machines that is a CPU wheel already on
# disk, elsewhere PyPI's. pyproject.toml only asks for a range; resolved on its own, a plain
# torch requirement pulls a multi-GB CUDA build on Linux. `make TORCH=` skips this step.
TORCH ?= torch==2.13.0
WORKERS ?= 2
NOTEBOOK_TIMEOUT ?= 600
NOTEBOOKS := $(wildcard notebooks/*.ipynb)
# Written after a successful install; redone when pyproject.toml changes.
INSTALLED := $(VENV)/.kart-rl-installed

.PHONY: setup course test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	@if [ -n "$(TORCH)" ] && ! $(BIN)/python -c "import torch" 2>/dev/null; then \
		echo "installing $(TORCH)"; \
		$(BIN)/python -m pip install --quiet "$(TORCH)" || echo "$(TORCH) not available here; pip will choose a torch"; \
	fi
	$(BIN)/python -m pip install --quiet -e ".[dev,ray]"
	@touch $@

setup: $(INSTALLED)

course: setup
	@$(BIN)/python -c "import jupyterlab" 2>/dev/null || $(BIN)/python -m pip install --quiet jupyterlab
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# ruff, then mypy over kart_helpers ([tool.mypy] in pyproject.toml), then one pytest run: the unit
# tests and every notebook (nbmake executes each .ipynb top to bottom).
# CI exports KART_SMOKE=1 so the notebooks take their short paths.
test: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(WORKERS) tests \
		$(if $(NOTEBOOKS),--nbmake --nbmake-timeout=$(NOTEBOOK_TIMEOUT) $(NOTEBOOKS))

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy
