"""`cryptotrain gradcheck`: the configured model, made small, checked tensor by tensor against central
differences (models/gradcheck.py) and printed as a table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from cryptotrain.config import Config
from cryptotrain.models.gradcheck import FLOOR, H_STEP, check_model_grads, small_model_config


def gradcheck_command(cfg: Config, tol: float, console: Console | None = None) -> bool:
    """Print the per-tensor table; True when every tensor's max relative error is below `tol`."""
    console = console or Console()
    small = small_model_config(cfg.model)
    results = check_model_grads(small)
    m = small
    desc = (f"norm_first={m.norm_first}, positional={m.positional}, ff={m.ff_activation}, pooling={m.pooling}"
            if m.type == "transformer" else f"attention={m.attention}, layer_norm={m.layer_norm}, residual={m.residual}")
    table = Table(title=f"gradcheck: {m.type}, {m.num_layers} layer(s), {desc}, dropout={m.dropout}")
    for col, just in [("parameter", "left"), ("shape", "left"), ("max abs error", "right"),
                      ("max rel error", "right"), ("result", "center")]:
        table.add_column(col, justify=just)
    ok = True
    for name, (shape, abs_err, rel) in results.items():
        passed = rel < tol
        ok &= passed
        table.add_row(name, str(tuple(shape)), f"{abs_err:.2e}", f"{rel:.2e}",
                      "[green]pass[/]" if passed else "[bold red]FAIL[/]")
    console.print(table)
    console.print(f"float64, B=2 T=5 F=3 H={m.hidden_size}, first window left-padded by 1 step; "
                  f"tolerance: max rel error < {tol:g}")
    console.print(f"rel = |g_analytic - g_numeric| / max(|g_analytic| + |g_numeric|, {FLOOR:g});  "
                  f"g_numeric = (4 D(h) - D(2h)) / 3, D(h) = (f(x+h) - f(x-h)) / 2h, h = {H_STEP:g}")
    n_bad = sum(rel >= tol for _, _, rel in results.values())
    console.print("[green]all gradients match[/]" if ok else f"[bold red]{n_bad} tensor(s) fail[/]")
    return ok
