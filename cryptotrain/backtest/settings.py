"""The settings of one backtest: the run's (or the default) backtest section with the command's
options and `--set backtest.KEY=VALUE` items, type-checked, and the directory name that keeps a
backtest with other settings apart from the run's own (backtest/test-fee5/)."""

from __future__ import annotations

from typing import Any

from cryptotrain.config import BacktestConfig, apply_overrides, validate_section
from cryptotrain.errors import UserError


def backtest_settings(base: BacktestConfig, overrides: dict[str, Any]) -> BacktestConfig:
    """`base` updated with command-line values, type-checked (a bad value names its option)."""
    return validate_section(BacktestConfig, {**base.model_dump(), **overrides}, "backtest", option=True)


def set_overrides(items: list[str]) -> dict[str, Any]:
    """`--set backtest.KEY=VALUE` items -> {KEY: value}, type-checked as `train --set` is (values read
    as YAML; an unknown key names the closest one). Only the backtest section: it is all a backtest uses."""
    raw = apply_overrides({}, items)
    other = next((k for k in raw if k != "backtest"), None)
    if other is not None:
        raise UserError(f"--set {other}.…: backtest takes backtest.KEY=VALUE only (e.g. --set backtest.gross=0.5); "
                        "other sections belong to train")
    given = raw.get("backtest", {})
    checked = validate_section(BacktestConfig, {**BacktestConfig().model_dump(), **given},
                               "--set " + " ".join(items), prefix="backtest")
    return {k: getattr(checked, k) for k in given}


# short names of the settings in a backtest directory's name (backtest/test-fee5-long-only/)
_SHORT = {"fee_bps": "fee{:g}", "slippage_bps": "slip{:g}", "cash": "cash{:g}", "mode": "{}",
          "threshold": "thr{:g}", "sizing": "{}", "max_exposure": "exp{:g}", "min_hold": "hold{}",
          "stop_loss": "sl{:g}", "take_profit": "tp{:g}", "stop_loss_atr": "slatr{:g}", "take_profit_atr": "tpatr{:g}",
          "trailing_stop": "trail{:g}", "max_hold": "maxhold{}", "atr_period": "atr{}",
          "policy": "{}", "k": "k{}", "n_drop": "drop{}"}


def settings_dir_name(split: str, base: BacktestConfig, bcfg: BacktestConfig) -> str:
    """`split` when `bcfg` is the run's own `base`, else split-<short names of the settings that differ>."""
    changed = [_SHORT.get(k, k + "{}").format(v) for k, v in bcfg.model_dump().items() if getattr(base, k) != v]
    return "-".join([split, *changed])
