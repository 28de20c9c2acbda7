"""``runbook diff OLD NEW`` without --check or --json: the review editor as its own app.

:func:`create_diff_app` is the one way to build it, for the command line and the tests
alike. Everything that can be wrong with the input (a missing or binary file, a bad
escape, a broken decisions file, a malformed ``--set``, an output folder that is not
there) is found while building, before the terminal is taken over, so the operator
gets one line naming the file and line instead of a half-drawn screen.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from textual.app import App

from runbook.collector import start_up_over
from runbook.properties import (
    Decisions,
    DecisionsError,
    PropertiesError,
    Review,
    cannot_write_to,
    given_the_wrong_way_round,
    identical_files,
    names,
    one_file_given_twice,
    parse_sets,
    review_files,
    unknown_sets,
)
from runbook.visible import visible
from screens.properties_review import PropertiesReviewScreen
from screens.terminal import drawing_survives_a_closed_terminal

__all__ = ["DiffApp", "DiffInputError", "create_diff_app", "run_diff_app"]

EXIT_DONE = 0
EXIT_UNDECIDED = 1
EXIT_BAD_INPUT = 2


class DiffInputError(ValueError):
    """An argument of ``runbook diff`` that is wrong before any file is read."""


class DiffApp(App[bool]):
    """Shows the review screen and ends when the operator writes or leaves."""

    TITLE = "runbook diff"
    # Every review action has its own key in the footer; the palette would add nothing.
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        review: Review,
        *,
        decisions_path: Path | None,
        merged_path: Path | None,
        cautions: Sequence[str] = (),
        swapped: str | None = None,
    ) -> None:
        super().__init__()
        self.review = review
        # Said as the editor opens and again on stderr once it has closed;
        # `swapped`, one of them (the template given first, near certainly),
        # under the editor's title all along instead of as a notice, which
        # covered the list and went while it was read (operator trial 57, F8).
        self.cautions = list(cautions)
        self.swapped = swapped
        self.stopped_by: signal.Signals | None = None
        # One row down to 60 columns: the list keeps its rows (the summary
        # counts the placeholders; stderr says which keys, as it closes).
        header = "⚠ Given the template first? The live file goes first." if swapped else ""
        self.review_screen = PropertiesReviewScreen(
            review, decisions_path=decisions_path, merged_path=merged_path, caution=header
        )

    def on_mount(self) -> None:
        self.push_screen(self.review_screen, self._finished)
        # Python's default for either ends the process where it stands, the
        # terminal left in the alternate screen with mouse reporting on (trial:
        # the prompt drew over the editor, clicks typed escape codes). Leave as
        # q q does instead, nothing written, and exit 128 + the signal.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._stopped_by, sig)

    def _stopped_by(self, sig: signal.Signals) -> None:
        if self.stopped_by is None:
            self.stopped_by = sig
            self.exit(False, return_code=128 + sig)

    def on_ready(self) -> None:
        start_up_over()  # painted: the collector no longer holds the operator up
        for caution in self.cautions:
            if caution == self.swapped:
                continue  # under the title
            # Plain text: the key is as a file spells it, brackets and all.
            self.notify(caution, severity="warning", timeout=30, markup=False)

    def _finished(self, finished: bool | None) -> None:
        self.exit(bool(finished))

    async def action_quit(self) -> None:
        """ctrl+q (which ctrl+c points to) leaves as q does, asking first about
        decisions not yet written (operator trial: it dropped them at once)."""
        if self.screen is self.review_screen:
            self.review_screen.action_leave()
        else:
            await super().action_quit()

    @property
    def exit_code(self) -> int:
        """0 when nothing is left to decide (written, or nothing to write) and
        the merged file asked for is written, else 1.

        Worked out from the review rather than from how the app ended, so every
        way out is judged by the same rule."""
        if self.stopped_by is not None:
            return 128 + self.stopped_by
        open_keys = bool(self.review_screen.left_open()[0])
        unwritten = self.review_screen.merged_unwritten or self.review_screen.left_unwritten
        return EXIT_UNDECIDED if open_keys or unwritten else EXIT_DONE

    @property
    def report(self) -> list[str]:
        """What was written, to repeat on stderr once the terminal is back."""
        return list(self.review_screen.written)


def _check_target(path: Path | None, option: str) -> None:
    why = cannot_write_to(path) if path is not None else None
    if why is not None:
        raise DiffInputError(f"{option} {path}: {why}")


def create_diff_app(
    old: Path,
    new: Path,
    *,
    sets: list[str],
    decisions: Path | None,
    out: Path | None,
    needs: dict[str, str] | None = None,
    read_before: dict[str, str] | None = None,
    cautions: Sequence[str] = (),
) -> DiffApp:
    """Read and review both files, apply the decisions file if there is one, build the app.

    Raises :class:`~runbook.properties.PropertiesError`,
    :class:`~runbook.properties.DecisionsError` or :class:`DiffInputError`, each with a
    one-line message, for input the review cannot use.
    """
    try:
        overrides = parse_sets(sets)
    except ValueError as exc:
        raise DiffInputError(str(exc)) from None
    _check_target(out, "--out")
    _check_target(decisions, "--decisions")
    twice = one_file_given_twice(old, new)
    if twice is not None:
        raise DiffInputError(twice)
    # A decisions file that does not exist yet is where w will write the first one.
    loaded = Decisions.load(decisions) if decisions is not None and decisions.exists() else None
    result = review_files(old, new, overrides=overrides, decisions=loaded, needs=needs,
                          read_before=read_before)
    result.asked = overrides
    swapped = given_the_wrong_way_round(result)
    said = [swapped, identical_files(old, new)]
    return DiffApp(result, decisions_path=decisions, merged_path=out,
                   cautions=[*cautions, *(line for line in said if line),
                             *unknown_sets(result, overrides)], swapped=swapped)


def run_diff_app(
    old: Path,
    new: Path,
    *,
    sets: list[str],
    decisions: Path | None,
    out: Path | None,
    needs: dict[str, str] | None = None,
    read_before: dict[str, str] | None = None,
    cautions: Sequence[str] = (),
    stderr: TextIO = sys.stderr,
) -> int:
    """Run the editor; 0 nothing left to decide, 1 keys left undecided, 2 bad input,
    128 + the signal when SIGTERM or SIGHUP stopped it."""
    try:
        app = create_diff_app(old, new, sets=sets, decisions=decisions, out=out, needs=needs,
                              read_before=read_before, cautions=cautions)
    except (PropertiesError, DecisionsError, DiffInputError) as exc:
        print(f"runbook diff: {visible(str(exc))}", file=stderr)
        return EXIT_BAD_INPUT
    with drawing_survives_a_closed_terminal():
        app.run()
    try:
        for line in closing_lines(app):
            print(line, file=stderr)
    except OSError:
        pass  # the terminal has gone (SIGHUP): nobody is there to read them (review)
    return app.exit_code


def closing_lines(app: DiffApp) -> list[str]:
    """What the editor says on stderr once the terminal is back: what was
    written or not, the cautions, and the keys left open, if any (a merged file
    left unwritten is not an open key: it is said among the first)."""
    lines = [*app.report, *app.cautions]
    if app.stopped_by is not None:
        lines.append(f"stopped by {app.stopped_by.name}: nothing more was written")
    # Decided here and written nowhere, a key is open again next time: counted
    # so, and said (operator trial: the count left them out).
    open_keys, unwritten = app.review_screen.left_open()
    if open_keys:
        count = f"{len(open_keys)}, {len(unwritten)} of them decided here but not written" \
            if unwritten else f"{len(open_keys)}"
        lines.append(f"left with keys undecided ({count}): "
                     f"{names(open_keys, most=15, rest=' (runbook diff --check lists them)')}")
    return lines
