"""One import direction: every module of the package imports only from its own layer or below.

The layers, lowest first (a module may import its own layer and every layer above it in
this list, never one below it):

    base           errors, fileio, dirlock, outdir, error types, atomic writes, one writer per
                   config/, model_memory, blas,     directory, outputs swapped in as one unit,
                   defaults, csv_writer             the typed config (config/), the memory
                                                    estimate, BLAS threads, backtest defaults,
                                                    CSV files as pandas writes them
    report         report/                          tables and figures from plain data
    data           data/
    nn             nn/
    models         models/ (with inference.py), optim
    train          train/
    evaluate       evaluate/
    backtest       backtest/
    orchestration  orchestration/, predict, runs/  executor/, walkforward/, sweep/ and `predict`: they run
                                                    the whole pipeline, so they sit above backtest
    commands       commands/                        one module per command: calls the library, prints
                                                    through report/
    cli            cli, __main__, and the package's __init__ (its public API re-exports
                   everything, lazily, so nothing inside the package may import from it)

Every `import` and `from ... import` is checked, at module level and inside functions
(an import hidden in a function to dodge a cycle is still an upward import). A new
top-level module or package must be given a layer here before it can be imported.

Only the commands, cli and report/ print: below the commands layer no module except report/
calls `print`, writes to sys.stdout / sys.stderr, or imports `rich.console` (library code
reports through return values and callbacks, STYLE habit 14).
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import cryptotrain

PACKAGE = Path(cryptotrain.__file__).resolve().parent

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("errors", "fileio", "dirlock", "outdir", "config", "model_memory", "blas", "defaults", "csv_writer")),
    ("report", ("report",)),
    ("data", ("data",)),
    ("nn", ("nn",)),
    ("models", ("models", "optim")),
    ("train", ("train",)),
    ("evaluate", ("evaluate",)),
    ("backtest", ("backtest",)),
    ("orchestration", ("orchestration", "predict", "predict_universe", "runs")),
    ("commands", ("commands",)),
    ("cli", ("cli", "__main__", "__init__")),
]


def layer_of(module: str) -> int | None:
    """Layer index of a dotted module name inside the package (None: not ours or unassigned)."""
    parts = module.split(".")
    if parts[0] != "cryptotrain":
        return None
    top = parts[1] if len(parts) > 1 else "__init__"
    for rank, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(top, p) for p in patterns):
            return rank
    return -1


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)   # cryptotrain/__init__.py -> cryptotrain


def imported_modules(tree: ast.AST, this: str, is_package: bool, root: Path):
    """(line, dotted module) for every import in the tree, relative imports resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = this.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from cryptotrain import data` imports the subpackage, `from cryptotrain import fit` the facade
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                rel = Path(*sub.split("."))
                if (root.parent / rel).is_dir() or (root.parent / rel).with_suffix(".py").is_file():
                    yield node.lineno, sub
                else:
                    yield node.lineno, mod if mod != "cryptotrain" else "cryptotrain.__init__"


def violations(root: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        this = module_name(path, root)
        mine = layer_of(this)
        where = path.relative_to(root.parent)
        if mine == -1:
            out.append(f"{where}: module {this} has no layer; add it to LAYERS in tests/test_layering.py")
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, mod in imported_modules(tree, this, path.name == "__init__.py", root):
            theirs = layer_of(mod)
            if theirs is None:
                continue
            if theirs == -1:
                out.append(f"{where}:{line}: imports {mod}, which has no layer; add it to LAYERS")
            elif theirs > mine:
                out.append(f"{where}:{line}: {this} ({LAYERS[mine][0]}) imports {mod} ({LAYERS[theirs][0]}), "
                           "a higher layer")
    return out


PRINTING_LAYERS = ("report", "commands", "cli")


def printing(tree: ast.AST):
    """(line, what) for every print, console import and direct write to stdout / stderr in the tree."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            yield node.lineno, "calls print()"
        elif isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr") \
                and isinstance(node.value, ast.Name) and node.value.id == "sys":
            yield node.lineno, f"uses sys.{node.attr}"
        elif isinstance(node, ast.Import) and any(a.name.startswith("rich.console") for a in node.names):
            yield node.lineno, "imports rich.console"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rich") and (
                node.module.startswith("rich.console") or any(a.name == "console" for a in node.names)):
            yield node.lineno, "imports rich.console"


def print_violations(root: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        rank = layer_of(module_name(path, root))
        if rank is None or rank == -1 or LAYERS[rank][0] in PRINTING_LAYERS:
            continue
        for line, what in printing(ast.parse(path.read_text(), filename=str(path))):
            out.append(f"{path.relative_to(root.parent)}:{line}: {what}, below the commands layer "
                       "(return the data or take a callback; print in commands/ through report/)")
    return out


def test_no_module_imports_a_higher_layer():
    found = violations()
    assert not found, "upward imports:\n" + "\n".join(found)


def test_the_check_finds_an_upward_import_inside_a_function(tmp_path):
    pkg = tmp_path / "cryptotrain"
    (pkg / "data").mkdir(parents=True)
    (pkg / "train").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "__init__.py").write_text("")
    (pkg / "train" / "__init__.py").write_text("")
    (pkg / "train" / "loop.py").write_text("from ..data import x\nfrom . import y\n")   # down and level: fine
    (pkg / "data" / "x.py").write_text("import numpy\n\n\ndef f():\n    from cryptotrain.train import loop\n")
    (pkg / "data" / "y.py").write_text("from .. import fit\n")   # the facade, from inside: upward
    (pkg / "newthing.py").write_text("")
    found = violations(pkg)
    assert any(v.startswith("cryptotrain/data/x.py:5: cryptotrain.data.x (data) imports cryptotrain.train.loop")
               for v in found), found
    assert any(v.startswith("cryptotrain/data/y.py:1:") and "cryptotrain.__init__ (cli)" in v for v in found), found
    assert any("newthing has no layer" in v for v in found), found
    assert not any("loop.py" in v for v in found), found


def test_nothing_below_the_commands_prints():
    found = print_violations()
    assert not found, "printing below the commands layer:\n" + "\n".join(found)


def test_the_print_check_finds_a_print_and_a_console_below_the_commands(tmp_path):
    """Catches a library module that prints (a `print` or a rich Console in data/), which would
    write into a notebook's or a Ray worker's output; report/ and commands/ may."""
    pkg = tmp_path / "cryptotrain"
    for sub in ("data", "report", "commands", "train"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "x.py").write_text("def f():\n    print('hi')\n")
    (pkg / "train" / "y.py").write_text("from rich.console import Console\nimport sys\nsys.stderr.write('x')\n")
    (pkg / "report" / "ok.py").write_text("from rich.console import Console\nprint('fine')\n")
    (pkg / "commands" / "ok.py").write_text("from rich.console import Console\nprint('fine')\n")
    found = print_violations(pkg)
    assert any(v.startswith("cryptotrain/data/x.py:2: calls print()") for v in found), found
    assert any(v.startswith("cryptotrain/train/y.py:1: imports rich.console") for v in found), found
    assert any(v.startswith("cryptotrain/train/y.py:3: uses sys.stderr") for v in found), found
    assert not any("ok.py" in v for v in found), found
