"""Messages from the executor's side to the app's handlers.

The executor runs in a worker and must never touch a widget; it tells the app
what happened through these, and the app's handlers own every change on screen.
Reports are copied before posting: the executor keeps mutating its StepReport,
and a handler running a moment later must see the state that was reported.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.message import Message

from runbook.executor import Decision
from runbook.model import Action, StepReport


@dataclass
class StepChanged(Message):
    report: StepReport


@dataclass
class ConfirmRequested(Message):
    """The executor waits on `answer` until the operator decides about `report`."""

    report: StepReport
    plan: list[Action]
    answer: asyncio.Future[Decision]


@dataclass
class ReviewRequested(Message):
    """The properties step waits on `finished` while the operator reviews."""

    step_id: str
    review: Any
    decisions_path: Path | None
    finished: asyncio.Future[bool]


@dataclass
class ProgressChanged(Message):
    step_id: str
    done: float
    total: float | None
    label: str

    def can_replace(self, message: Message) -> bool:
        # Uploads report many times a second; only the newest one matters.
        return isinstance(message, ProgressChanged) and message.step_id == self.step_id


@dataclass
class RunEvent(Message):
    event: str
    data: dict[str, Any]


@dataclass
class EstimateFound(Message):
    """The downtime of the newest earlier run in the journal folder."""

    downtime_s: float
    journal: Path
