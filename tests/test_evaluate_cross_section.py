"""Cross-sectional metrics (evaluate/cross_section.py, cross_summary.py): IC and Rank IC against pandas'
corr per timestamp, the known answers (a perfect score, a shuffled one), quantile groups against a
loop, and the verdict on noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cryptotrain.evaluate.cross_section import (common_cells, cross_ic, group_returns, momentum_scores,
                                                score_panel)
from cryptotrain.evaluate.cross_summary import cross_section_report


def _panel(rng, T=60, N=7, missing=0.2):
    ret = rng.normal(0, 0.01, (T, N))
    score = 0.3 * ret + rng.normal(0, 0.01, (T, N))
    score[:, 0] = np.round(score[:, 0], 2)                      # ties with each other
    ret[rng.random((T, N)) < missing] = np.nan
    score[rng.random((T, N)) < missing] = np.nan
    return score, ret


def test_ic_and_rank_ic_equal_pandas_corr_per_timestamp():
    """Catches an IC over pairs missing at t (filled or paired with another pair's return), ranks taken
    over each column's own finite set instead of the common cells, or ties broken by position."""
    rng = np.random.default_rng(0)
    score, ret = _panel(rng)
    cells = common_cells(ret, {"model": score}, 3)
    ic, ric = cross_ic(score, ret, cells)
    compared = 0
    for t in range(len(ret)):
        df = pd.DataFrame({"s": score[t], "r": ret[t]}).dropna()
        if len(df) < 3:
            assert np.isnan(ic[t]) and np.isnan(ric[t])
            continue
        np.testing.assert_allclose(ic[t], df["s"].corr(df["r"]), rtol=1e-12, err_msg=str(t))
        np.testing.assert_allclose(ric[t], df["s"].corr(df["r"], method="spearman"), rtol=1e-12, err_msg=str(t))
        compared += 1
    assert compared > 40


def test_a_perfect_score_has_rank_ic_one_and_a_shuffled_one_about_zero():
    """Catches a Rank IC that is not a correlation across pairs at one timestamp (e.g. pooled over time,
    where a common market move would give a shuffled score an IC) or that misaligns pairs."""
    rng = np.random.default_rng(1)
    T, N = 2000, 9
    ret = rng.normal(0, 0.01, (T, N)) + rng.normal(0, 0.03, (T, 1))   # a strong common move
    cells = common_cells(ret, {"model": ret}, 3)
    _, ric = cross_ic(ret, ret, cells)
    np.testing.assert_allclose(ric, 1.0)
    shuffled = np.array([rng.permutation(row) for row in ret])
    _, ric = cross_ic(shuffled, ret, cells)
    assert abs(np.mean(ric)) < 0.03, np.mean(ric)


def test_groups_match_a_loop_and_order_a_perfect_score():
    """Catches groups cut by position instead of by score rank, a group mean over missing pairs, or
    top and bottom swapped (a perfect score must have the highest top group return)."""
    rng = np.random.default_rng(2)
    score, ret = _panel(rng, N=9)
    cells = common_cells(ret, {"model": score}, 3)
    got = group_returns(score, ret, cells, 3)
    for t in range(len(ret)):
        ok = np.flatnonzero(cells[t])
        if len(ok) < 3:
            assert np.isnan(got[t]).all()
            continue
        rank = pd.Series(score[t, ok]).rank().to_numpy()
        g = np.floor(3 * (rank - 1) / len(ok))
        np.testing.assert_allclose(got[t], [ret[t, ok][g == k].mean() for k in range(3)], err_msg=str(t))
    perfect = group_returns(ret, ret, common_cells(ret, {"m": ret}, 3), 3)
    ok = np.isfinite(perfect).all(axis=1)
    assert (perfect[ok, 2] > perfect[ok, 1]).all() and (perfect[ok, 1] > perfect[ok, 0]).all()


def test_score_panel_and_momentum():
    """Catches a long frame pivoted onto the wrong (timestamp, symbol) cell, and a momentum score that
    reads a later candle."""
    frame = pd.DataFrame({"timestamp": [2, 1, 1, 2], "symbol": ["B", "A", "B", "A"],
                          "forward_return": [0.1, 0.2, 0.3, 0.4], "score": [1.0, 2.0, 3.0, 4.0]})
    ts, symbols, p = score_panel(frame, ["score"])
    assert ts.tolist() == [1, 2] and symbols == ["A", "B"]
    np.testing.assert_array_equal(p["forward_return"], [[0.2, 0.3], [0.4, 0.1]])
    np.testing.assert_array_equal(p["score"], [[2.0, 3.0], [4.0, 1.0]])
    # two pairs laid out one after the other (a universe dataset): A at hours 0-3, B at hours 0, 2, 3 (a gap)
    ts = np.array([0, 1, 2, 3, 0, 2, 3]) * 3_600_000
    pair = np.array([0, 0, 0, 0, 1, 1, 1])
    close = np.array([1.0, 2.0, 4.0, 8.0, 2.0, 2.0, 1.0])
    got = momentum_scores(ts, pair, close, np.arange(7), 2, 3_600_000)
    np.testing.assert_array_equal(got, [np.nan, np.nan, 3.0, 3.0, np.nan, np.nan, np.nan])   # B: across its gap


def _noise_case(seed: int, signal: float = 0.0):
    rng = np.random.default_rng(seed)
    T, N = 300, 9
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (T + 2, N)), axis=0))
    ret = close[2:] / close[1:-1] - 1.0                       # r_t from t+1 on, horizon 1
    mom = np.r_[np.full((1, N), np.nan), close[1:-2] / close[:-3] - 1.0]   # c_t / c_{t-1} - 1
    model = signal * ret + rng.normal(0, 0.01, (T, N))
    return ret, model, {"momentum": mom, "reversal": -mom}


def test_the_verdict_on_noise_claims_nothing_and_a_real_ranking_is_claimed():
    """Catches a cross-sectional verdict that claims on noise (no correction, a two-sided or pooled
    bound) and, by the control, one that never claims anything."""
    claims = {"momentum and reversal": 0, "one noise baseline": 0}
    for seed in range(20):
        ret, model, base = _noise_case(seed)
        noise = {"noise": np.random.default_rng([seed, 9]).normal(0, 1, ret.shape)}
        for what, b in (("momentum and reversal", base), ("one noise baseline", noise)):
            rep, _ = cross_section_report(ret, model, b, min_pairs=3, quantiles=3, horizon=1, n_resamples=300,
                                          seed=seed)
            claims[what] += rep["edge"]["kind"] == "ranking"
            assert rep["edge"]["test"]["m"] == len(b)
    # ALPHA = 5% of draws may claim, 1 of 20 expected; 4 or more has probability 0.016 under the rule,
    # while a rule without its bound claims against one noise baseline in about half of them
    assert claims["momentum and reversal"] <= 3 and claims["one noise baseline"] <= 3, claims
    ret, model, base = _noise_case(0, signal=0.5)
    rep, fig = cross_section_report(ret, model, base, min_pairs=3, quantiles=3, horizon=1, n_resamples=300)
    assert rep["edge"]["kind"] == "ranking", rep["edge"]["sentence"]
    assert rep["edge"]["sentence"].startswith("Cross-sectional edge: the ranking of pairs")
    assert rep["rank_ic"]["lo"] > 0 and rep["spread"]["value"] > 0
    assert rep["n_timestamps"] == len(fig["rank_ic"]) == 299     # momentum needs one earlier candle
    assert rep["rank_icir"]["value"] == rep["rank_ic"]["value"] / rep["rank_ic_std"]["value"]


def test_the_table_and_figure_show_the_report(tmp_path):
    """Catches a table that drops the model's interval or a baseline, cuts a cell on an 80-column
    terminal, or a figure that is not written."""
    import io

    from rich.console import Console

    from cryptotrain.report.cross_section import plot_cross_section, print_cross_section

    ret, model, base = _noise_case(4, signal=0.5)
    rep, fig = cross_section_report(ret, model, base, min_pairs=3, quantiles=3, horizon=1, n_resamples=200)
    console = Console(file=io.StringIO(), width=80, record=True)
    print_cross_section(console, rep)
    text = console.export_text()
    assert "…" not in text and rep["edge"]["sentence"][:40] in " ".join(text.split())
    assert f"{rep['rank_ic']['value']:+.4f} [{rep['rank_ic']['lo']:+.4f}" in text
    assert "cross-sectional momentum" in text and "reversal" in text
    ts = 1_700_000_000_000 + 3_600_000 * fig["rows"]
    assert plot_cross_section(ts, fig["rank_ic"], fig["groups"], 1, tmp_path / "x.png").stat().st_size > 5000
