"""What the operator takes away from the screen: the whole log (`L`), a step's
commands on the clipboard (`y`), and the report for the change ticket (`w`).

Reading a journal and writing a report happen in thread workers (a long run's
journal is big); they post what they found, and the app's handlers show it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.notifications import Notification, Notify

from runbook.journal import JournalError
from runbook.log import RUN_MARK, log_lines
from runbook.model import StepCard
from runbook.report import build, write_private
from runbook.report_md import markdown
from screens.log_view import LogView
from screens.output_store import OutputStore
from screens.presentation import GUTTER, copyable
from screens.run_state import RunState

if TYPE_CHECKING:
    from textual.app import App


def report_path(journal: Path) -> Path:
    """Beside the journal, named after it: the ticket's attachment."""
    return journal.with_name(f"{journal.stem}-report.md")


@dataclass
class EarlierLines(Message):
    """A continued run's earlier lines, read from its journal."""

    lines: list[tuple[str, str]]
    problem: str | None = None


@dataclass
class ReportWritten(Message):
    """The report was written to `path`, or could not be (`problem`)."""
    path: Path | None
    problem: str | None = None


class Records:
    def __init__(self, app: App[Any], state: RunState, store: OutputStore,
                 journal: Callable[[], Path]) -> None:
        self.app = app
        self.state = state
        self.store = store
        self.journal = journal
        # The toast the last copy left, which the next one replaces.
        self._copied: Notification | None = None

    # --- the full log --------------------------------------------------------------------

    def show_log(self) -> None:
        if isinstance(self.app.screen, LogView):
            return
        self.app.push_screen(LogView(self.store, self._step_name, self.copy))

    def _step_name(self, step_id: str) -> str:
        card = self.state.by_id.get(step_id)
        return f"{card.number}. {card.title}" if card else step_id

    def catch_up(self) -> None:
        stack = self.app.screen_stack  # empty once the app is closing
        if stack and isinstance(stack[-1], LogView):
            stack[-1].catch_up()

    def load_earlier(self, path: Path) -> None:
        """In a thread, before the continued run writes more to the journal."""
        self.app.run_worker(partial(self._read_earlier, path), thread=True,
                            group="earlier-lines", exit_on_error=False)

    def _read_earlier(self, path: Path) -> None:
        try:
            found = log_lines(path, continued=True)
        except Exception as exc:
            # Any of them: the run starts once this message comes, and the
            # log is only for looking back (code review: a JournalError
            # ended the worker without a word, and the run never went on).
            self.app.post_message(EarlierLines([], str(exc) or type(exc).__name__))
            return
        lines = [("", f"* {line}") if step == RUN_MARK  # as this view's own headings
                 else (step, line if line.startswith("$ ") else GUTTER["out"] + line)
                 for step, line in found]
        self.app.post_message(EarlierLines(lines))

    # --- the clipboard --------------------------------------------------------------------

    def copy_commands(self, card: StepCard) -> None:
        plan = self.state.plans.get(card.id)
        if not plan:
            self.app.notify(f"Step {card.number} has no commands to copy yet: its plan is "
                            "worked out when its turn comes.", markup=False)
            return
        self.copy(copyable(plan), f"the commands of step {card.number}. {card.title}")

    def copy(self, text: str, what: str) -> None:
        """`text` to the clipboard, said in one toast: a copy replaces the toast
        the copy before it left (trial 54: `y` typed ahead three times while
        a step ran stacked three over the output pane). A copy while a step
        runs still copies: `y` is the clipboard's key at any time, never a
        step's answer, and what it sends only masks secrets."""
        self.app.copy_to_clipboard(text)
        # The terminal never says whether the copy arrived: say what was sent.
        said = (f"Copied {what} to the clipboard (secrets stay masked). If nothing arrives, "
                "the terminal does not take OSC 52 copies (in tmux: set -g set-clipboard on).")
        if getattr(self.app.screen, "say", None) is not None:
            # Over a dialog, its own line says it, one line replacing another.
            self.app.notify(said, title="Copied", timeout=8, markup=False)
            return
        if self._copied is not None:
            # Textual has no public way to withdraw one toast of several.
            self.app._unnotify(self._copied, refresh=False)
        self._copied = Notification(said, "Copied", "information", 8, markup=False)
        self.app.post_message(Notify(self._copied))

    # --- the report -------------------------------------------------------------------------

    def write_report(self) -> None:
        if self.state.outcome is None:
            self.app.notify("The report is written once the run has ended.", markup=False)
            return
        self.app.run_worker(partial(self._write, self.journal()), thread=True,
                            group="report", exit_on_error=False)

    def _write(self, journal: Path) -> None:
        target = report_path(journal)
        try:
            write_private(target, markdown(build(journal)))
        except (JournalError, OSError) as exc:
            # JournalError, not only ReportError (its kind): a damaged line
            # in the middle of the journal ended this worker unsaid (review
            # 56b F2), the night the report matters most.
            self.app.post_message(ReportWritten(None, str(exc)))
            return
        self.app.post_message(ReportWritten(target))
