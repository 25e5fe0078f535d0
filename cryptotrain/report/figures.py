"""The one way a figure is made and saved: matplotlib on the Agg backend (no display needed,
so the same code runs in a terminal, a notebook kernel or a Ray worker), PNG written atomically."""

from __future__ import annotations

from pathlib import Path

from cryptotrain.fileio import atomic_path


def pyplot():
    """matplotlib.pyplot on Agg; imported on first use, since it costs ~0.3 s at start-up."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Write `fig` as PNG (dpi 110) through a temporary file and close it; returns `path`."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    pyplot().close(fig)
    return path
