"""The executor's FrontEnd, Textual side: turns engine calls into messages.

Everything here is called from the executor's worker. Nothing touches a
widget: state changes become messages the app handles, and output lines go
into an :class:`OutputStore` (plain data) that the app drains on a timer, because a
message per line would cost more than the line itself when a step prints
100,000 of them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from pathlib import Path
from typing import Any, Protocol

from textual.message import Message

from runbook.executor import Decision
from runbook.model import Action, StepReport
from screens.messages import (
    ConfirmRequested,
    ProgressChanged,
    ReviewRequested,
    RunEvent,
    StepChanged,
)
from screens.presentation import output_lines


class Poster(Protocol):
    def post_message(self, message: Message) -> bool: ...


class OutputStore:
    """Every step's output lines (with their stream gutter), newest kept.

    ``pending`` holds what arrived since the screen last drew, per step; the
    app takes it in one go and writes it with one ``Log.write_lines`` call.
    """

    def __init__(self, per_step: int = 100_000) -> None:
        self.per_step = per_step
        self.lines: dict[str, deque[str]] = {}
        self.dropped: dict[str, int] = {}
        self.pending: dict[str, list[str]] = {}
        self.last_step: str | None = None

    def add(self, step_id: str, stream: str, line: str) -> None:
        kept = self.lines.get(step_id)
        if kept is None:
            kept = self.lines[step_id] = deque(maxlen=self.per_step)
        new = output_lines(stream, line)
        overflow = len(kept) + len(new) - self.per_step
        if overflow > 0:
            self.dropped[step_id] = self.dropped.get(step_id, 0) + overflow
        kept.extend(new)
        self.pending.setdefault(step_id, []).extend(new)
        self.last_step = step_id

    def take_pending(self) -> dict[str, list[str]]:
        pending, self.pending = self.pending, {}
        return pending

    def of(self, step_id: str) -> deque[str]:
        return self.lines.get(step_id, deque())


class TuiFrontEnd:
    """Implements runbook.executor.FrontEnd (and the optional review) for the app."""

    def __init__(self, app: Poster, store: OutputStore) -> None:
        self.app = app
        self.store = store
        # The running executor, for the one thing a front end may ask of it
        # directly: detach (leave the current command running on the host).
        self.executor: Any = None

    def run_started(self, executor: Any) -> None:
        self.executor = executor

    def detach(self) -> bool:
        if self.executor is None:
            return False
        self.executor.detach()
        return True

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        answer: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.app.post_message(ConfirmRequested(dataclasses.replace(step), list(plan), answer))
        return await answer

    def step_state(self, step: StepReport) -> None:
        self.app.post_message(StepChanged(dataclasses.replace(step)))

    def output(self, step_id: str, stream: str, line: str) -> None:
        self.store.add(step_id, stream, line)

    def progress(self, step_id: str, done: float, total: float | None, label: str) -> None:
        self.app.post_message(ProgressChanged(step_id, done, total, label))

    def run_event(self, event: str, data: dict[str, Any]) -> None:
        self.app.post_message(RunEvent(event, dict(data)))

    async def review(
        self, step_id: str, review: Any, *, decisions_path: Path | None = None, **_: Any
    ) -> bool:
        finished: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.app.post_message(ReviewRequested(step_id, review, decisions_path, finished))
        return await finished
