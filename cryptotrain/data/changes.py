"""What changed in a candle file since a run was trained on it, in words a user can act on.

A checkpoint stores the file's fingerprint (rows, first and last open time, sha256) and, since
this was added, the number of windows in each split. `describe_data_change` compares them with
the file as it is now: "rows 500 -> 90; candles 2026-01-01 00:00 to 2026-01-21 19:00 -> ... to
2026-01-04 17:00 (2026-01-04 18:00 to 2026-01-21 19:00 gone); windows test 66 -> 0". Only the
fingerprint is stored, not the candles, so a change inside an unchanged range is reported as
such ("same rows and range, other values") without saying which candles differ.
"""

from __future__ import annotations

from cryptotrain.data.dataset import iso_utc

KEYS = ("rows", "first_ts", "last_ts", "sha256")


def data_changed(stored: dict, current: dict) -> bool:
    return any(stored.get(k) != current.get(k) for k in KEYS)


def window_counts(ds) -> dict[str, int]:
    """Windows per split of a Dataset."""
    return {k: int(len(v)) for k, v in ds.splits.items()}


def describe_data_change(stored: dict, current: dict, windows_then: dict | None, windows_now: dict | None) -> str:
    """One sentence: the file, its rows, the candle range that was added or is gone, the windows per split."""
    parts = []
    if stored.get("rows") != current.get("rows"):
        parts.append(f"rows {stored.get('rows')} -> {current.get('rows')}")
    span = _span_change(stored, current)
    if span:
        parts.append(span)
    if windows_then and windows_now:
        moved = [f"{k} {windows_then.get(k)} -> {windows_now.get(k)}" for k in ("train", "val", "test")
                 if windows_then.get(k) != windows_now.get(k)]
        parts.append("windows " + ", ".join(moved) if moved else "the same windows per split")
    if not span and stored.get("rows") == current.get("rows"):
        parts.append("same rows and time range but other values (sha256 differs)")
    return f"the data file {current.get('path')} changed since training: " + "; ".join(parts)


def _span_change(stored: dict, current: dict) -> str:
    a0, a1, b0, b1 = (stored.get("first_ts"), stored.get("last_ts"), current.get("first_ts"), current.get("last_ts"))
    if None in (a0, a1, b0, b1) or (a0, a1) == (b0, b1):
        return ""
    out = f"candles {iso_utc(a0)} to {iso_utc(a1)} -> {iso_utc(b0)} to {iso_utc(b1)}"
    notes = []
    if b0 > a0:
        notes.append(f"from {iso_utc(a0)} to before {iso_utc(b0)} gone")
    if b1 < a1:
        notes.append(f"after {iso_utc(b1)} to {iso_utc(a1)} gone")
    if b0 < a0:
        notes.append(f"{iso_utc(b0)} to before {iso_utc(a0)} added")
    if b1 > a1:
        notes.append(f"after {iso_utc(a1)} to {iso_utc(b1)} added")
    return out + f" ({', '.join(notes)})"
