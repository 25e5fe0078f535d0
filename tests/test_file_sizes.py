"""Files stay small (STYLE habit 13: about 300 lines). A package file over the limit fails this test
unless it is named below with the reason it is one piece; a named file that shrank below the limit
fails too, so the list never keeps stale entries."""

from __future__ import annotations

from pathlib import Path

import cryptotrain

PACKAGE = Path(cryptotrain.__file__).resolve().parent
LIMIT = 300

ALLOWED = {
    "cli.py": "the Typer options of every command, one thin function each (no logic: each calls one "
              "function in commands/); splitting it would scatter the command line over files",
    "data/ohlcv.py": "the one candle-file loader: read, check every value, clean, gaps, write; its checks "
                     "share private helpers and the messages' row naming",
}


def long_files(root: Path = PACKAGE, limit: int = LIMIT) -> dict[str, int]:
    """{path relative to the package: lines} of every .py file over `limit` lines."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        n = len(path.read_text().splitlines())
        if n > limit:
            out[path.relative_to(root).as_posix()] = n
    return out


def test_no_package_file_is_over_300_lines_unless_named_with_a_reason():
    found = long_files()
    unexplained = {f: n for f, n in found.items() if f not in ALLOWED}
    assert not unexplained, (f"files over {LIMIT} lines: {unexplained}; split them by job, or name them in "
                             "ALLOWED with the reason they are one piece")
    stale = sorted(set(ALLOWED) - set(found))
    assert not stale, f"{stale} are no longer over {LIMIT} lines: take them out of ALLOWED"


def test_the_check_finds_a_long_file(tmp_path):
    """Catches a counting bug that would let every file pass (the check must see a 301-line file)."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "long.py").write_text("x = 1\n" * 301)
    (tmp_path / "short.py").write_text("x = 1\n" * 300)
    assert long_files(tmp_path) == {"sub/long.py": 301}
