# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
# Both create (once) and reuse a local virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_CONFIG ?= configs/demo_1h.yaml

.PHONY: demo test venv bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files make the install step run again only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,torch,ray,lightgbm]"
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/cryptotrain train --config $(DEMO_CONFIG) --run-name demo
	$(BIN)/cryptotrain evaluate
	$(BIN)/cryptotrain backtest

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/backtest.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/executor_overhead.py

clean-venv:
	rm -rf $(VENV)
