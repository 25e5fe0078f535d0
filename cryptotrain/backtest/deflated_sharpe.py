"""How much of a sweep's winner is luck: the probabilistic and the deflated Sharpe ratio.

Bailey and Lopez de Prado (2012, 2014), with per-candle Sharpe ratios SR = mean(r) / std(r):

    PSR(SR*) = Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - skew SR + (kurt - 1) / 4 SR^2))
    SR_0     = sqrt(V[SR_n]) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))
    DSR      = PSR(SR_0)

n candle returns of the winner, skew and raw (not excess) kurtosis of them, N the number of trials
TRIED (complete, pruned and failed: each was a draw the selection could have kept) and V the
variance (ddof = 1) of the per-candle Sharpe ratios of the trials that have one (a validation
backtest whose equity moved: the complete trials, usually), gamma the Euler-Mascheroni constant.
SR_0 is the Sharpe ratio the best of N skill-less trials is expected to reach; with N < 2 there
is no selection and SR_0 = 0 (DSR = PSR(0)); with fewer than 2 Sharpe ratios there is no spread
and SR_0 = 0 too. The formulas take per-candle ratios; what is printed is annualized
(x sqrt(periods per year)), the unit of the trial lines.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

EULER_GAMMA = 0.5772156649015329


def candle_returns(result) -> np.ndarray:
    """A backtest's (T,) r_t = E_t / E_(t-1) - 1 (E_(-1) = cash), as backtest/stats.py."""
    eq = np.asarray(result.equity, dtype=np.float64)
    prev = np.concatenate(([result.cash], eq[:-1]))
    return np.divide(eq, prev, out=np.ones(len(eq)), where=prev > 0) - 1.0


def backtest_candle_stats(result) -> dict[str, float]:
    """candle_stats of a backtest's candle_returns."""
    return candle_stats(candle_returns(result))


def candle_stats(returns: np.ndarray) -> dict[str, float]:
    """Per-candle Sharpe (ddof = 1), skewness, raw kurtosis and count of candle returns."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    n = len(r)
    sd = float(np.std(r, ddof=1)) if n > 1 else 0.0
    if n < 3 or sd == 0.0:
        return {"sharpe": float("nan"), "skew": float("nan"), "kurtosis": float("nan"), "n": n}
    z = (r - r.mean()) / np.std(r)       # moments with the population deviation, as in the paper
    z2 = z * z                           # products, not z ** 3: a float power is ~20x slower (1M returns: 0.3 s)
    return {"sharpe": float(r.mean() / sd), "skew": float(np.mean(z2 * z)), "kurtosis": float(np.mean(z2 * z2)), "n": n}


def psr(sr: float, sr_star: float, n: int, skew: float, kurtosis: float) -> float:
    """Probability that the true per-candle Sharpe ratio exceeds sr_star, given the estimate sr."""
    denom = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr ** 2
    if n < 2 or not denom > 0:
        return float("nan")
    from scipy.stats import norm   # here, not at the top: scipy.stats costs ~1 s of import that predict never needs
    return float(norm.cdf((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(denom)))


def expected_max_sharpe(trial_sharpes: Sequence[float], n_trials: int | None = None) -> float:
    """SR_0: the expected best per-candle Sharpe ratio of `n_trials` skill-less trials (default: the
    number of finite `trial_sharpes`) with the spread of the finite `trial_sharpes`."""
    srs = np.asarray([s for s in trial_sharpes if np.isfinite(s)], dtype=np.float64)
    n_trials = len(srs) if n_trials is None else int(n_trials)
    if n_trials < 2 or len(srs) < 2:
        return 0.0
    spread = math.sqrt(float(np.var(srs, ddof=1)))
    from scipy.stats import norm   # ~1 s of import: only where a Sharpe ratio is deflated
    return spread * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / n_trials)
                     + EULER_GAMMA * norm.ppf(1 - 1 / (n_trials * math.e)))


def deflated_sharpe(sr: float, trial_sharpes: Sequence[float], n: int, skew: float, kurtosis: float,
                    n_trials: int | None = None) -> dict:
    """DSR of the winner's per-candle Sharpe `sr` chosen among `n_trials` tried trials (default: the
    finite `trial_sharpes`), the spread from `trial_sharpes` (the winner's included).
    -> {"dsr", "sr0", "n_trials": N, "n_sharpes": how many Sharpe ratios gave the spread}."""
    n_sharpes = int(sum(1 for s in trial_sharpes if np.isfinite(s)))
    n_trials = n_sharpes if n_trials is None else int(n_trials)
    sr0 = expected_max_sharpe(trial_sharpes, n_trials)
    return {"dsr": psr(sr, sr0, n, skew, kurtosis), "sr0": sr0, "n_trials": n_trials, "n_sharpes": n_sharpes}


def verdict(dsr: float, test_psr: float, n_trials: int, level: float = 0.95) -> str:
    """One plain sentence: does the selection survive the correction over `n_trials` (every trial
    tried), does the test period agree."""
    if not np.isfinite(dsr):
        first = f"The deflated Sharpe ratio could not be computed (flat or too short validation returns)."
    elif dsr >= level:
        first = (f"The selection survives the multiple-testing correction: deflated Sharpe ratio {dsr:.3f} "
                 f">= {level:.2f} after {n_trials} trials tried.")
    else:
        first = (f"The selection does not survive the multiple-testing correction: deflated Sharpe ratio "
                 f"{dsr:.3f} < {level:.2f} after {n_trials} trials tried, so its validation Sharpe ratio is "
                 "consistent with luck.")
    if not np.isfinite(test_psr):
        second = "The test period cannot say (flat or too short returns)."
    elif test_psr >= level:
        second = f"The test period agrees: PSR(0) = {test_psr:.3f}."
    else:
        second = f"The test period does not confirm a positive Sharpe ratio: PSR(0) = {test_psr:.3f} < {level:.2f}."
    return f"{first} {second}"
