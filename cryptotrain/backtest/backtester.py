"""`run`: backtest a run's predictions (or an external signal file), quietly, and write stats.json,
equity.csv, trades.csv and plots/equity.png, with buy-and-hold and persistence baselines side
by side, and in run mode the fitted baselines of evaluate (logistic regression "linear",
"lightgbm") whose actions predictions.csv carries. `trade` is the pure core: decisions on candles -> results and stats, no files.

Run mode: RUN_DIR (default runs/latest) -> RUN_DIR/eval/<split>/predictions.csv (`evaluate.score`
is run first when it is missing, or stale: see evaluate/provenance.py) -> targets by the policy
in policy.py -> RUN_DIR/backtest/<split>/ with the run config's settings, RUN_DIR/backtest/<split>-<the
settings that differ>/ with others (`--fee-bps 5`: backtest/test-fee5/), so that the run's own
backtest is never replaced by one with other settings.
Signals mode: signals=SIGNALS.csv, data=CANDLES -> <signals stem>_backtest/ beside the file.

Range: the candles from the first decision (prediction or signal) timestamp to one candle after
the last one, so that the last decision is filled at the next open and held to that candle's
close (when the candle file has no candle after it, that decision is not filled). Between
decisions the last target is kept. Settings: the run config's `backtest` section (defaults in
signals mode) updated with `overrides` (the command-line options).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from cryptotrain.backtest import policy
from cryptotrain.backtest.engine import BacktestResult, execute_targets, final_equity
from cryptotrain.backtest.risk import Rules, engine_args
from cryptotrain.backtest.signals import read_signals
from cryptotrain.backtest.run_outputs import write_outputs
from cryptotrain.backtest.stats import compute_stats
from cryptotrain.backtest.verdict import backtest_verdict
from cryptotrain.backtest.settings import backtest_settings, settings_dir_name
from cryptotrain.config import BacktestConfig, load_config
from cryptotrain.data.labels import round_trip_cost
from cryptotrain.data.ohlcv import load_ohlcv
from cryptotrain.evaluate.eval_data import calls_by_return
from cryptotrain.data.timestamps import candle_rows
from cryptotrain.dirlock import dir_lock
from cryptotrain.errors import UserError
from cryptotrain.outdir import check_target, output_unit
from cryptotrain.report.equity_figure import equity_png
from cryptotrain.report.figure_process import FigureProcess

if TYPE_CHECKING:
    from cryptotrain.evaluate.scorer import EvalResult

SPLITS = ("test", "val")
PRED_COLUMNS = ("timestamp", "pred_action", "confidence")
STRATEGIES = ("model", "buy_and_hold", "persistence")   # then, in run mode, the fitted baselines predictions.csv has


@dataclass
class BacktestReport:
    results: dict[str, BacktestResult]   # STRATEGIES -> engine result
    stats: dict[str, dict[str, Any]]     # STRATEGIES -> compute_stats
    settings: BacktestConfig
    timeframe: str
    title: str                           # what was traded, for headers
    header: str                          # "Model" or "Signals"
    out_dir: Path
    files: list[Path]
    verdict: dict[str, Any] | None = None  # verdict.backtest_verdict: returns before / after costs, trades


@dataclass(kw_only=True)
class _Decisions:
    candles: pd.DataFrame
    timeframe: str
    timeframe_ms: int
    rows: np.ndarray                     # (S,) candle row of each decision
    actions: np.ndarray                  # (S,) target exposure decided at that candle's close
    settings: BacktestConfig
    out_dir: Path
    title: str
    header: str
    provenance: dict | None
    baselines: dict[str, np.ndarray] | None = None   # fitted baseline -> (S,) target where it acts, NaN = keep
    horizon: int | None = None           # label horizon of the predictions traded (run mode)
    redecide: Callable[[BacktestConfig], np.ndarray] | None = None   # `actions` under other settings (a grid)


def run(run_dir: Path | None = None, split: str = "test", *, signals: Path | None = None, data: Path | None = None,
        out: Path | None = None, overrides: dict[str, Any] | None = None,
        on_message: Callable[[str, str], None] | None = None,
        on_scored: Callable[[EvalResult], None] | None = None) -> BacktestReport:
    """Backtest and write the outputs. on_message(level "info" | "warning", text) tells what the
    user should know; on_scored(result) follows each evaluation run first for fresh predictions."""
    # the figure's renderer imports matplotlib on another core while the candles load and trade
    with FigureProcess(equity_png) as figure:
        return with_decisions(lambda d: trade_and_write(d, out, figure), run_dir, split, signals=signals, data=data,
                              overrides=overrides, on_message=on_message, on_scored=on_scored)


def with_decisions(then: Callable[["_Decisions"], Any], run_dir: Path | None = None, split: str = "test", *,
                   signals: Path | None = None, data: Path | None = None, overrides: dict[str, Any] | None = None,
                   on_message=None, on_scored=None) -> Any:
    """then(the decisions of a run's predictions or of a signal file), in run mode under the run's lock."""
    say = on_message or (lambda level, text: None)
    overrides = overrides or {}
    if data is not None and signals is None:
        raise UserError("--data is only used with --signals; a run backtests the candle file of its config")
    if signals is not None:
        return then(_signals_mode(Path(signals), data, overrides))
    # run mode only: train and evaluate (their models, fitted baselines: ~0.1 s of imports)
    from cryptotrain.train.rundir import resolve_run

    if run_dir is None:
        run_dir = resolve_run(None)
        say("info", f"run {run_dir} (from runs/latest; pass --run RUN_DIR for another)")
    run_dir = resolve_run(run_dir)
    with dir_lock(run_dir, "backtest"):   # it may run evaluate, and writes backtest/ into the run
        return then(_run_mode(run_dir, split, overrides, say, on_scored or (lambda result: None)))


def trade_and_write(d: "_Decisions", out: Path | None = None, figure: FigureProcess | None = None) -> BacktestReport:
    """Trade the decisions with their baselines, read the result (verdict.py) and write the outputs as
    one unit (outdir.py): into the default directory, which the command owns, or into `out`, which
    must be new, empty or an earlier backtest's. Run mode, signals mode and the stitched walk-forward
    all end here. `figure`: a FigureProcess(equity_png) started early, or None (drawn in this process)."""
    out_dir = Path(out) if out is not None else d.out_dir
    how = dict(option="--out" if out is not None else "the output directory")
    check_target(out_dir, **how)   # before the work, so a refused --out costs nothing
    results, stats = trade(d.candles, d.timeframe_ms, d.rows, d.actions, d.settings, d.baselines)
    verdict = backtest_verdict(stats, results, d.settings, horizon=d.horizon)
    with output_unit(out_dir, "backtest", **how) as tmp:
        files = write_outputs(tmp, results, stats, d.settings, d.title, d.provenance, verdict=verdict,
                              header=d.header, figure=figure)
    files = [out_dir / f.relative_to(tmp) for f in files]
    return BacktestReport(results, stats, d.settings, d.timeframe, d.title, d.header, out_dir, files, verdict)


def trade(candles: pd.DataFrame, timeframe_ms: int, rows: np.ndarray, actions: np.ndarray,
          bcfg: BacktestConfig, baselines: dict[str, np.ndarray] | None = None, only_model: bool = False,
          ) -> tuple[dict[str, BacktestResult], dict[str, dict[str, Any]]]:
    """Decisions (`actions` at candle `rows`), the two rule baselines and `baselines` (more decisions
    at the same rows, e.g. the fitted baselines', held as the model's) on candles rows[0]..rows[-1] + 1.

    Each strategy is also traded without costs (fee = slippage = 0), for "Return, no costs [%]".
    `only_model`: the model alone (a grid's combinations)."""
    lo, hi = int(rows[0]), min(int(rows[-1]) + 1, len(candles) - 1)   # candles lo..hi

    def held(decisions: np.ndarray) -> np.ndarray:
        raw = np.full(hi - lo + 1, np.nan)
        raw[rows - lo] = decisions
        return policy.apply_min_hold(policy.hold_forward(raw), bcfg.min_hold)

    targets = {
        "model": held(actions),
        "buy_and_hold": policy.buy_and_hold_targets(hi - lo + 1, bcfg),
        "persistence": policy.persistence_targets(candles["close"].to_numpy(), bcfg)[lo:hi + 1],
        **{name: held(a) for name, a in (baselines or {}).items()},
    }
    targets = {"model": targets["model"]} if only_model else targets
    # views of candles lo..hi, taken once for every run below
    ts, op, cl = (candles[k].to_numpy()[lo:hi + 1] for k in ("timestamp", "open", "close"))
    # the risk rules act on every strategy but buy and hold (the market's reference)
    risk = {} if (rules := Rules.of(bcfg)) is None else engine_args(
        rules, *(candles[k].to_numpy(dtype=np.float64) for k in ("high", "low", "close")), slice(lo, hi + 1))
    rules_of = {name: ({} if name == "buy_and_hold" else risk) for name in targets}
    results = {name: execute_targets(ts, op, cl, t, cash=bcfg.cash, fee_bps=bcfg.fee_bps,
                                     slippage_bps=bcfg.slippage_bps, timeframe_ms=timeframe_ms, **rules_of[name])
               for name, t in targets.items()}
    return results, {name: compute_stats(res, no_costs=final_equity(op, cl, targets[name], cash=bcfg.cash,
                                                                    fee_bps=0.0, slippage_bps=0.0, **rules_of[name]))
                     for name, res in results.items()}


def _run_mode(run_dir: Path, split: str, overrides: dict, say, on_scored) -> _Decisions:
    from cryptotrain.evaluate.provenance import describe

    if split not in SPLITS:
        raise UserError(f"--split {split!r}: use test or val")
    cfg = load_config(run_dir / "config.yaml")
    bcfg = backtest_settings(cfg.backtest, overrides)
    if calls_by_return(cfg.model):
        say("info", f"the action head was not trained (model.w_action = 0): the model trades the sign of its "
                    f"return forecast where |pred_return| > {1e4 * round_trip_cost(bcfg):g} bp, a round trip's "
                    "cost, and holds otherwise")
    elif cfg.model.w_confidence == 0 and (bcfg.threshold > 0 or bcfg.sizing == "confidence"):
        say("warning", "the confidence head was not trained (model.w_confidence = 0): "
                       "--threshold / --sizing confidence act on its untrained output")
    preds, prov = _predictions(run_dir, split, say, on_scored)
    title = f"{run_dir.name} ({split} split, predictions of the {describe(prov)})"
    return predictions_decisions(preds, cfg, bcfg, src=str(run_dir / "eval" / split / "predictions.csv"),
                                 out_dir=run_dir / "backtest" / settings_dir_name(split, cfg.backtest, bcfg),
                                 title=title, header="Model", provenance=prov)


def predictions_decisions(preds: pd.DataFrame, cfg, bcfg: BacktestConfig, *, src: str, out_dir: Path, title: str,
                          header: str, provenance: dict | None, flat_at: np.ndarray | None = None) -> "_Decisions":
    """The decisions of a predictions.csv frame (pred_action and confidence by the policy, and the
    fitted baselines' actions it carries) on the candles of `cfg`'s data file. `flat_at`: timestamps
    of candles where every strategy traded from the predictions goes flat instead of keeping its last
    target (the test period of a missing walk-forward fold). `src` names the frame in messages."""
    from cryptotrain.evaluate.scorer import BASELINE_ACTION_COLUMNS

    candles, report = load_ohlcv(cfg.data.path, timeframe=cfg.data.timeframe, gap_policy=cfg.data.gap_policy)
    candle_ts = candles["timestamp"].to_numpy()
    rows = _rows_of(preds["timestamp"].to_numpy(dtype=np.int64), candle_ts, src, cfg.data.path)
    actions = policy.prediction_actions(*policy.decisions_of(preds, cfg.model, bcfg), bcfg)
    baselines = {b: policy.baseline_actions(preds[col].to_numpy(), bcfg)
                 for b, col in BASELINE_ACTION_COLUMNS.items() if col in preds.columns}
    if flat_at is not None and len(flat_at):
        at = np.searchsorted(candle_ts, np.asarray(flat_at, dtype=np.int64))
        order = np.argsort(np.r_[rows, at], kind="stable")
        rows, actions = np.r_[rows, at][order], np.r_[actions, np.zeros(len(at))][order]
        baselines = {b: np.r_[a, np.zeros(len(at))][order] for b, a in baselines.items()}
    redecide = (lambda b: policy.prediction_actions(*policy.decisions_of(preds, cfg.model, b), b)) \
        if flat_at is None else None
    return _Decisions(candles=candles, timeframe=report.timeframe, timeframe_ms=report.timeframe_ms, rows=rows,
                      actions=actions, settings=bcfg, out_dir=out_dir, title=title, header=header,
                      provenance=provenance, baselines=baselines, horizon=cfg.labels.horizon, redecide=redecide)


def _signals_mode(signals: Path, data: Path | None, overrides: dict) -> _Decisions:
    if data is None:
        raise UserError("--signals needs --data CANDLES: the candle file whose candles the signals refer to")
    bcfg = backtest_settings(BacktestConfig(), overrides)
    candles, report = load_ohlcv(data)
    rows, position = read_signals(signals, candles["timestamp"].to_numpy())
    return _Decisions(candles=candles, timeframe=report.timeframe, timeframe_ms=report.timeframe_ms, rows=rows,
                      actions=policy.signal_actions(position, bcfg), settings=bcfg,
                      out_dir=signals.parent / f"{signals.stem}_backtest", title=signals.name, header="Signals",
                      provenance=None, redecide=lambda b: policy.signal_actions(position, b))


def _predictions(run_dir: Path, split: str, say, on_scored) -> tuple[pd.DataFrame, dict | None]:
    """predictions.csv of the split and its provenance, re-running evaluate when missing or stale."""
    from cryptotrain.evaluate.provenance import read_provenance, stale_reason
    from cryptotrain.evaluate.scorer import score

    eval_dir = run_dir / "eval" / split
    path = eval_dir / "predictions.csv"

    def evaluate(checkpoint: str, why: str) -> None:
        say("info", f"{why}: running evaluate on the {split} split ({checkpoint} checkpoint) first")
        on_scored(score(run_dir, split=split, checkpoint=checkpoint))

    if not path.is_file():
        evaluate("best", f"{path} not found")
    prov = read_provenance(eval_dir)
    why = stale_reason(run_dir, eval_dir, prov) if prov is not None else None
    if why is not None:
        evaluate(prov["checkpoint"], f"stale predictions: {why}")
        prov = read_provenance(eval_dir)
    elif prov is None:
        say("warning", f"{eval_dir}/metrics.json does not say which checkpoint made predictions.csv (older "
                       f"evaluate); re-run `cryptotrain evaluate --run {run_dir} --split {split}` to be sure it is current")
    if not path.is_file():
        raise UserError(f"{path} not found after evaluate; run `cryptotrain evaluate --run {run_dir} --split {split}`")
    df = pd.read_csv(path)
    missing = [c for c in PRED_COLUMNS if c not in df.columns]
    if missing or len(df) == 0:
        raise UserError(f"{path}: {'missing column(s) ' + ', '.join(missing) if missing else 'no rows'}; "
                        f"re-run `cryptotrain evaluate --run {run_dir} --split {split}`")
    return df, prov


def _rows_of(ts: np.ndarray, candle_ts: np.ndarray, src: str, data: str) -> np.ndarray:
    idx, absent = candle_rows(ts, candle_ts)
    if absent.any() or (np.diff(ts) <= 0).any():
        raise UserError(f"{src}: {int(absent.sum())} timestamp(s) not in {data} or not increasing; the predictions "
                        "were made on other candles (evaluate --data?): re-run evaluate on this run's data file")
    return idx
