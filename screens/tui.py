"""The TUI as the CLI runs it: until the operator leaves, then the run's end."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from runbook.model import Outcome
from screens.app import create_app
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
    outcome = app.outcome or Outcome.STOPPED
    with contextlib.suppress(OSError):  # a terminal that closed hears nothing
        for note in app.notes if app.opened else ():
            print(note)  # what opening the run said, as before the app it would have
        # Left at the resume dialog, no run wrote its journal: the earlier
        # run's is the one there is (review).
        journal = app.session.journal_path if app.opened else None
        if app.opened and app.runner is None and app.offered is not None \
                and app.offered.path is not None:
            journal = app.offered.path
        print(f"runbook: {outcome.words}; journal: {journal}" if app.opened
              else f"runbook: {outcome.words} before the run began")
    return outcome


async def finish_run(app: RunbookApp) -> None:
    """After the app has closed: a run still going is cancelled and awaited, so
    the journal ends with the run and the SSH connection is closed on return."""
    runner = app.runner
    if runner is not None and not runner.is_finished:
        runner.cancel()
        with contextlib.suppress(Exception, BaseException):
            await runner.wait()
        if app.run_state.outcome is None:
            app.run_state.outcome = Outcome.STOPPED
