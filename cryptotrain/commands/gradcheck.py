"""`cryptotrain gradcheck`: the configured model, made small, checked tensor by tensor against central
differences (models/gradcheck.py) and printed as a table."""

from __future__ import annotations

from rich.console import Console

from cryptotrain.config import Config
from cryptotrain.models.gradcheck import FLOOR, H_STEP, check_model_grads, small_model_config
from cryptotrain.report.tables import print_fitted_table


def gradcheck_command(cfg: Config, tol: float, console: Console | None = None) -> bool:
    """Print the per-tensor table; True when every tensor's max relative error is below `tol`."""
    console = console or Console()
    small = small_model_config(cfg.model)
    results = check_model_grads(small)
    m = small
    desc = (f"norm_first={m.norm_first}, positional={m.positional}, ff={m.ff_activation}, pooling={m.pooling}"
            if m.type == "transformer" else f"attention={m.attention}, layer_norm={m.layer_norm}, residual={m.residual}")
    cells = {name: [str(tuple(shape)), f"{abs_err:.2e}", f"{rel:.2e}", "pass" if rel < tol else "FAIL"]
             for name, (shape, abs_err, rel) in results.items()}
    ok = all(c[3] == "pass" for c in cells.values())
    print_fitted_table(console, f"gradcheck: {m.type}, {m.num_layers} layer(s), {desc}, dropout={m.dropout}",
                       "parameter", list(cells),
                       {h: [c[i] for c in cells.values()]
                        for i, h in enumerate(("shape", "max abs error", "max rel error", "result"))},
                       left=("shape",))
    console.print(f"float64, B=2 T=5 F=3 H={m.hidden_size}, first window left-padded by 1 step; "
                  f"tolerance: max rel error < {tol:g}", markup=False)
    console.print(f"rel = |g_analytic - g_numeric| / max(|g_analytic| + |g_numeric|, {FLOOR:g});  "
                  f"g_numeric = (4 D(h) - D(2h)) / 3, D(h) = (f(x+h) - f(x-h)) / 2h, h = {H_STEP:g}", markup=False)
    n_bad = sum(rel >= tol for _, _, rel in results.values())
    console.print("[green]all gradients match[/]" if ok else f"[bold red]{n_bad} tensor(s) fail[/]")
    return ok
