"""Printing `cryptotrain predict` of a universe run (the dict of cryptotrain/predict_universe.py): the
pairs ranked by score with their target weights, the skipped pairs with the reason, the orders; or the
JSON object with --json (floats as repr, so they read back to the same bits)."""

from __future__ import annotations

import json

from rich.console import Console

from cryptotrain.report.predict import print_walkforward_source
from cryptotrain.report.tables import print_fitted_table


def print_universe_prediction(result: dict, console: Console, *, as_json: bool = False) -> None:
    if as_json:
        console.print_json(json.dumps(result))
        return
    d, ck, pol, acc = result["decision"], result["checkpoint"], result["policy"], result["account"]
    print_walkforward_source(result.get("walkforward"), console)
    console.print(f"{result['run']}: {ck['name']} checkpoint (epoch {ck['epoch']}, sha256 {ck['sha256'][:12]})",
                  markup=False)
    console.print(f"decision candle {d['time']} (closed {d['close_time']}); orders fill at the open of "
                  f"{d['fill_time']}", markup=False)
    n_drop = pol["k"] if pol["n_drop"] is None else pol["n_drop"]
    what = f"k {pol['k']}, n_drop {n_drop}, " if pol["policy"] == "topk" else ""
    console.print(f"policy {pol['policy']} ({what}{pol['mode']}, gross {pol['gross']:g}, max exposure "
                  f"{pol['max_exposure']:g}); equity ${acc['equity']:,.2f} = cash ${acc['cash']:,.2f} + holdings "
                  f"({acc['holdings'] or 'none'}) at the decision closes", markup=False)
    ps = result["pairs"]
    print_fitted_table(console, "", "pair", [p["symbol"] for p in ps], {
        "score": [f"{p['score']:+.5f}" for p in ps],
        "rank": [str(p["rank"]) for p in ps],
        "model says": [p["action"] for p in ps],
        "confidence": [f"{p['confidence']:.3f}" for p in ps],
        "close": [f"{p['close']:g}" for p in ps],
        "held [%]": [f"{100 * p['weight_held']:.1f}" for p in ps],
        "target [%]": [f"{100 * p['target_weight']:.1f}" for p in ps],
    }, left=("model says",))
    for s in result["skipped"]:
        console.print(f"skipped {s['symbol']}: {s['reason']}", markup=False)
    os_ = result["orders"]
    if not os_:
        console.print("orders: none (the holdings are the targets)", markup=False)
        return
    print_fitted_table(console, "orders (estimated at the decision close; they fill at the next open)", "pair",
                       [o["symbol"] for o in os_], {
                           "side": [o["side"] for o in os_],
                           "units": [f"{o['units']:.6g}" for o in os_],
                           "notional [$]": [f"{o['notional']:,.2f}" for o in os_],
                           "fee [$]": [f"{o['fee']:,.2f}" for o in os_],
                           "slippage [$]": [f"{o['slippage']:,.2f}" for o in os_],
                       }, left=("side",))
    t = result["totals"]
    console.print(f"total notional ${t['notional']:,.2f}, fees ${t['fee']:,.2f}, slippage ${t['slippage']:,.2f}",
                  markup=False)
