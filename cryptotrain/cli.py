"""The `cryptotrain` command line: one thin function per command.

Each command parses its options, builds the config and calls one library function. User
errors (`UserError`) become one line on stderr and exit code 2; `--debug` shows the traceback.
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from cryptotrain.errors import RunFailure, UserError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Fetch crypto candles, train NumPy GRU/LSTM-attention models, evaluate and backtest them.")
data_app = typer.Typer(no_args_is_help=True, help="Inspect candle files.")
app.add_typer(data_app, name="data")

_state = {"debug": False}

# Each command imports its library inside the function, for start-up time only (no cycle needs
# it): `cryptotrain --help` then loads no NumPy, pandas or matplotlib and stays about 0.15 s.


def _handles_errors(fn):
    """Turn UserError / RunFailure into one line on stderr and exit code 2 / 1 (traceback with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (UserError, RunFailure) as err:
            if _state["debug"]:
                raise
            Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {err}", soft_wrap=True)
            raise typer.Exit(err.exit_code) from None

    return wrapper


def _console() -> Console:
    # In logs and pipes, long lines stay whole instead of wrapping at 80 columns.
    return Console(highlight=False, soft_wrap=not sys.stdout.isatty())


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors.")) -> None:
    """Fetch crypto candles, train NumPy GRU/LSTM-attention models, evaluate and backtest them."""
    _state["debug"] = debug
    if not debug:  # warnings are one readable line, not a source location and a code line
        warnings.showwarning = _show_warning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    Console(stderr=True, highlight=False).print(f"[yellow]warning:[/] {message}", soft_wrap=True)


# ------------------------------------------------------------------------------ data
@data_app.command("inspect")
@_handles_errors
def data_inspect(
    path: Path = typer.Argument(..., help="Candle file: CSV, CSV.gz or Parquet."),
    timeframe: Optional[str] = typer.Option(None, help="Expected timeframe, e.g. 1h (inferred when omitted)."),
) -> None:
    """Load a candle file and print a summary: rows, range, timeframe, gaps, duplicates."""
    from cryptotrain.data.inspect import inspect_file

    inspect_file(path, timeframe=timeframe, console=_console())


# ----------------------------------------------------------------------------- fetch
@app.command()
@_handles_errors
def fetch(
    exchange: str = typer.Option("binance", help="Any ccxt exchange id with fetchOHLCV."),
    symbol: str = typer.Option("BTC/USDT", help="Market symbol, e.g. BTC/USDT."),
    timeframe: str = typer.Option("1h", help="Candle interval supported by the exchange."),
    since: Optional[str] = typer.Option(None, help="Start (UTC date or ISO datetime); default: end of the existing file."),
    until: Optional[str] = typer.Option(None, help="End (UTC date or ISO datetime), exclusive; default: now."),
    out: Optional[Path] = typer.Option(None, help="Output file; default data/<exchange>/<BASE>_<QUOTE>-<timeframe>.<format>."),
    format: str = typer.Option("parquet", "--format", help="parquet or csv."),
    exchange_config: Optional[Path] = typer.Option(None, help="YAML/JSON passed to the ccxt constructor; ${ENV} values are expanded."),
) -> None:
    """Download candles through ccxt: resumable, validated, never losing or duplicating a candle."""
    from cryptotrain.data.fetch import fetch_command

    fetch_command(exchange=exchange, symbol=symbol, timeframe=timeframe, since=since, until=until,
                  out=out, fmt=format, exchange_config=exchange_config, console=_console())


# ----------------------------------------------------------------------------- train
@app.command()
@_handles_errors
def train(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config, e.g. configs/gru_attention_1h.yaml."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: section.key=value (repeatable)."),
    run_name: Optional[str] = typer.Option(None, help="Suffix for the run directory name."),
    resume: Optional[Path] = typer.Option(None, help="Continue the run in this directory from checkpoints/last.npz."),
    overfit_batch: bool = typer.Option(False, "--overfit-batch", help="Sanity mode: train on one batch, loss should go to ~0."),
    allow_data_change: bool = typer.Option(False, "--allow-data-change", help="Resume even if the data file changed."),
) -> None:
    """Train a model from a config; writes a self-describing run directory under runs/."""
    from cryptotrain.config import load_config
    from cryptotrain.train.runner import train_command

    if resume is not None and (config is not None or set_):
        raise UserError("--resume continues a run with its stored config; drop --config/--set")
    if resume is None and config is None:
        raise UserError("train needs --config CONFIG, e.g. --config configs/tiny.yaml (or --resume RUN_DIR)")
    cfg = load_config(config, set_) if config is not None else None
    train_command(cfg, run_name=run_name, resume=resume, overfit_batch=overfit_batch,
                  allow_data_change=allow_data_change, console=_console())


# -------------------------------------------------------------------------- gradcheck
@app.command()
@_handles_errors
def gradcheck(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config whose model is checked."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: section.key=value."),
    tol: float = typer.Option(1e-6, help="Maximum relative error allowed."),
) -> None:
    """Check every parameter gradient of the configured model against central differences (float64)."""
    from cryptotrain.config import load_config
    from cryptotrain.models.gradcheck import gradcheck_command

    cfg = load_config(config, set_)
    ok = gradcheck_command(cfg, tol=tol, console=_console())
    if not ok:
        raise typer.Exit(1)


# -------------------------------------------------------------------------- evaluate
@app.command()
@_handles_errors
def evaluate(
    run: Optional[Path] = typer.Option(None, help="Run directory; default: runs/latest."),
    split: str = typer.Option("test", help="test or val (with --data also all: every labelled window of the file)."),
    checkpoint: str = typer.Option("best", help="best or last."),
    data: Optional[Path] = typer.Option(None, help="Score another candle file with the run's normalizer."),
    json_: bool = typer.Option(False, "--json", help="Print metrics as JSON instead of tables."),
) -> None:
    """Score a trained run on a split: metrics, baselines, bootstrap intervals, attention analysis."""
    from cryptotrain.evaluate.runner import evaluate_command

    evaluate_command(run=run, split=split, checkpoint=checkpoint, data=data, as_json=json_, console=_console())


# --------------------------------------------------------------------------- predict
@app.command()
@_handles_errors
def predict(
    run: Optional[Path] = typer.Option(None, help="Run directory; default: runs/latest."),
    checkpoint: str = typer.Option("best", help="best or last."),
    data: Optional[Path] = typer.Option(None, help="Candle file (same symbol and timeframe); default: the run's data.path."),
    at: Optional[str] = typer.Option(None, help="Decision candle (its open time, UTC) instead of the last closed one."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object instead of lines."),
    allow_stale: bool = typer.Option(False, "--allow-stale", help="Score the last candle even if newer ones are missing."),
) -> None:
    """Say what the run's model would do at the last closed candle: probabilities, action, target position."""
    from cryptotrain.predict import predict as predict_candle
    from cryptotrain.report.predict import print_prediction

    result = predict_candle(run, checkpoint=checkpoint, data=data, at=at, allow_stale=allow_stale).result
    print_prediction(result, _console(), as_json=json_)


# -------------------------------------------------------------------------- backtest
@app.command()
@_handles_errors
def backtest(
    run: Optional[Path] = typer.Option(None, help="Run directory; default: runs/latest."),
    split: str = typer.Option("test", help="test or val."),
    signals: Optional[Path] = typer.Option(None, help="External signals CSV (timestamp,position); needs --data."),
    data: Optional[Path] = typer.Option(None, help="Candle file for --signals."),
    out: Optional[Path] = typer.Option(None, help="Output directory for --signals (default: next to the signals file)."),
    fee_bps: Optional[float] = typer.Option(None, help="Fee on traded notional [bps] (config default 10)."),
    slippage_bps: Optional[float] = typer.Option(None, help="Slippage against the trader [bps] (config default 2)."),
    cash: Optional[float] = typer.Option(None, help="Starting cash [$] (config default 10000)."),
    mode: Optional[str] = typer.Option(None, help="long-only or long-short."),
    threshold: Optional[float] = typer.Option(None, help="Minimum confidence to act."),
    sizing: Optional[str] = typer.Option(None, help="fixed or confidence."),
    max_exposure: Optional[float] = typer.Option(None, help="Largest |position| as a fraction of equity."),
) -> None:
    """Trade a run's predictions (or an external signal file) with next-open fills, fees and slippage."""
    from cryptotrain.backtest.runner import backtest_command

    overrides = {k: v for k, v in dict(fee_bps=fee_bps, slippage_bps=slippage_bps, cash=cash, mode=mode,
                                       threshold=threshold, sizing=sizing, max_exposure=max_exposure).items()
                 if v is not None}
    backtest_command(run=run, split=split, signals=signals, data=data, out=out, overrides=overrides,
                     console=_console())


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
