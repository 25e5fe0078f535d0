"""One training run directory read into a plain dict, without changing a byte of it.

Sources, each optional (a missing or damaged one becomes a line in "problems", never an error):

    config.yaml                 the resolved config (planned epochs, model, market)
    checkpoints/last.npz        epochs done, early-stopping state, parameter count
                                (read with allow_pickle=False; only the arrays' sizes are used;
                                best.npz when a kill came between writing the two)
    metrics.jsonl               one JSON object per finished epoch (the training summary)
    eval/<name>/metrics.json    evaluate's headline numbers and baseline verdicts
    backtest/<split>/stats.json the backtest's return and Sharpe ratio beside buy and hold (and
                                backtest/<split>-<settings>/ the backtests with other settings)

An evaluation or backtest whose provenance no longer matches the run's checkpoint or
predictions.csv (evaluate/provenance.py: content hashes) is marked stale.

States: "complete" (every planned epoch), "stopped early" (patience ran out), "interrupted"
(fewer epochs than planned and no early stop: killed, or still training), "no checkpoint"
(no epoch finished yet), "damaged" (a checkpoint that cannot be read), "not a run" (none of
the files above).
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cryptotrain.config import Config, config_from_dict, config_to_dict
from cryptotrain.errors import UserError
from cryptotrain.evaluate.provenance import stale_reason
from cryptotrain.report.labels import advantage

BASELINES = ("majority", "persistence", "stratified")


def number(v: Any) -> float | int | None:
    """A finite int or float, else None (JSON null): NaN never reaches a table or --json."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v if isinstance(v, int) or math.isfinite(v) else None


def dig(doc: Any, *keys: str) -> Any:
    """doc[k1][k2]... or None when a level is missing or not a mapping."""
    for k in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(k)
    return doc


def read_json(path: Path, problems: list[str]) -> dict | None:
    """A JSON object file, or None with a problem line when it is missing-but-expected or invalid."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        problems.append(f"{path.name} is not valid JSON ({err.__class__.__name__}); re-run the command that wrote it")
        return None
    if not isinstance(doc, dict):
        problems.append(f"{path.name} is not a JSON object")
        return None
    return doc


def read_metrics_log(path: Path, problems: list[str]) -> list[dict]:
    """The epoch rows of metrics.jsonl; cut, invalid and non-object lines are skipped and reported."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")   # a bad byte spoils its line only
    except FileNotFoundError:
        return []
    except OSError as err:
        problems.append(f"metrics.jsonl cannot be read ({err})")
        return []
    rows = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            problems.append(f"metrics.jsonl line {i} is not valid JSON (cut off by a kill?); skipped")
            continue
        if not isinstance(row, dict) or not isinstance(row.get("epoch"), int):
            problems.append(f"metrics.jsonl line {i} is not an epoch record; skipped")
            continue
        rows.append(row)
    return rows


def read_config(run_dir: Path, problems: list[str]) -> tuple[Config | None, dict | None]:
    """(validated config or None, raw mapping or None) from config.yaml."""
    path = run_dir / "config.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        problems.append("config.yaml missing")
        return None, None
    except UnicodeDecodeError as err:
        problems.append(f"config.yaml is not UTF-8 text (byte {err.start}); restore it from the checkpoint's "
                        "stored config or retrain")
        return None, None
    except (OSError, yaml.YAMLError) as err:
        problems.append(f"config.yaml is not valid YAML ({err.__class__.__name__})")
        return None, None
    if not isinstance(raw, dict):
        problems.append("config.yaml is not a mapping")
        return None, None
    try:
        return config_from_dict(raw, "config.yaml"), raw
    except UserError as err:
        problems.append(f"config.yaml does not validate with this version ({err})")
        return None, raw


def read_checkpoint_summary(path: Path, problems: list[str]) -> dict | None:
    """Epoch, step, early-stopping state, stored config and parameter count of a checkpoint."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            n_params = sum(int(z[k].size) for k in z.files if k.startswith("param/"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        problems.append(f"checkpoints/{path.name} cannot be read ({err.__class__.__name__}); use the other "
                        "checkpoint or retrain")
        return None
    if not isinstance(meta, dict):
        problems.append(f"checkpoints/{path.name} has damaged metadata")
        return None
    return {"epoch": number(meta.get("epoch")), "global_step": number(meta.get("global_step")),
            "train_state": meta.get("train_state") if isinstance(meta.get("train_state"), dict) else {},
            "config_yaml": meta.get("config") if isinstance(meta.get("config"), str) else None,
            "params": n_params}


def evaluation_summary(doc: dict) -> dict:
    """Headline numbers of an eval/<name>/metrics.json, evaluate's edge claim (corrected for the
    comparisons) and, descriptive only, the baselines beaten beyond the uncorrected interval on some metric."""
    beats, worse = [], []
    for b, entry in (dig(doc, "bootstrap", "baselines") or {}).items():
        diff = dig(entry, "diff") or {}
        # the model's advantage per metric (lower is better for log loss and RMSE); unknown ends stay None
        ends = {m: (number(dig(d, "lo")), number(dig(d, "hi"))) for m, d in diff.items()}
        gains = [advantage(m, lo, hi) for m, (lo, hi) in ends.items() if lo is not None and hi is not None]
        if any(lo > 0 for lo, _ in gains):
            beats.append(b)
        if any(hi < 0 for _, hi in gains):
            worse.append(b)
    cls = dig(doc, "model", "classification") or {}
    return {"split": doc.get("split"), "checkpoint": doc.get("checkpoint"), "epoch": number(doc.get("epoch")),
            "n_windows": number(doc.get("n_windows")), "accuracy": number(cls.get("accuracy")),
            "balanced_accuracy": number(cls.get("balanced_accuracy")), "macro_f1": number(cls.get("macro_f1")),
            "log_loss": number(cls.get("log_loss")), "loss": number(dig(doc, "loss", "total")),
            "beats": beats, "worse_than": worse,
            # evaluate's corrected claim (evaluate/edge.py): sign, size or none; None before issue 25's rule
            "edge": dig(doc, "edge", "kind") if isinstance(dig(doc, "edge", "kind"), str) else None,
            "edge_sentence": dig(doc, "edge", "sentence") if isinstance(dig(doc, "edge", "sentence"), str) else None,
            "verdicts": {k: v for k, v in (doc.get("verdicts") or {}).items() if isinstance(v, str)},
            "warnings": [w for w in doc.get("warnings") or [] if isinstance(w, str)]}


def backtest_summary(doc: dict) -> dict:
    """Return, Sharpe and drawdown of the model beside buy and hold, from a stats.json (of a universe run: the
    portfolio beside BTC's buy and hold)."""
    def side(name: str) -> dict:
        s = doc.get(name) if isinstance(doc.get(name), dict) else {}
        return {"return_pct": number(s.get("Return [%]")), "sharpe": number(s.get("Sharpe Ratio")),
                "max_drawdown_pct": number(s.get("Max. Drawdown [%]")), "trades": number(s.get("# Trades"))}

    portfolio = "model" not in doc and "portfolio" in doc   # a universe run's (backtest/universe_backtest.py)
    return {"model": side("portfolio" if portfolio else "model"),
            "buy_and_hold": side("btc_buy_and_hold" if portfolio else "buy_and_hold"),
            "checkpoint": dig(doc, "predictions", "checkpoint"), "settings": doc.get("settings")}


def _sub_docs(root: Path, filename: str, problems: list[str]) -> dict[str, dict]:
    """{subdirectory name: JSON object} for root/*/filename, in name order."""
    out = {}
    if root.is_dir():
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            sub_problems: list[str] = []
            doc = read_json(sub / filename, sub_problems)
            problems.extend(f"{root.name}/{sub.name}/{p}" for p in sub_problems)
            if doc is not None:
                out[sub.name] = doc
    return out


def _stale(run_dir: Path, eval_dir: Path, prov: Any) -> str | None:
    """Why the predictions that an evaluation scored or a backtest traded are no longer the run's (None: current
    or unknown). Reads the checkpoint and predictions.csv to hash them; writes nothing."""
    if not isinstance(prov, dict) or not isinstance(prov.get("checkpoint"), str):
        return None
    try:
        return stale_reason(run_dir, eval_dir, prov)
    except OSError as err:
        return f"cannot be checked ({err.__class__.__name__})"


def training_summary(rows: list[dict]) -> dict:
    """What metrics.jsonl says: epochs logged, first and last losses, best validation epoch, time."""
    if not rows:
        return {"epochs_logged": 0}
    vals = [(number(r.get("val_loss")), r["epoch"]) for r in rows]
    vals = [(v, e) for v, e in vals if v is not None]
    best = min(vals) if vals else (None, None)
    times = [number(r.get("time_s")) for r in rows]
    return {"epochs_logged": len(rows), "first_train_loss": number(rows[0].get("train_loss")),
            "last_train_loss": number(rows[-1].get("train_loss")), "last_val_loss": number(rows[-1].get("val_loss")),
            "last_val_accuracy": number(rows[-1].get("val_accuracy")), "best_val_loss": best[0],
            "best_epoch": best[1], "train_time_s": sum(t for t in times if t is not None),
            "steps": number(rows[-1].get("step"))}


def run_state(ck: dict | None, planned: int | None, patience: int | None, damaged: bool) -> str:
    if ck is None:
        return "damaged" if damaged else "no checkpoint"
    done, bad = ck["epoch"] or 0, number(ck["train_state"].get("bad_epochs")) or 0
    if planned is not None and done >= planned:
        return "complete"
    if patience is not None and bad >= patience:
        return "stopped early"
    return "interrupted"


def read_run(run_dir: Path) -> dict:
    """Everything `runs list/show/compare` say about one training run directory."""
    problems: list[str] = []
    cfg, raw = read_config(run_dir, problems)
    ck_path = run_dir / "checkpoints" / "last.npz"
    ck = read_checkpoint_summary(ck_path, problems)
    best_path = run_dir / "checkpoints" / "best.npz"
    if not ck_path.exists() and best_path.is_file():   # killed between saving best.npz and last.npz
        ck = read_checkpoint_summary(best_path, problems)
        problems.append("checkpoints/last.npz missing; epochs read from best.npz")
    if cfg is None and ck is not None and ck["config_yaml"]:
        try:   # the checkpoint stores the resolved config: enough to describe the run
            cfg = config_from_dict(yaml.safe_load(ck["config_yaml"]), "checkpoint config")
            problems.append("config taken from checkpoints/last.npz")
        except (UserError, yaml.YAMLError):
            pass
    rows = read_metrics_log(run_dir / "metrics.jsonl", problems)
    train = training_summary(rows)
    planned = cfg.train.epochs if cfg else None
    state = run_state(ck, planned, cfg.train.patience if cfg else None, damaged=ck_path.is_file())
    if ck is None and raw is None and not rows and not (run_dir / "checkpoints").is_dir():
        state, problems = "not a run", [p for p in problems if p != "config.yaml missing"]
    done = ck["epoch"] if ck else 0
    if ck is not None and train["epochs_logged"] > (done or 0):
        problems.append(f"metrics.jsonl logs epoch {rows[-1]['epoch']}, the checkpoint holds epoch {done} "
                        "(killed while saving; a resume redoes that epoch)")
    elif ck is not None and train["epochs_logged"] < (done or 0):
        problems.append(f"metrics.jsonl has {train['epochs_logged']} epoch record(s), the checkpoint holds "
                        f"{done} epochs (the log was cut or edited)")
    ts = ck["train_state"] if ck else {}
    best_val = number(ts.get("best_val_loss")) if ck else train.get("best_val_loss")
    eval_docs = _sub_docs(run_dir / "eval", "metrics.json", problems)
    evals = {k: evaluation_summary(v) for k, v in eval_docs.items()}
    test_docs = _sub_docs(run_dir / "backtest", "stats.json", problems)
    tests = {k: backtest_summary(v) for k, v in test_docs.items()}
    for where, docs, key, summaries in (("eval", eval_docs, "provenance", evals),
                                        ("backtest", test_docs, "predictions", tests)):
        for k, doc in docs.items():
            split = k.partition("-")[0]   # backtest/test-fee5/ traded eval/test/ with other settings
            summaries[k]["stale"] = _stale(run_dir, run_dir / "eval" / split, doc.get(key))
            if summaries[k]["stale"]:
                problems.append(f"{where}/{k} is stale: {summaries[k]['stale']}; re-run "
                                f"`cryptotrain {'evaluate' if where == 'eval' else 'backtest'} --run {run_dir}"
                                f"{'' if split == 'test' else ' --split ' + split}`"
                                + (" with its settings" if split != k else ""))
    return {
        "name": run_dir.name, "path": str(run_dir), "kind": "run", "state": state,
        "overfit_batch": bool(ts.get("overfit_batch")),
        "model": {"type": cfg.model.type if cfg else None, "params": ck["params"] if ck else None},
        # a universe run: its pair count in place of one symbol (the pairs: "pairs")
        "symbol": (cfg.data.symbol if cfg.data.universe is None else f"{len(cfg.data.universe)} pairs") if cfg else None,
        "pairs": cfg.data.universe if cfg else None, "timeframe": cfg.data.timeframe if cfg else None,
        "epochs": {"done": done, "planned": planned, "best": number(ts.get("best_epoch")) if ck else train.get("best_epoch")},
        "best_val_loss": best_val, "training": train,
        "evaluation": evals.get("test"), "evaluations": evals,
        "backtest": tests.get("test"), "backtests": tests,
        "config": config_to_dict(cfg) if cfg else raw,
        "figures": sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*.png")
                          if not p.name.startswith(".")),
        "problems": problems,
    }
