"""Printing one `cryptotrain predict` result (the dict of cryptotrain/predict.py): a few lines, or
the JSON object with --json (floats as repr, so they read back to the same bits)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape


def print_prediction(result: dict, console: Console, *, as_json: bool = False) -> None:
    if as_json:
        console.print_json(json.dumps(result))
        return
    d, ck, pos = result["decision"], result["checkpoint"], result["position"]
    print_walkforward_source(result.get("walkforward"), console)
    console.print(f"{result['run']}: {ck['name']} checkpoint (epoch {ck['epoch']}, sha256 {ck['sha256'][:12]}), "
                  f"{result['data']['path']}", markup=False)
    console.print(f"decision candle  {d['time']} (closed {d['close_time']}), close {d['close']}", markup=False)
    console.print(f"order would fill {result['fill']['time']} ({result['fill']['price']})", markup=False)
    console.print(f"p_sell {result['p_sell']:.4f}  p_hold {result['p_hold']:.4f}  p_buy {result['p_buy']:.4f}"
                  f"  -> [bold]{escape(result['action'])}[/], confidence {result['confidence']:.4f}"
                  + ("" if result["confidence_trained"] else " (head not trained: model.w_confidence = 0)"))
    if result["pred_return"] is not None:
        console.print(f"predicted return {100 * result['pred_return']:+.3f}% over the label horizon", markup=False)
    pol = pos["policy"]
    signal = f"signal: {pol['signal']}, " if pol.get("signal") else ""
    console.print(f"position         {pos['rule']} (policy: {signal}{pol['mode']}, threshold {pol['threshold']}, "
                  f"sizing {pol['sizing']}, max exposure {pol['max_exposure']})", markup=False)


def print_walkforward_source(wf: dict | None, console: Console) -> None:
    """The line that says a walk-forward directory was asked and which fold's model answers."""
    if not wf:
        return
    later = [str(k) for k in range(wf["fold"] + 1, wf["folds"] + 1)]
    behind = f" (fold{'s' * (len(later) > 1)} {', '.join(later)} of the plan not finished)" if later else ""
    console.print(f"walk-forward {wf['dir']}: the model of its last finished fold, {wf['fold']} of {wf['folds']}"
                  f"{behind}, trained {wf['train'][0]} .. {wf['train'][1]}, tested {wf['test'][0]} .. "
                  f"{wf['test'][1]}", markup=False)
