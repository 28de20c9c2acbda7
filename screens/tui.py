"""The TUI as the CLI runs it: until the operator leaves, then the run's end."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TYPE_CHECKING

from runbook.model import Outcome
from screens.app import create_app, error_words
from screens.terminal import drawing_survives_a_closed_terminal

if TYPE_CHECKING:
    from pathlib import Path

    from runbook.journal_replay import Replay
    from runbook.session import SessionFactory
    from screens.app import GoingBack, RunbookApp
    from screens.starting import Preparing


async def run_tui(open_session: SessionFactory | None = None, *,
                  opening: Preparing | None = None, waiting: str = "",
                  previous: Replay | None = None, host_label: str = "",
                  new_journal: Path | None = None,
                  going_back: GoingBack | None = None,
                  notes: tuple[str, ...] = (), named: bool = False) -> Outcome:
    """Run the app until the operator leaves; the run's outcome, STOPPED if the
    operator quit before the run ended. An `opening` that failed is raised,
    for the CLI to say in its one line."""
    app = create_app(open_session, opening=opening, waiting=waiting, previous=previous,
                     host_label=host_label, new_journal=new_journal, going_back=going_back,
                     notes=notes, named=named)
    with drawing_survives_a_closed_terminal():
        await app.run_async()
    await finish_run(app)
    if app.opening_error is not None:
        raise app.opening_error
    from runbook.claim import ClaimRefused

    if app.runner is not None and isinstance(app.runner.error, ClaimRefused):
        # Refused before the run began: the CLI's one line and exit code.
        raise app.runner.error
    outcome = app.outcome or Outcome.STOPPED
    with contextlib.suppress(OSError):  # a terminal that closed hears nothing
        for note in app.notes if app.opened else ():
            print(note)  # what opening the run said, as before the app it would have
        # Left at the resume dialog, no run wrote its journal: the earlier
        # run's is the one there is (review).
        for line in exit_lines(app, outcome):
            print(line)
    return outcome


def exit_lines(app: RunbookApp, outcome: Outcome) -> list[str]:
    """What the terminal is told as the app closes: how the run ended, its
    journal, and the error that stopped it, whose words say what to do
    (operator trial 59, F8: a full disk was said only on the screen, gone by
    then; headless says it last)."""
    if not app.opened:
        return [f"runbook: {outcome.words} before the run began"]
    # Left at the resume dialog, no run wrote its journal: the earlier
    # run's is the one there is (review).
    journal = app.session.journal_path
    if app.runner is None and app.offered is not None and app.offered.path is not None:
        journal = app.offered.path
    lines = [f"runbook: {outcome.words}; journal: {journal}"]
    if app.run_state.run_error is not None:
        lines.append(f"runbook: the run stopped on an error: {app.run_state.run_error}")
    return lines


async def finish_run(app: RunbookApp) -> None:
    """After the app has closed: a run still going is cancelled and awaited, so
    the journal ends with the run and the SSH connection is closed on return.
    An error the run met as it stopped (as the app closed, or now) is said,
    masked, and the run failed; ctrl+c or an exit while it is awaited goes on
    up (review 55 L2: all of it was swallowed, and only "stopped" said)."""
    from textual.worker import WorkerCancelled, WorkerFailed, WorkerState

    runner = app.runner
    if runner is None:
        return
    if not runner.is_finished:
        if not runner.is_cancelled:
            # Textual cancels its workers as the app closes; once more would
            # cut short the run's own stopping (and an error in it) mid-way.
            runner.cancel()
        # Stopped, as asked; or failed, which its state says below.
        with contextlib.suppress(WorkerCancelled, WorkerFailed, asyncio.CancelledError):
            await runner.wait()
    if runner.state is WorkerState.ERROR and app.run_state.run_error is None:
        # Not heard by the app, closed by then: said here, or never.
        error = app.session.redactor(error_words(runner.error))
        app.run_state.ended(Outcome.FAILED, error)
        with contextlib.suppress(OSError):  # a terminal that closed hears nothing
            print(f"runbook: the run met an error as it stopped: {error}", file=sys.stderr)
    if app.run_state.outcome is None:
        app.run_state.outcome = Outcome.STOPPED
