"""The sections of a single run's report that show the market and the trading: the header
(verdicts, provenance), candles with trades and the position, equity against the benchmarks with
the drawdown, monthly returns, rolling Sharpe ratio, the statistics and the trades.

Shapes: N candles of the split, M trades. Time is ms since the epoch (UTC).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cryptotrain.report.backtest_report import format_stat
from cryptotrain.report.equity_figure import moving_mean
from cryptotrain.report.html.arrays import merge_candles, thin, typed
from cryptotrain.report.html.page import COLORS, Page, bullet_list, definitions, table

DAY_MS = 86_400_000
ROLLING_DAYS = 30   # the rolling Sharpe ratio's window


def header(page: Page, verdicts: list[str], provenance: dict[str, Any]) -> None:
    page.section("Verdict", bullet_list(verdicts))
    page.section("Provenance", definitions(provenance))


def _time_axis(**more: Any) -> dict[str, Any]:
    return {"type": "date", "showgrid": True, "gridcolor": "#eee", **more}


def market(page: Page, candles: dict[str, np.ndarray], trades: dict[str, Any], symbol: str) -> None:
    """Candles with volume, each trade's entry (triangle: up long, down short) and exit (x, with
    its reason and P&L), and the position as a band below."""
    drawn, step = merge_candles(candles)
    t = typed(drawn["time"])
    entry_text = [f"{s} entry, size {z:.4g}" for s, z in zip(trades["side"], trades["size"])]
    exit_text = [f"{s} exit: {r}, P&L {p:+,.2f} $ ({100 * q:+.2f}%)"
                 for s, r, p, q in zip(trades["side"], trades["exit_reason"], trades["pnl"], trades["return"])]
    long_ = np.asarray(trades["side"]) == "long"
    data = [{"type": "candlestick", "name": symbol, "x": t, "open": typed(drawn["open"]), "high": typed(drawn["high"]),
             "low": typed(drawn["low"]), "close": typed(drawn["close"]), "xaxis": "x", "yaxis": "y",
             "increasing": {"line": {"color": "#26a69a", "width": 1}}, "decreasing": {"line": {"color": "#ef5350", "width": 1}},
             "hoverinfo": "x+y"}]
    for side, mask, symbol_, color in (("long", long_, "triangle-up", COLORS["long"]),
                                       ("short", ~long_, "triangle-down", COLORS["short"])):
        data.append({"type": "scatter", "mode": "markers", "name": f"{side} entries",
                     "x": typed(np.asarray(trades["entry_time"])[mask]), "y": typed(np.asarray(trades["entry_price"])[mask]),
                     "text": [s for s, m in zip(entry_text, mask) if m], "hoverinfo": "x+y+text",
                     "marker": {"symbol": symbol_, "size": 8, "color": color, "opacity": 0.8, "line": {"width": 0}}})
    data.append({"type": "scatter", "mode": "markers", "name": "exits", "x": typed(trades["exit_time"]),
                 "y": typed(trades["exit_price"]), "text": exit_text, "hoverinfo": "x+y+text",
                 "marker": {"symbol": "x-thin", "size": 6, "opacity": 0.6, "line": {"width": 1, "color": "#333"}}})
    data.append({"type": "bar", "name": "volume", "x": t, "y": typed(drawn["volume"]), "xaxis": "x", "yaxis": "y2",
                 "marker": {"color": "#9e9e9e", "line": {"width": 0}}, "showlegend": False})
    pos = np.asarray(drawn["position"], dtype=np.float64)
    for side, part, color in (("long", np.maximum(pos, 0.0), COLORS["long"]), ("short", np.minimum(pos, 0.0), COLORS["short"])):
        data.append({"type": "scatter", "mode": "lines", "name": f"position {side}", "x": t, "y": typed(part),
                     "yaxis": "y3", "line": {"width": 0, "shape": "hv", "simplify": False}, "fill": "tozeroy",
                     "fillcolor": color, "showlegend": False})
    layout = {"xaxis": _time_axis(rangeslider={"visible": False}, anchor="y3"),
              "yaxis": {"domain": [0.36, 1.0], "title": {"text": "price"}, "fixedrange": False},
              "yaxis2": {"domain": [0.18, 0.33], "title": {"text": "volume"}, "showgrid": False},
              "yaxis3": {"domain": [0.0, 0.14], "title": {"text": "position"}, "range": [-1.05, 1.05],
                         "tickvals": [-1, 0, 1]},
              "hovermode": "closest"}
    note = (f"{len(drawn['time']):,} candles" + (f" (each {step} candles of the split merged: first open, highest "
                                                  f"high, lowest low, last close)" if step > 1 else "")
            + f"; {len(trades['side']):,} trades. Triangles mark entries (up: long, down: short), x the exits "
              "(hover for the reason and P&L); the band below is the position (green long, red short).")
    page.section("Market and trades", page.figure({"data": data, "layout": layout}, height=620, link="time"), note=note)


def equity(page: Page, eq: dict[str, Any], name: str = "Model", marks: list[tuple[int, str]] = ()) -> None:
    """Equity of the strategy and of every benchmark, and its drawdown, on one time axis; `marks`:
    (time, label) of vertical lines (a walk-forward's fold boundaries)."""
    series = [eq["equity"], eq["drawdown"], *eq["benchmarks"].values()]
    i = thin(series)
    t = typed(np.asarray(eq["time"])[i])
    data = [{"type": "scatter", "mode": "lines", "name": label, "x": t, "y": typed(np.asarray(s)[i]),
             "line": {"width": 1.1, "dash": "dot", "color": color, "simplify": False}}
            for (label, s), color in zip(eq["benchmarks"].items(), COLORS["benchmarks"])]
    data.append({"type": "scatter", "mode": "lines", "name": name, "x": t, "y": typed(np.asarray(eq["equity"])[i]),
                 "line": {"width": 1.8, "color": COLORS["model"], "simplify": False}})
    data.append({"type": "scatter", "mode": "lines", "name": f"{name} drawdown", "x": t,
                 "y": typed(100.0 * np.asarray(eq["drawdown"])[i]), "yaxis": "y2", "fill": "tozeroy",
                 "line": {"width": 0.8, "color": COLORS["short"], "simplify": False}, "showlegend": False})
    layout = {"xaxis": _time_axis(anchor="y2"),
              "yaxis": {"domain": [0.32, 1.0], "title": {"text": "equity [$]"}},
              "yaxis2": {"domain": [0.0, 0.26], "title": {"text": "drawdown [%]"}},
              "shapes": [{"type": "line", "xref": "x", "yref": "paper", "x0": int(ms), "x1": int(ms), "y0": 0, "y1": 1,
                          "line": {"color": "#555", "dash": "dot", "width": 1}} for ms, _ in marks],
              "annotations": [{"xref": "x", "yref": "paper", "x": int(ms), "y": 1, "text": label, "showarrow": False,
                               "xanchor": "left", "yanchor": "top", "font": {"size": 10}} for ms, label in marks]}
    n = len(eq["time"])
    note = (f"{len(i):,} of {n:,} points drawn (every bucket's lowest and highest kept)" if len(i) < n
            else f"{n:,} points") + "; dotted: the benchmarks, each after its own costs."
    page.section("Equity and drawdown", page.figure({"data": data, "layout": layout}, height=480, link="time"), note=note)


def monthly_returns(time: np.ndarray, equity: np.ndarray, cash: float) -> tuple[list[int], list[str], np.ndarray]:
    """(years, month names, returns [%] of shape (years, 12), NaN where the month is outside the
    span): each month's last equity against the previous month's (the first against `cash`)."""
    months = np.asarray(time, dtype=np.int64).astype("datetime64[ms]").astype("datetime64[M]")
    last = np.append(np.flatnonzero(months[1:] != months[:-1]), len(months) - 1)
    end = np.asarray(equity, dtype=np.float64)[last]
    ret = 100.0 * (end / np.append([cash], end[:-1]) - 1.0)
    m = months[last].astype(np.int64)   # months since 1970-01
    years = list(range(int(m.min() // 12) + 1970, int(m.max() // 12) + 1971))
    grid = np.full((len(years), 12), np.nan)
    grid[m // 12 + 1970 - years[0], m % 12] = ret
    return years, ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], grid


def monthly(page: Page, eq: dict[str, Any], cash: float) -> None:
    years, names, grid = monthly_returns(eq["time"], eq["equity"], cash)
    text = [["" if v != v else f"{v:+.1f}" for v in row] for row in grid]
    lim = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    data = [{"type": "heatmap", "name": "monthly returns", "x": names, "y": [str(y) for y in years], "z": [[None if v != v else v for v in row] for row in grid],
             "text": text, "texttemplate": "%{text}", "zmid": 0, "zmin": -lim, "zmax": lim,
             "colorscale": [[0, "#c62828"], [0.5, "#f5f5f5"], [1, "#2e7d32"]], "hovertemplate": "%{y} %{x}: %{z:+.2f}%<extra></extra>",
             "colorbar": {"title": {"text": "%"}}, "xgap": 2, "ygap": 2}]
    layout = {"yaxis": {"autorange": "reversed", "type": "category"}, "xaxis": {"type": "category"},
              "margin": {"l": 60, "r": 20, "t": 34, "b": 30}}
    page.section("Monthly returns [%]", page.figure({"data": data, "layout": layout}, height=90 + 36 * len(years)),
                 note="The strategy's return in each calendar month (UTC), after costs.")


def rolling_sharpe(equity: np.ndarray, window: int, periods_per_year: float) -> np.ndarray:
    """Annualized Sharpe ratio of the per-candle returns r_i = e_i / e_(i-1) - 1 over the `window`
    candles ending at each candle (NaN before the window fills): mean(r) / std(r, ddof=1) * sqrt(P),
    the statistics table's formula on a moving span. Sums from cumulative sums: O(N)."""
    e = np.asarray(equity, dtype=np.float64)
    r = np.concatenate([[0.0], e[1:] / e[:-1] - 1.0])
    out = np.full(len(r), np.nan)
    if window < 2 or len(r) < window:
        return out
    c1 = np.concatenate([[0.0], np.cumsum(r)])
    c2 = np.concatenate([[0.0], np.cumsum(r * r)])
    s1 = c1[window:] - c1[:-window]
    s2 = c2[window:] - c2[:-window]
    var = np.maximum(s2 - s1 * s1 / window, 0.0) / (window - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[window - 1:] = np.where(var > 1e-18, (s1 / window) / np.sqrt(var), np.nan) * np.sqrt(periods_per_year)
    return out


def sharpe(page: Page, eq: dict[str, Any], timeframe_ms: int, periods_per_year: float, name: str = "Model") -> None:
    n = len(eq["time"])
    window = min(max(2, round(ROLLING_DAYS * DAY_MS / timeframe_ms)), max(2, n // 3))
    curves = {name: rolling_sharpe(eq["equity"], window, periods_per_year)}
    curves.update({label: rolling_sharpe(s, window, periods_per_year) for label, s in eq["benchmarks"].items()
                   if label.endswith("Buy & Hold")})
    i = thin([np.nan_to_num(c) for c in curves.values()])
    t = typed(np.asarray(eq["time"])[i])
    data = [{"type": "scatter", "mode": "lines", "name": f"{label} rolling Sharpe", "x": t, "y": typed(c[i]),
             "line": {"width": 1.4 if label == name else 1.0, "color": COLORS["model"] if label == name else COLORS["neutral"],
                      "dash": "solid" if label == name else "dot", "simplify": False}} for label, c in curves.items()]
    layout = {"xaxis": _time_axis(), "yaxis": {"title": {"text": "Sharpe (ann.)"}, "zeroline": True}}
    days = window * timeframe_ms / DAY_MS
    page.section("Rolling Sharpe ratio", page.figure({"data": data, "layout": layout}, height=300, link="time"),
                 note=f"Over the last {window:,} candles ({days:g} days), annualized; the dotted line is buy and hold.")


def _cell(key: str, v: Any) -> tuple[str, float | None] | str:
    if isinstance(v, str):   # stats.json keeps times and durations as pandas wrote them
        try:
            v = pd.Timedelta(v) if "Duration" in key else pd.Timestamp(v) if key in ("Start", "End") else v
        except ValueError:
            return v
        return format_stat(key, v)
    text = format_stat(key, v)
    return (text, v) if isinstance(v, (int, float)) and not isinstance(v, bool) else text


def statistics(page: Page, stats: dict[str, dict[str, Any]]) -> None:
    """The backtest's statistics, the strategy and each baseline side by side (stats.json's keys)."""
    headers = list(stats)
    keys = list(next(iter(stats.values())))
    rows = [[k, *[_cell(k, stats[h].get(k)) for h in headers]] for k in keys]
    page.section("Statistics", table(["Statistic", *headers], rows),
                 note="Return [%] is after fees and slippage; the \"no costs\" rows trade the same positions without them.")


TRADE_COLUMNS = (("entry_time", "Entry (UTC)"), ("exit_time", "Exit (UTC)"), ("side", "Side"),
                 ("entry_price", "Entry price"), ("exit_price", "Exit price"), ("size", "Size"),
                 ("pnl", "P&L [$]"), ("return", "Return [%]"), ("fees", "Fees [$]"), ("duration", "Duration"),
                 ("exit_reason", "Exit reason"))


def _utc(ms: Any) -> str:
    return str(np.datetime64(int(ms), "ms").astype("datetime64[m]")).replace("T", " ")


def trades_table(page: Page, trades: dict[str, Any]) -> None:
    """Every trade, sortable by any column (click its header)."""
    columns = ((("symbol", "Pair"),) if "symbol" in trades else ()) + TRADE_COLUMNS   # a portfolio's trades name their pair
    rows = []
    for i in range(len(trades["side"])):
        row = []
        for key, _ in columns:
            v = trades[key][i]
            if key.endswith("_time"):
                row.append((_utc(v), int(v)))
            elif key == "return":
                row.append((f"{100 * v:+.2f}", float(v)))
            elif key in ("pnl", "fees"):
                row.append((f"{v:,.2f}", float(v)))
            elif key in ("entry_price", "exit_price", "size"):
                row.append((f"{v:.6g}", float(v)))
            elif key == "duration":
                ms = int(trades["duration_ms"][i])
                row.append((format_stat("Duration", pd.Timedelta(ms, unit="ms")), ms))
            else:
                row.append(str(v))
        rows.append(row)
    page.section(f"Trades ({len(rows):,})", table([h for _, h in columns], rows, sortable=True, scroll=True,
                                                  table_id="trades"),
                 note="Click a column header to sort by it (again to reverse).")
