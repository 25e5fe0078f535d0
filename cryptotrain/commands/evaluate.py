"""`cryptotrain evaluate`: the command around `score` (scorer.py): rich tables, or the JSON
of metrics.json with --json, printed through report/eval_tables.py. A walk-forward directory is
evaluated on its stitched test parts (commands/walkforward.py)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console

from cryptotrain.errors import UserError
from cryptotrain.evaluate.scorer import EvalResult, score
from cryptotrain.fileio import to_jsonable
from cryptotrain.orchestration.walkforward.stitch import is_walkforward_dir
from cryptotrain.report.eval_tables import print_evaluation
from cryptotrain.report.progress import StepProgress


def evaluate_command(run: Path | None, split: str, checkpoint: str, data: Path | None, as_json: bool,
                     console: Console | None, importance: str | None = None, importance_repeats: int = 5,
                     data_dir: Path | None = None) -> dict:
    """Evaluate; returns the metrics dict that was written to metrics.json."""
    console = console or Console()
    if is_walkforward_dir(run):  # a walk-forward run: its stitched test predictions
        if split != "test" or checkpoint != "best" or data is not None or data_dir is not None:
            raise UserError("a walk-forward run is evaluated on its stitched test parts (best checkpoints); "
                            "drop --split/--checkpoint/--data")
        from cryptotrain.commands.walkforward import evaluate_walkforward

        return evaluate_walkforward(run, as_json=as_json, console=console)
    with StepProgress(console) if not as_json else nullcontext(None) as progress:   # --json: stdout is data
        result = score(run, split=split, checkpoint=checkpoint, data=data, importance=importance,
                       importance_repeats=importance_repeats, on_progress=progress, data_dir=data_dir)
    if run is None and not as_json:   # say which run runs/latest gave: it may not be the one just trained
        console.print(f"run {result.metrics['run']} (from runs/latest; pass --run RUN_DIR for another)", soft_wrap=True,
                      markup=False)
    print_result(result, console, as_json=as_json)
    return result.metrics


def print_result(result: EvalResult, console: Console, *, as_json: bool = False) -> None:
    """The tables of one evaluation (or its metrics as JSON)."""
    m = result.metrics
    if as_json:
        console.print_json(json.dumps(to_jsonable(m)))
        return
    loss, logged = m["loss"]["total"], m["loss"]["training_log_val_loss"]
    title = (f"{Path(m['run']).name}: {m['checkpoint']} checkpoint (epoch {m['epoch']}), {m['split']} split of "
             f"{m['data']['path']}, loss {loss:.5f}" + ("" if logged is None else f" (training log: {logged:.5f})"))
    print_evaluation(result.report, console, title=title, files=[str(f) for f in result.files])
