"""Per-feature normalizer fitted on the training rows only: x' = (x - center) / scale.

kind "zscore": center = mean, scale = std (ddof 0).
kind "robust": center = median, scale = IQR (75th - 25th percentile), not rescaled.
A scale at or below 1e-12 (a constant feature on the training rows) is replaced by 1, so
such a feature becomes x - center instead of inf / NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SCALE = 1e-12


@dataclass
class Normalizer:
    kind: str
    center: np.ndarray  # (F,)
    scale: np.ndarray   # (F,)

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
