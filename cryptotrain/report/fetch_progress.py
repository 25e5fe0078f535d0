"""Progress of a download: a rich bar on a terminal, plain lines otherwise (logs, CI, pipes).

Shows candles fetched of expected, requests, retries and the timestamp reached. Every message
goes through the redactor, so a secret can never reach the screen.
"""

from __future__ import annotations

from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn


class FetchProgress:
    """Use as a context manager; `update` after each page, `note` for retry messages."""

    def __init__(self, console: Console, expected: int, redact: Callable[[str], str],
                 counters: Callable[[], tuple[int, int]], format_time: Callable[[int], str]):
        """`counters()` -> (requests, retries) so far; `format_time(ms)` -> the text of a candle time."""
        self.console, self.expected, self.redact, self.counters = console, max(expected, 0), redact, counters
        self.format_utc = format_time
        self.fetched = 0
        self._bar: Progress | None = None
        self._task = None

    def __enter__(self) -> "FetchProgress":
        if self.console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]fetch"), BarColumn(), TaskProgressColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} candles"),
                TextColumn("requests {task.fields[requests]}  retries {task.fields[retries]}"),
                TextColumn("at {task.fields[at]}"), TimeElapsedColumn(),
                console=self.console, transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task("fetch", total=max(self.expected, 1), requests=0, retries=0, at="-")
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def update(self, new: int, cursor: int, wrote: bool) -> None:
        self.fetched += new
        requests, retries = self.counters()
        if self._bar is not None:
            self._bar.update(self._task, completed=min(self.fetched, self.expected or self.fetched),
                             requests=requests, retries=retries, at=self.format_utc(cursor))
        elif wrote:
            self.console.print(f"fetch: {self.fetched}/{self.expected} candles, {requests} requests, "
                               f"{retries} retries, at {self.format_utc(cursor)}", highlight=False, soft_wrap=True,
                               markup=False)

    def note(self, text: str) -> None:
        if self._bar is not None:
            requests, retries = self.counters()
            self._bar.update(self._task, requests=requests, retries=retries)
        (self._bar.console if self._bar is not None else self.console).print(
            self.redact(text), highlight=False, markup=False, soft_wrap=True)
