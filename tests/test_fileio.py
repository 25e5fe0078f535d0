"""Atomic writes: outputs get the mode an ordinary open() gives under the user's umask, not mkstemp's 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.fileio import atomic_path, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def umask():
    def set_(mask: int) -> None:
        os.umask(mask)
    old = os.umask(0o022)
    yield set_
    os.umask(old)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_new_files_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    atomic_write_text(tmp_path / "a.txt", "x")
    with atomic_path(tmp_path / "sub" / "b.bin") as tmp:
        tmp.write_bytes(b"x")
    assert _mode(tmp_path / "a.txt") == expected
    assert _mode(tmp_path / "sub" / "b.bin") == expected


def test_an_existing_file_keeps_its_mode(tmp_path, umask):
    p = tmp_path / "a.txt"
    p.write_text("old")
    p.chmod(0o600)
    atomic_write_text(p, "new")
    assert p.read_text() == "new" and _mode(p) == 0o600


def test_a_training_run_is_readable_by_colleagues(tmp_path, umask):
    """Every file of a run, checkpoints and the latest pointer included, is 0644 under umask 022."""
    umask(0o022)
    res = CliRunner().invoke(app, ["train", "--config", str(ROOT / "configs/tiny.yaml"), "--set",
                                   f"train.runs_dir={tmp_path}", "--set", "train.epochs=1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "best.npz" for p in files) and (tmp_path / "latest") in files
    assert {str(p.relative_to(tmp_path)): oct(_mode(p)) for p in files if _mode(p) != 0o644} == {}
