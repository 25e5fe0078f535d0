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
from rich.markup import escape
from typer.core import TyperGroup

from cryptotrain.defaults import BACKTEST
from cryptotrain.errors import RunFailure, UserError


def _flag(default: bool, name: str, help: str):
    """An on/off flag: it takes no value, so its help shows none (Typer's default shows `<bool>`)."""
    return typer.Option(default, name, help=help, metavar="")


class _Group(TyperGroup):
    """--help is a flag like ours: its help shows no `<bool>` value either, for the group and for
    every command in it (the help option is made once per command and kept, so setting its
    metavar when the command is looked up is enough; new commands need nothing)."""

    def get_help_option(self, ctx):
        return _without_value(super().get_help_option(ctx))

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            _without_value(cmd.get_help_option(ctx))
        return cmd


def _without_value(opt):
    if opt is not None:
        opt.metavar = ""
    return opt


app = typer.Typer(add_completion=False, no_args_is_help=True, cls=_Group,
                  help="Fetch crypto candles, train NumPy GRU/LSTM-attention models, evaluate and backtest them.")
data_app = typer.Typer(no_args_is_help=True, cls=_Group, help="Inspect candle files.")
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
            _print_error(err)
            raise typer.Exit(err.exit_code) from None
        except OSError as err:
            from cryptotrain.fileio import os_error

            mapped = os_error(err)   # read-only or full file system: one line; any other OSError is a bug
            if mapped is None or _state["debug"]:
                raise
            _print_error(mapped)
            raise typer.Exit(mapped.exit_code) from None

    return wrapper


def _print_error(err: Exception) -> None:
    # escaped: a message quotes user text and commands such as `pip install -e ".[ray]"`, which rich
    # would otherwise read as markup and drop
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {escape(str(err))}", soft_wrap=True)


def _console() -> Console:
    # In logs and pipes, long lines stay whole instead of wrapping at 80 columns.
    return Console(highlight=False, soft_wrap=not sys.stdout.isatty())


def _print_version(value: bool) -> None:
    if value:
        from cryptotrain import __version__

        typer.echo(f"cryptotrain {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(debug: bool = _flag(False, "--debug", "Show full tracebacks for errors."),
          version: bool = typer.Option(False, "--version", metavar="", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Fetch crypto candles, train NumPy GRU/LSTM-attention models, evaluate and backtest them."""
    _state["debug"] = debug
    if not debug:  # warnings are one readable line, not a source location and a code line
        warnings.showwarning = _show_warning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    Console(stderr=True, highlight=False).print(f"[yellow]warning:[/] {escape(str(message))}", soft_wrap=True)


# ------------------------------------------------------------------------------ data
@data_app.command("inspect")
@_handles_errors
def data_inspect(
    path: Optional[Path] = typer.Argument(None, help="Candle file (CSV, CSV.gz or Parquet), or a folder of pair files."),
    timeframe: Optional[str] = typer.Option(None, help="Expected timeframe, e.g. 1h (inferred when omitted)."),
    config: Optional[Path] = typer.Option(None, help="A config with data.universe: one row per pair of it."),
) -> None:
    """Load a candle file and print a summary: rows, range, timeframe, gaps, duplicates. A folder of
    pair files (or --config with data.universe): one row per pair and the range every pair covers."""
    from cryptotrain.commands.data_inspect import inspect_data

    inspect_data(path, timeframe=timeframe, config=config, console=_console())


# ----------------------------------------------------------------------------- fetch
@app.command()
@_handles_errors
def fetch(
    exchange: str = typer.Option("binance", help="Any ccxt exchange id with fetchOHLCV."),
    symbol: str = typer.Option("BTC/USDT", help="Market symbol, e.g. BTC/USDT."),
    timeframe: str = typer.Option("1h", help="Candle interval supported by the exchange."),
    since: Optional[str] = typer.Option(None, help="Start (UTC date or ISO datetime); default: end of the existing file."),
    until: Optional[str] = typer.Option(None, help="End (UTC date or ISO datetime), exclusive; default: now."),
    out: Optional[Path] = typer.Option(None, help="Output file; default: under data/, named after exchange, symbol "
                                                  "and timeframe, e.g. data/binance/BTC_USDT-1h.parquet."),
    format: str = typer.Option("parquet", "--format", help="parquet or csv."),
    exchange_config: Optional[Path] = typer.Option(None, help="YAML/JSON passed to the ccxt constructor; ${ENV} values are expanded."),
    symbols: Optional[str] = typer.Option(None, help="Several pairs, comma-separated (BTC/USDT,ETH/USDT): one file each "
                                                     "in the folder --out (default data/<exchange>/)."),
    config: Optional[Path] = typer.Option(None, help="Fetch a config's data.universe into its data.dir (its exchange "
                                                     "and timeframe)."),
) -> None:
    """Download candles through ccxt: resumable, validated, never losing or duplicating a candle."""
    if symbols is not None or config is not None:
        from cryptotrain.commands.fetch_many import fetch_config, fetch_symbols

        if config is not None:
            fetch_config(config, since=since, until=until, fmt=format, exchange_config=exchange_config,
                         console=_console(), symbols_given=symbols is not None)
            return
        fetch_symbols(exchange=exchange, symbols=[s.strip() for s in symbols.split(",") if s.strip()],
                      timeframe=timeframe, since=since, until=until, out_dir=out or Path("data") / exchange, fmt=format,
                      exchange_config=exchange_config, console=_console())
        return
    from cryptotrain.commands.fetch import fetch_command

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
    overfit_batch: bool = _flag(False, "--overfit-batch", "Sanity mode: train on one batch, loss should go to ~0."),
    allow_data_change: bool = _flag(False, "--allow-data-change", "Resume even if the data file changed."),
) -> None:
    """Train a model from a config; writes a self-describing run directory under runs/."""
    from cryptotrain.config import load_config
    from cryptotrain.commands.train import train_command

    if resume is not None and (config is not None or set_):
        raise UserError("--resume continues a run with its stored config; drop --config/--set")
    if resume is None and config is None:
        raise UserError("train needs --config CONFIG, e.g. --config configs/tiny.yaml (or --resume RUN_DIR)")
    cfg = load_config(config, set_) if config is not None else None
    train_command(cfg, run_name=run_name, resume=resume, overfit_batch=overfit_batch,
                  allow_data_change=allow_data_change, console=_console())


# ----------------------------------------------------------------------------- sweep
@app.command()
@_handles_errors
def sweep(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config the search starts from."),
    space: Path = typer.Option(..., "--space", help="YAML search space: dotted config keys -> distributions."),
    set_: list[str] = typer.Option([], "--set", help="Override a base config value: section.key=value."),
    trials: int = typer.Option(20, help="Trials in the sweep in all (a rerun continues up to this number)."),
    workers: int = typer.Option(1, help="Trials at once: 1 in this process, N on a local Ray."),
    address: Optional[str] = typer.Option(None, help="Ray cluster to run on: auto or HOST:PORT."),
    run_name: Optional[str] = typer.Option(None, help="Sweep directory under runs/ (default sweep-<config>)."),
    objective: str = typer.Option("val_loss", help="val_loss (minimized), val_sharpe (maximized); a universe config: "
                                   "val_ic or val_portfolio_sharpe (maximized)."),
    storage: Optional[str] = typer.Option(None, help="Optuna RDB URL (default: a journal file in the sweep dir)."),
    pruner: str = typer.Option("median", help="median, halving or none."),
    warmup: int = typer.Option(2, help="Epochs a trial runs before it may be pruned."),
) -> None:
    """Search configurations with Optuna on the validation split; the best is tested once, with its DSR."""
    from cryptotrain.config import load_config
    from cryptotrain.orchestration.sweep.search import SweepSettings
    from cryptotrain.commands.sweep import sweep_command

    cfg = load_config(config, set_)
    settings = SweepSettings(trials=trials, workers=workers, address=address, objective=objective,
                             storage=storage, pruner=pruner, warmup=warmup)
    sweep_command(cfg, config, space, settings, run_name=run_name, console=_console())


# --------------------------------------------------------------------------- control
@app.command()
@_handles_errors
def control(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config whose whole pipeline is tested."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: section.key=value."),
    strengths: str = typer.Option("0,0.1,0.2,0.3", help="Planted drifts, in sigmas per candle (0 = noise)."),
    seeds: int = typer.Option(3, help="Seeds per strength (data and training)."),
    family: str = typer.Option("trend", help="Planted signal: trend or reversion."),
    workers: int = typer.Option(1, help="Cells at once: 1 in this process, N on a local Ray."),
    run_name: Optional[str] = typer.Option(None, help="Directory under runs/ (default control-<config>-<family>)."),
    as_json: bool = _flag(False, "--json", "Print the power table as JSON."),
) -> None:
    """Positive and negative controls: would this setup find a planted edge of each strength, and would it pay?"""
    from cryptotrain.config import load_config
    from cryptotrain.commands.control import control_command
    from cryptotrain.orchestration.control.run import ControlSettings

    try:
        ks = tuple(float(k) for k in strengths.split(","))
    except ValueError:
        raise UserError(f"--strengths {strengths!r}: give numbers separated by commas, e.g. 0,0.1,0.2,0.3") from None
    cfg = load_config(config, set_)
    control_command(cfg, config, ControlSettings(family=family, strengths=ks, seeds=seeds, workers=workers),
                    run_name=run_name, as_json=as_json, console=_console())


# -------------------------------------------------------------------------- gradcheck
@app.command()
@_handles_errors
def gradcheck(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config whose model is checked."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: section.key=value."),
    tol: float = typer.Option(1e-6, help="Maximum relative error allowed."),
) -> None:
    """Check every parameter gradient of the configured model against central differences (float64)."""
    if not 0 < tol < 1:  # also refuses nan, which no error is ever below
        raise UserError(f"--tol {tol:g}: the tolerance must be a relative error in (0, 1), e.g. --tol 1e-6")
    from cryptotrain.config import load_config
    from cryptotrain.commands.gradcheck import gradcheck_command

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
    data: Optional[Path] = typer.Option(None, help="Score another candle file with the run's normalizer; "
                                                   "default: the run's own data.path."),
    data_dir: Optional[Path] = typer.Option(None, help="A universe run: score it on this folder holding every pair's "
                                                       "candle file (BTC_USDT-1h.csv.gz, ...)."),
    json_: bool = _flag(False, "--json", "Print metrics as JSON instead of tables."),
    importance: Optional[str] = typer.Option(None, help="Permutation importance on the val split: features or groups."),
    importance_repeats: int = typer.Option(5, help="Seeded permutations per feature (or group) for --importance."),
) -> None:
    """Score a trained run on a split: metrics, baselines, bootstrap intervals, attention analysis."""
    from cryptotrain.commands.evaluate import evaluate_command

    evaluate_command(run=run, split=split, checkpoint=checkpoint, data=data, as_json=json_, console=_console(),
                     importance=importance, importance_repeats=importance_repeats, data_dir=data_dir)


# --------------------------------------------------------------------------- predict
@app.command()
@_handles_errors
def predict(
    run: Optional[Path] = typer.Option(None, help="Run directory; default: runs/latest."),
    checkpoint: str = typer.Option("best", help="best or last."),
    data: Optional[Path] = typer.Option(None, help="Candle file (same symbol and timeframe); default: the run's data.path."),
    at: Optional[str] = typer.Option(None, help="Decision candle (its open time, UTC) instead of the last closed one."),
    json_: bool = _flag(False, "--json", "Print one JSON object instead of lines."),
    allow_stale: bool = _flag(False, "--allow-stale", "Score the last candle even if newer ones are missing."),
    data_dir: Optional[Path] = typer.Option(None, help="Universe run: folder of its pairs' candle files; default: "
                                                       "the run's data.dir / data.paths."),
    holdings: Optional[Path] = typer.Option(None, help="Universe run: units held per pair, CSV symbol,units or "
                                                       "JSON {symbol: units}; default: none (all cash)."),
    cash: Optional[float] = typer.Option(None, help="Universe run: cash besides the holdings, in $; default: the "
                                                    "run's backtest.cash."),
    set_: list[str] = typer.Option([], "--set", help="Universe run: a backtest setting instead of the run's, "
                                                     "backtest.key=value (repeatable), e.g. backtest.policy=topk."),
) -> None:
    """Say what the run's model would do at the last closed candle: probabilities, action, target position;
    for a universe run every pair ranked, the policy's target weights and the orders from the holdings."""
    from cryptotrain.backtest.settings import set_overrides
    from cryptotrain.commands.predict import predict_command

    predict_command(run, checkpoint=checkpoint, data=data, at=at, allow_stale=allow_stale, as_json=json_,
                    console=_console(), data_dir=data_dir, holdings=holdings, cash=cash,
                    overrides=set_overrides(set_) if set_ else None)


# -------------------------------------------------------------------------- backtest
def _bt_help(text: str, key: str) -> str:
    default = BACKTEST[key]   # BacktestConfig's defaults, readable without loading pydantic
    shown = "none" if default is None else default if isinstance(default, str) else format(default, "g")
    return f"{text}. Default: the run config's backtest.{key} (unset: {shown})."


@app.command()
@_handles_errors
def backtest(
    run: Optional[Path] = typer.Option(None, help="Run directory; default: runs/latest."),
    split: str = typer.Option("test", help="test or val."),
    signals: Optional[Path] = typer.Option(None, help="External signals CSV (timestamp,position); needs --data."),
    data: Optional[Path] = typer.Option(None, help="Candle file for --signals."),
    out: Optional[Path] = typer.Option(None, help="Output directory, in both modes; default with --run: "
                                                  "RUN/backtest/SPLIT/ for the run config's settings, "
                                                  "RUN/backtest/SPLIT-<settings that differ>/ for others "
                                                  "(e.g. test-fee5); with --signals: SIGNALS_backtest/ "
                                                  "beside the signals file."),
    fee_bps: Optional[float] = typer.Option(None, help=_bt_help("Fee on traded notional, in bps", "fee_bps")),
    slippage_bps: Optional[float] = typer.Option(None, help=_bt_help("Slippage against the trader, in bps",
                                                                     "slippage_bps")),
    cash: Optional[float] = typer.Option(None, help=_bt_help("Starting cash in $", "cash")),
    mode: Optional[str] = typer.Option(None, help=_bt_help("long-only or long-short", "mode")),
    threshold: Optional[float] = typer.Option(None, help=_bt_help("Minimum confidence to act", "threshold")),
    sizing: Optional[str] = typer.Option(None, help=_bt_help("fixed or confidence", "sizing")),
    max_exposure: Optional[float] = typer.Option(None, help=_bt_help("Largest |position| as a fraction of equity",
                                                                     "max_exposure")),
    min_hold: Optional[int] = typer.Option(None, help=_bt_help("Candles a position is kept before it may change",
                                                               "min_hold")),
    weights: Optional[Path] = typer.Option(None, help="Portfolio: target weights CSV (timestamp,symbol,weight, or "
                                                      "one column per pair); needs --data-dir."),
    data_dir: Optional[Path] = typer.Option(None, help="Directory of candle files SYMBOL-TIMEFRAME.csv.gz for --weights."),
    timeframe: Optional[str] = typer.Option(None, help="Candle timeframe for --weights when --data-dir holds several."),
    allow_leverage: bool = _flag(False, "--allow-leverage", "Let --weights exceed the gross cap (the cap is raised "
                                                            "to the file's largest gross)."),
    gross: Optional[float] = typer.Option(None, help=_bt_help("Portfolio: cap on the sum of |weights|", "gross")),
    rebalance: Optional[int] = typer.Option(None, help=_bt_help("Portfolio: trade held pairs back to target every N "
                                                                "candles, 0 = never", "rebalance")),
    target_vol: Optional[float] = typer.Option(None, help=_bt_help("Portfolio: annual volatility to scale the book "
                                                                   "to, 0 = off", "target_vol")),
    stop_loss: Optional[float] = typer.Option(None, help=_bt_help("Exit at this fraction below a long's entry "
                                                                  "(above a short's), inside the candle; 0 = off",
                                                                  "stop_loss")),
    take_profit: Optional[float] = typer.Option(None, help=_bt_help("Exit at this fraction above a long's entry, "
                                                                    "0 = off", "take_profit")),
    stop_loss_atr: Optional[float] = typer.Option(None, help=_bt_help("Stop at this many ATRs from the entry, 0 = off",
                                                                      "stop_loss_atr")),
    take_profit_atr: Optional[float] = typer.Option(None, help=_bt_help("Take profit at this many ATRs, 0 = off",
                                                                        "take_profit_atr")),
    atr_period: Optional[int] = typer.Option(None, help=_bt_help("Candles of the ATR of the *-atr rules",
                                                                 "atr_period")),
    trailing_stop: Optional[float] = typer.Option(None, help=_bt_help("Exit at this fraction below the best price "
                                                                      "since entry, 0 = off", "trailing_stop")),
    max_hold: Optional[int] = typer.Option(None, help=_bt_help("Exit at the open after this many candles held, "
                                                               "0 = off", "max_hold")),
    policy: Optional[str] = typer.Option(None, help=_bt_help("Universe run: independent, topk or proportional",
                                                             "policy")),
    k: Optional[int] = typer.Option(None, "--k", help=_bt_help("Universe run, topk: pairs long (and short)", "k")),
    n_drop: Optional[int] = typer.Option(None, help=_bt_help("Universe run, topk: most holdings replaced per "
                                                             "decision, none = k", "n_drop")),
    set_: list[str] = typer.Option([], "--set", help="Override a backtest setting: backtest.key=value (repeatable; "
                                                     "an option given too wins)."),
    grid: Optional[str] = typer.Option(None, help="Trade every combination of backtest settings on the same "
                                                  "decisions, e.g. \"rebalance=24,168 stop_loss=0,0.05\"; writes "
                                                  "grid.csv, grid_equity.csv, grid.json."),
    grid_sort: str = typer.Option("Sharpe Ratio", help="Statistic that orders the --grid table, highest first."),
    json_: bool = _flag(False, "--json", "With --grid: print grid.json's document instead of the table."),
) -> None:
    """Trade a run's predictions, an external signal file or a portfolio of weights (--weights) with next-open
    fills, fees and slippage; --grid tries combinations of settings."""
    from cryptotrain.commands.backtest import backtest_command

    from cryptotrain.backtest.settings import set_overrides

    overrides = set_overrides(set_) if set_ else {}
    overrides |= {key: v for key, v in dict(fee_bps=fee_bps, slippage_bps=slippage_bps, cash=cash, mode=mode,
                                           threshold=threshold, sizing=sizing, max_exposure=max_exposure,
                                           min_hold=min_hold, gross=gross, rebalance=rebalance,
                                           target_vol=target_vol, stop_loss=stop_loss, take_profit=take_profit,
                                           stop_loss_atr=stop_loss_atr, take_profit_atr=take_profit_atr,
                                           atr_period=atr_period, trailing_stop=trailing_stop, max_hold=max_hold,
                                           policy=policy, k=k, n_drop=n_drop).items()
                 if v is not None}
    if grid is not None or json_:
        from cryptotrain.commands.backtest import grid_command

        if grid is None:
            raise UserError("--json goes with --grid (a single backtest writes stats.json; read that)")
        grid_command(grid=grid, sort_by=grid_sort, as_json=json_, console=_console(), run_dir=run, split=split,
                     signals=signals, data=data, weights=weights, data_dir=data_dir, timeframe=timeframe,
                     allow_leverage=allow_leverage, out=out, overrides=overrides)
        return
    if weights is not None or data_dir is not None:
        from cryptotrain.commands.portfolio import portfolio_command

        portfolio_command(weights, data_dir, out, overrides, timeframe=timeframe, allow_leverage=allow_leverage,
                          console=_console())
        return
    backtest_command(run=run, split=split, signals=signals, data=data, out=out, overrides=overrides,
                     console=_console())


# ----------------------------------------------------------------------- walkforward
@app.command()
@_handles_errors
def walkforward(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config with a walkforward section."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: section.key=value (repeatable)."),
    run_name: Optional[str] = typer.Option(None, help="Directory runs/walkforward-NAME (default: the config's stem)."),
    workers: int = typer.Option(1, help="Folds at once; > 1 runs them as Ray tasks on a local Ray."),
    address: Optional[str] = typer.Option(None, help="Run the folds on an existing Ray cluster: auto or HOST:PORT."),
    blas_threads: Optional[int] = typer.Option(None, min=1, help="BLAS threads per fold (default 1 on Ray)."),
    force: bool = _flag(False, "--force", "Delete the directory's earlier results and start over."),
) -> None:
    """Retrain through time (folds), score each fold's test part, stitch, evaluate and backtest; resumes."""
    from cryptotrain.config import load_config
    from cryptotrain.commands.walkforward import walkforward_command, walkforward_dir

    cfg = load_config(config, set_)
    walkforward_command(cfg, walkforward_dir(cfg, config, run_name), workers=workers, address=address,
                        blas_threads=blas_threads, force=force, console=_console())


# ---------------------------------------------------------------------------- report
@app.command()
@_handles_errors
def report(
    target: Optional[Path] = typer.Argument(None, metavar="[RUN | WF_DIR | SWEEP_DIR]",
                                            help="Run (one pair or a universe), walk-forward, sweep or portfolio "
                                                 "backtest directory; default: runs/latest."),
    out: Optional[Path] = typer.Option(None, help="HTML file to write (default: report.html in the directory)."),
    split: str = typer.Option("test", help="test or val: the split of a run's evaluation and backtest."),
) -> None:
    """Write one self-contained HTML report (charts, tables, verdicts) that opens offline in a browser."""
    from cryptotrain.commands.report import report_command

    report_command(target, out, split, console=_console())


# ------------------------------------------------------------------------------ runs
runs_app = typer.Typer(cls=_Group, help="List, show and compare the runs in a runs directory (reads only).")
app.add_typer(runs_app, name="runs")
_RUNS_DIR = typer.Option(None, "--runs-dir", help="Directory holding the runs (train.runs_dir; default runs).")
_RUNS_JSON = _flag(False, "--json", "Print one JSON document instead of tables.")


def _runs_opts(ctx: typer.Context, runs_dir: Optional[Path], json_: bool) -> tuple[Path, bool]:
    """A subcommand's --runs-dir / --json, else the ones given before it (`runs --runs-dir X show RUN`)."""
    parent = (ctx.parent.obj if ctx.parent is not None else None) or {}
    return runs_dir or parent.get("runs_dir") or Path("runs"), json_ or parent.get("json", False)


@runs_app.callback(invoke_without_command=True)
@_handles_errors
def runs_root(ctx: typer.Context, runs_dir: Optional[Path] = _RUNS_DIR, json_: bool = _RUNS_JSON) -> None:
    """One row per run, newest first (the same as `runs list`)."""
    ctx.obj = {"runs_dir": runs_dir, "json": json_}
    if ctx.invoked_subcommand is None:
        runs_list(ctx, runs_dir=runs_dir, json_=json_)


@runs_app.command("list")
@_handles_errors
def runs_list(ctx: typer.Context, runs_dir: Optional[Path] = _RUNS_DIR, json_: bool = _RUNS_JSON) -> None:
    """One row per run: model, market, epochs, best val loss, test accuracy, backtest beside buy and hold."""
    from cryptotrain.commands.runs import list_command

    list_command(*_runs_opts(ctx, runs_dir, json_), console=_console())


@runs_app.command("show")
@_handles_errors
def runs_show(ctx: typer.Context,
              run: str = typer.Argument(..., help="Run directory, or a run name in --runs-dir, or latest."),
              runs_dir: Optional[Path] = _RUNS_DIR, json_: bool = _RUNS_JSON) -> None:
    """A run's config differences from the defaults, training summary, evaluation, backtest, figures."""
    from cryptotrain.commands.runs import show_command

    show_command(run, *_runs_opts(ctx, runs_dir, json_), console=_console())


@runs_app.command("compare")
@_handles_errors
def runs_compare(ctx: typer.Context,
                 runs: list[str] = typer.Argument(..., help="Two or more runs (directories or names in --runs-dir)."),
                 runs_dir: Optional[Path] = _RUNS_DIR, json_: bool = _RUNS_JSON) -> None:
    """Config keys that differ and the headline metrics side by side, the better value marked."""
    from cryptotrain.commands.runs import compare_command

    compare_command(runs, *_runs_opts(ctx, runs_dir, json_), console=_console())


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
