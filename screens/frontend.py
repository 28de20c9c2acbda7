"""The executor's FrontEnd, Textual side: turns engine calls into messages.

Everything here is called from the executor's worker. Nothing touches a
widget: state changes become messages the app handles, and output lines go
into an :class:`OutputStore` (plain data) that the app drains a moment after
the first line of a burst, because a message per line would cost more than
the line itself when a step prints 100,000 of them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from textual.message import Message

from runbook.events import Event, Output, Progress, ReconnectGaveUp, Reconnecting, StepChanged
from runbook.executor import Decision, Recovery
from runbook.model import Action, StepReport, StepState, result_line
from screens.messages import (
    ConfirmRequested,
    EngineEvent,
    OutputArrived,
    ProgressChanged,
    RecoveryRequested,
    ReviewRequested,
)
from screens.output_store import OutputStore

if TYPE_CHECKING:
    from runbook.properties import Review  # loaded when a review opens


# A step in these states has not ended: no result to show yet.
_UNDER_WAY = (StepState.PENDING, StepState.RUNNING)

# Under the known_hosts line a refused host key says to add: the pane wraps
# every line (it has no sideways scroll), so a mouse copy from it breaks the
# line where it wraps (trial 54, F15); the question's y copies it whole.
COPY_NOTE = ("(y at this step's question copies the line above whole; copied from here, "
             "it breaks where it wraps)")


def with_copy_note(verdict: str, known_hosts_line: str | None) -> str:
    """`verdict` with COPY_NOTE on the row after the known_hosts line it names."""
    if not known_hosts_line:
        return verdict
    lines = verdict.split("\n")
    if known_hosts_line not in lines:
        return verdict
    at = lines.index(known_hosts_line)
    return "\n".join([*lines[:at + 1], COPY_NOTE, *lines[at + 1:]])


class Poster(Protocol):
    def post_message(self, message: Message) -> bool: ...


class TuiFrontEnd:
    """Implements runbook.executor.FrontEnd for the app."""

    def __init__(self, app: Poster, store: OutputStore) -> None:
        self.app = app
        self.store = store
        self._ran: set[str] = set()  # steps that ran (not only checked) in this run
        self._running: str | None = None  # the step running now, if one is

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        answer: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.app.post_message(ConfirmRequested(step, list(plan), answer))
        return await answer

    async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
        answer: asyncio.Future[Recovery] = asyncio.get_running_loop().create_future()
        self.app.post_message(RecoveryRequested(step, can_roll_back, answer))
        return await answer

    def tell(self, event: Event) -> None:
        match event:
            case Output(step_id=step_id, stream=stream, line=line, warning=warning):
                if self.store.add(step_id, stream, line):
                    self.app.post_message(OutputArrived())
                if warning:
                    # Rare, and the run state keeps them: the store does not say.
                    self.app.post_message(EngineEvent(event))
            case Progress():
                self.app.post_message(ProgressChanged(event))
            case Reconnecting() | ReconnectGaveUp():
                # In the running step's output too, as headless prints it
                # (trial 59 F7: the pane showed the command as if sent, and
                # only the status bar said the connection was gone).
                if self._running is not None and self.store.add(self._running, "info",
                                                                event.said()):
                    self.app.post_message(OutputArrived())
                self.app.post_message(EngineEvent(event))
            case StepChanged(report=report):
                # The transcript of a step that ran ends with how it ended, as
                # the journal's step-end (and `runbook log`) says it. Not one
                # only checked: the pane shows the step whose output came last.
                if report.state is StepState.RUNNING:
                    self._ran.add(report.id)
                    self._running = report.id
                elif report.id == self._running:
                    self._running = None
                if report.detail and report.state not in _UNDER_WAY:
                    verdict = with_copy_note(result_line(report.state.value, report.detail),
                                             report.known_hosts_line)
                    if report.id not in self._ran:
                        # Found so by its check: in the full log, as in `runbook
                        # log` (operator trial), but not where the pane would follow.
                        self.store.add_to_log(report.id, "info", verdict)
                        self.app.post_message(OutputArrived())
                    elif self.store.add(report.id, "info", verdict):
                        self.app.post_message(OutputArrived())
                self.app.post_message(EngineEvent(event))
            case _:
                self.app.post_message(EngineEvent(event))

    async def review(self, step_id: str, review: Review, *,
                     decisions_path: Path | None) -> bool:
        finished: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.app.post_message(ReviewRequested(step_id, review, decisions_path, finished))
        return await finished
