"""Per-feature normalizer fitted on the training rows only: x' = (x - center) / scale.

kind "zscore": center = mean, scale = std (ddof 0).
kind "robust": center = median, scale = IQR (75th - 25th percentile), not rescaled.
A universe run with features.normalizer_scope per_symbol holds one row of statistics per pair:
center and scale (P, F); `pair(p)` is pair p's (F,) normalizer (a pooled or single-pair one is
its own for every pair).
A scale at or below 1e-12 (a constant feature on the training rows) is replaced by 1, so
such a feature becomes x - center instead of inf / NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryptotrain.errors import UserError

MIN_SCALE = 1e-12


@dataclass
class Normalizer:
    kind: str
    center: np.ndarray  # (F,), or (P, F) per pair
    scale: np.ndarray   # (F,), or (P, F) per pair

    @classmethod
    def fit(cls, X_train: np.ndarray, kind: str) -> "Normalizer":
        """Statistics of (M, F) training rows (all finite) -> Normalizer."""
        X = np.asarray(X_train, dtype=np.float64)
        if X.ndim != 2 or len(X) == 0:
            raise ValueError(f"need a non-empty (M, F) array of training rows, got shape {X.shape}")
        if kind == "zscore":
            center, scale = X.mean(axis=0), X.std(axis=0)
        elif kind == "robust":
            q25, center, q75 = np.percentile(X, [25, 50, 75], axis=0)
            scale = q75 - q25
        else:
            raise ValueError(f"unknown normalizer kind {kind!r}; use zscore or robust")
        scale = np.where(scale > MIN_SCALE, scale, 1.0)
        return cls(kind=kind, center=center, scale=scale)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(..., F) -> (..., F) float64 normalized copy."""
        return (np.asarray(X, dtype=np.float64) - self.center) / self.scale

    def pair(self, p: int) -> "Normalizer":
        """Pair p's (F,) normalizer: row p of per-pair statistics, else this one."""
        if np.ndim(self.center) == 1:
            return self
        return Normalizer(self.kind, self.center[p], self.scale[p])

    @classmethod
    def stack(cls, norms: list["Normalizer"]) -> "Normalizer":
        """Per-pair normalizers -> one with (P, F) statistics."""
        return cls(norms[0].kind, np.stack([n.center for n in norms]), np.stack([n.scale for n in norms]))


def check_normalizer(normalizer: Normalizer, names: list[str], n_pairs: int | None = None) -> None:
    """UserError when a given normalizer does not fit the features (or pairs) built now."""
    n = np.shape(normalizer.center)[-1]
    if n != len(names):
        raise UserError(f"the normalizer has {n} features but the config gives {len(names)} "
                        f"({', '.join(names)}); use the features section the normalizer was fitted with")
    if np.ndim(normalizer.center) == 2 and np.shape(normalizer.center)[0] != n_pairs:
        raise UserError(f"the normalizer has statistics for {np.shape(normalizer.center)[0]} pairs but the data has "
                        f"{n_pairs or 1}; use the data.universe it was fitted with")
