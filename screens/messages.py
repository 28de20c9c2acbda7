"""Messages from workers to the app's handlers.

The executor runs in a worker and must never touch a widget; it tells the app
what happened through these, as the estimate's worker does what it found, and
the app's handlers own every change on screen.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from runbook.events import Event, Progress
from runbook.executor import Decision, Recovery
from runbook.model import Action, StepReport

if TYPE_CHECKING:
    # Only named here: the properties code loads when a review opens, not
    # before the first screen paints.
    from runbook.properties import Review


@dataclass
class EngineEvent(Message):
    """Anything the engine told the front end, except output lines (a store
    takes those) and progress (replaceable, below)."""

    event: Event


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
    review: Review
    decisions_path: Path | None
    finished: asyncio.Future[bool]


@dataclass
class ProgressChanged(Message):
    """A long action's progress, for the step pane and the status bar."""
    progress: Progress

    def can_replace(self, message: Message) -> bool:
        # Uploads report many times a second; only the newest one matters.
        return isinstance(message, ProgressChanged) and \
            message.progress.step_id == self.progress.step_id


@dataclass
class EstimateFound(Message):
    """The downtime of the newest earlier run in the journal folder."""

    downtime_s: float
    journal: Path


@dataclass
class RecoveryRequested(Message):
    """A step failed; the executor waits on `answer` for retry, rollback or stop."""

    report: StepReport
    can_roll_back: bool
    answer: asyncio.Future[Recovery]


class OutputArrived(Message):
    """Output lines are waiting in the store: the first of a burst says so,
    and the app draws the burst a moment later in one write."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, OutputArrived)
