"""Where a sweep's Optuna study lives, checked before the sweep uses it.

- The default, SWEEP_DIR/study.journal (Optuna's append-only journal file): `check_journal` reads it
  before Optuna does. A last line cut off by a kill (no newline at its end, every line before it a
  record) is dropped, atomically, before anything is appended after it, and the warning it returns
  names what was lost (Optuna redoes that step: a trial whose end was lost is resumed from its
  directory). Any other damage (junk, a garbage line in the middle) is a UserError naming the file
  and line, and the journal is never written to.
- An RDB URL (`--storage`): `check_storage_url` refuses, before any directory is made, what is not
  a database URL, a driver that is not installed, and a SQLite URL that names no file (a study kept
  in memory and lost) or a file in a directory that does not exist.

`study_name`: the journal holds one sweep, named "sweep"; on a shared URL each sweep directory has
its own study, named after the directory's absolute path, so two sweeps never continue each other.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cryptotrain.errors import UserError
from cryptotrain.fileio import atomic_write_bytes

JOURNAL = "study.journal"
STUDY = "sweep"
# Optuna's JournalOperation codes, as a warning names them
_OPS = {0: "the study's creation", 2: "a study attribute", 3: "a study attribute", 4: "the creation of trial {t}",
        5: "a drawn value of trial {t}", 6: "the state and result of trial {t}",
        7: "an epoch's validation loss of trial {t}", 8: "a result attribute of trial {t}",
        9: "an attribute of trial {t}"}


def study_name(sweep_dir: Path, storage: str | None) -> str:
    return f"{STUDY}:{Path(sweep_dir).resolve()}" if storage else STUDY


def check_storage_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    default = "or leave --storage out (a journal file in the sweep directory)"
    try:
        u = make_url(url)
    except ArgumentError:
        raise UserError(f"--storage {url}: not a database URL; give one such as sqlite:///runs/studies.db, "
                        f"{default}") from None
    try:
        u.get_dialect()
    except NoSuchModuleError:
        raise UserError(f"--storage {url}: no SQLAlchemy driver for {u.drivername!r} is installed; use sqlite, "
                        f"postgresql or mysql (with its driver installed), {default}") from None
    if u.get_backend_name() != "sqlite":
        return
    db = u.database or ""
    if db in ("", ":memory:") or db.startswith("file::memory:") or "mode=memory" in str(u.query):
        raise UserError(f"--storage {url} names no database file: the study would be kept in memory and lost "
                        f"when the sweep ends; give a path, e.g. sqlite:///runs/studies.db, {default}")
    parent = Path(db).parent
    if not parent.is_dir():
        raise UserError(f"--storage {url}: the directory {parent} of its database file does not exist; create it "
                        "or give another path (sqlite:///REL/PATH is relative to here, sqlite:////ABS/PATH absolute)")


def check_journal(path: Path) -> str | None:
    """Check the journal before Optuna reads or appends to it; -> a warning when a cut last line was dropped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    *lines, tail = data.split(b"\n")          # tail: what follows the last newline (b"" when whole)
    damaged = "the journal is damaged and left as it is: restore it, or start a new sweep with another --run-name"
    for i, line in enumerate(lines, start=1):
        why = _not_a_record(line)
        if why:
            raise UserError(f"{path}: line {i} is not a record of an Optuna journal ({why}); {damaged}")
    if not tail:
        return None
    if _not_a_record(tail) is None:           # a whole record that only lacks its newline
        atomic_write_bytes(path, data + b"\n")
        return None
    if not lines or not tail.startswith(b"{"):
        raise UserError(f"{path}: line {len(lines) + 1} is not a record of an Optuna journal "
                        f"({_not_a_record(tail)}); {damaged}")
    atomic_write_bytes(path, data[: len(data) - len(tail)])
    return (f"{path}: its last line was cut off by a kill ({len(tail)} bytes of {_what(tail)}); dropped it before "
            "anything is appended: the sweep redoes that step (a trial whose end was lost is resumed)")


def _not_a_record(line: bytes) -> str | None:
    try:
        rec = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except ValueError:
        return "not JSON"
    if not isinstance(rec, dict) or not isinstance(rec.get("op_code"), int):
        return "no op_code"
    return None


def _what(tail: bytes) -> str:
    op = re.search(rb'"op_code":\s*(\d+)', tail)
    trial = re.search(rb'"trial_id":\s*(\d+)', tail)
    if op is None:
        return "a record"
    what = _OPS.get(int(op.group(1)), "a record")
    return what.format(t=int(trial.group(1)) if trial else "?")
