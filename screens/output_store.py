"""Every step's output lines, kept as plain data for the output pane.

Output arrives far faster than the screen should redraw: the front end adds
lines here from the executor's side, and the app takes what is pending a
moment after the first line of a burst and writes it in one call, because a
message per line would cost more than the line itself when a step prints
100,000 of them.
"""

from __future__ import annotations

from collections import deque
from itertools import repeat

from screens.presentation import output_lines


class OutputStore:
    """Every step's output lines (with their stream gutter), newest kept.

    ``pending`` holds what arrived since the screen last drew, per step; the
    app takes it in one go and writes it with one ``Log.write_lines`` call.
    """

    def __init__(self, per_step: int = 100_000, whole: int = 500_000) -> None:
        self.per_step = per_step
        self.lines: dict[str, deque[str]] = {}
        self.dropped: dict[str, int] = {}
        self.pending: dict[str, list[str]] = {}
        self.last_step: str | None = None
        # The actions each step has started, as their cmd lines render them.
        self.commands: dict[str, set[str]] = {}
        # Every line in the order it came, with its step, for the full log
        # (`L`); `added` counts them all, the oldest beyond `whole` dropped.
        self.history: deque[tuple[str, str]] = deque(maxlen=whole)
        self.added = 0
        # A continued run's earlier lines, from its journal (plain, no gutter).
        self.earlier: list[tuple[str, str]] = []

    def add(self, step_id: str, stream: str, line: str) -> bool:
        """Keep a line; True when it is the first since the screen last drew."""
        first = not self.pending
        kept = self.lines.get(step_id)
        if kept is None:
            kept = self.lines[step_id] = deque(maxlen=self.per_step)
        if stream == "cmd":
            self.commands.setdefault(step_id, set()).add(line)
        new = output_lines(stream, line)
        overflow = len(kept) + len(new) - self.per_step
        if overflow > 0:
            self.dropped[step_id] = self.dropped.get(step_id, 0) + overflow
        kept.extend(new)
        self._to_history(step_id, new)
        self.pending.setdefault(step_id, []).extend(new)
        self.last_step = step_id
        return first

    def add_to_log(self, step_id: str, stream: str, line: str) -> None:
        """Keep a line for the full log only: the step's pane, and which step
        the pane follows, stay as they were."""
        self._to_history(step_id, output_lines(stream, line))

    def _to_history(self, step_id: str, new: list[str]) -> None:
        self.history.extend(zip(repeat(step_id), new))
        self.added += len(new)

    def take_pending(self) -> dict[str, list[str]]:
        pending, self.pending = self.pending, {}
        return pending

    def of(self, step_id: str) -> deque[str]:
        return self.lines.get(step_id, deque())
