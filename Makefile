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
	$(BIN)/cryptotrain report
	@echo
	@echo "Where to look: runs/latest names the demo's run; in runs/<run>/ eval/test/ holds metrics.json"
	@echo "and plots/ (what the model knows), backtest/test/ holds stats.json, trades.csv and plots/equity.png;"
	@echo "report.html shows it all in one page (open it in a browser; it needs no network)."
	@echo "What the numbers mean: evaluate's 'Edge:' line says whether the model knows the sign of moves,"
	@echo "only their size (hold vs move) or nothing its strongest baseline does not know (it names that"
	@echo "baseline and how many comparisons were counted). The backtest's last lines compare its"
	@echo "return before and after costs: when costs turn it negative, the model trades more often than"
	@echo "its edge pays for; the baselines show what holding or a naive rule made on the same candles."
	@echo "This installed the core only: walkforward and sweep with --workers N > 1 need the ray extra,"
	@echo "evaluate's LightGBM baseline the lightgbm extra: $(BIN)/python -m pip install -e \".[ray,lightgbm]\""

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

# About 13 minutes on the 2-core machine (README, Speed); every timing in a fresh process.
bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/backtest.py
	$(BIN)/python benchmarks/portfolio.py
	$(BIN)/python benchmarks/train_throughput.py --models gru_attention,lstm_attention --threads 1,2 --modes train,infer --rounds 3 --round-seconds 0.6
	$(BIN)/python benchmarks/train_throughput.py --models transformer --no-memory --rounds 3
	$(BIN)/python benchmarks/executor_overhead.py
	$(BIN)/python benchmarks/commands.py --repeats 3

clean-venv:
	rm -rf $(VENV)
