"""The one way a figure is made and saved: matplotlib on the Agg backend (no display needed,
so the same code runs in a terminal, a notebook kernel or a Ray worker), PNG written atomically."""

from __future__ import annotations

import io
from pathlib import Path

from cryptotrain.fileio import atomic_write_bytes


def pyplot():
    """matplotlib.pyplot on Agg; imported on first use, since it costs ~0.3 s at start-up."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig) -> bytes:
    """`fig` as PNG (dpi 110); the figure is closed."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110)
    finally:
        pyplot().close(fig)
    return buf.getvalue()


def save_figure(fig, path: Path) -> Path:
    """Write `fig` as PNG (figure_png) through a temporary file and close it; returns `path`."""
    atomic_write_bytes(path, figure_png(fig))
    return path
