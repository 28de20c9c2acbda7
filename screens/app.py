"""The Textual front end: the procedure as a live checklist.

The app is handed its run by cli.py (tests hand it one over fake steps): a
factory of :class:`runbook.session.Session`, so the operator can continue an
unfinished run or start a new one. The session runs in one async worker
(group "runbook") and talks to the app only through
:class:`~screens.frontend.TuiFrontEnd`: messages for events, a plain store for
output lines. The handlers here feed the plain :class:`RunState` and redraw;
nothing runs until the operator confirms it in a dialog.

``create_app`` is the one way to build the app, for the CLI and for the tests;
``run_tui`` runs it and returns the run's outcome.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from runbook.events import JournalRepaired, RunEnded
from runbook.executor import Answer, Decision, Outcome
from runbook.journal import JournalError, Replay, replay
from runbook.model import StepCard, StepState
from runbook.session import Session, SessionFactory
from screens.dialogs import (
    ABORT,
    CONTINUE,
    DETACH,
    START_OVER,
    STOP,
    WAIT,
    ConfirmDialog,
    QuitDialog,
    ResumeDialog,
    SkipDialog,
    Target,
)
from screens.frontend import TuiFrontEnd
from screens.main import MainScreen
from screens.messages import (
    ConfirmRequested,
    EngineEvent,
    EstimateFound,
    ProgressChanged,
    ReviewRequested,
)
from screens.output_store import OutputStore
from screens.run_state import RunState
from screens.views import Where, detail, hint, plan_heading, status

Clock = Callable[[], float]
# How often new output reaches the screen. One Log.write_lines per tick keeps
# a step that prints 100,000 lines from starving the keyboard.
FLUSH_INTERVAL = 0.05
SHOWN_LINES = 20_000


def load_review_screen() -> type[Screen[bool]] | None:
    """The properties diff editor, when this build has it (it is built apart)."""
    try:
        from screens.properties_review import PropertiesReviewScreen
    except ModuleNotFoundError as exc:
        if exc.name == "screens.properties_review":
            return None
        raise
    return PropertiesReviewScreen


class RunbookApp(App[Outcome | None]):
    CSS_PATH = "app.tcss"
    TITLE = "runbook"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "request_quit", "Quit", id="quit", key_display="q/^c",
                tooltip="Leave; asks first when something is running"),
        # ctrl+c and ctrl+q must reach us even inside a dialog's input field.
        Binding("ctrl+c", "request_quit", "Quit", id="quit-ctrl-c", priority=True,
                show=False),
        Binding("ctrl+q", "request_quit", "Quit", id="quit-ctrl-q", priority=True,
                show=False),
        Binding("ctrl+p", "command_palette", "Commands", id="command-palette", priority=True,
                show=False, tooltip="Every action, searchable"),
    ]

    def __init__(self, open_session: SessionFactory, *, previous: Replay | None = None,
                 rehearsal: bool = False, host_label: str = "", clock: Clock = time.monotonic,
                 start_run: bool = True) -> None:
        super().__init__()
        self.open_session = open_session
        self.session: Session[Any] = open_session(None)
        settings = self.session.settings
        self.rehearsal = rehearsal or settings.rehearsal
        self.host_label = host_label
        self.clock = clock
        self.autostart = start_run
        self.cards = self.session.cards
        self.by_id = {card.id: card for card in self.cards}
        self.run_state = RunState(self.cards, f"{settings.host.user}@{settings.host.address}:"
                                        f"{settings.host.port}", previous=previous)
        self.offered = previous
        self.store = OutputStore()
        self.front = TuiFrontEnd(self, self.store)
        self.main = MainScreen(self.cards, max_lines=SHOWN_LINES)
        # The questions the runbook waits on; their futures are the answers.
        self.asking: ConfirmRequested | None = None
        self.reviewing: ReviewRequested | None = None
        self.runner: Worker[Outcome] | None = None
        self.exit_when_done = False
        self.shown_output: str | None = None
        # Engine events can arrive before the main screen is composed; they only
        # change state until then, and on_ready draws everything once.
        self.drawn = False

    @property
    def outcome(self) -> Outcome | None:
        return self.run_state.outcome

    @property
    def journal_path(self) -> Path:
        return self.session.journal_path

    # --- set-up ---------------------------------------------------------------------

    @property
    def can_draw(self) -> bool:
        # Not before the first paint, and not while shutting down: a timer can still
        # fire after the widgets are gone.
        return self.drawn and self.is_running

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    def on_ready(self) -> None:
        # Ready comes after the main screen is composed and first painted.
        self.drawn = True
        for card in self.cards:
            self.refresh_step(card.id)
        self.set_interval(FLUSH_INTERVAL, self.flush_output)
        self.set_interval(1.0, self.tick)
        self.main.checklist.focus()
        if self.asking is not None:
            self.main.checklist.select_step(self.asking.report.id)
        self.show_previews()
        self.refresh_view()
        self._find_estimate()
        if self.offered is not None and self.offered.path is not None:
            self.push_screen(ResumeDialog(self.offered.path, self.offered, self.cards),
                             self._resume_answered)
        elif self.autostart:
            self.start_run()

    def _resume_answered(self, choice: str | None) -> None:
        if choice == CONTINUE and self.offered is not None:
            # Continue the earlier run where it stopped, in its own journal.
            self.session = self.open_session(self.offered)
            self.show_previews()
            self.start_run()
        elif choice == START_OVER:
            self.run_state.previous = None  # a new run: the earlier states are no longer news
            self.refresh_view()
            self.start_run()
        else:
            self.exit(Outcome.STOPPED)

    def show_previews(self) -> None:
        """Plans as the session sees them before the run learns anything; each
        is replaced by the executor's own (final, masked) plan when its turn comes."""
        for step_id, plan in self.session.preview().items():
            if step_id not in self.run_state.final_plans and plan is not None:
                self.run_state.plans[step_id] = plan
        self.refresh_detail()

    @work(thread=True, group="estimate", exit_on_error=False)
    def _find_estimate(self) -> None:
        """The downtime of the newest earlier run beside this journal, read in a
        thread: journals of long runs are big."""
        folder = self.session.journal_path.parent
        if not folder.is_dir():
            return
        journals = sorted((p for p in folder.glob("*.jsonl") if p != self.session.journal_path),
                          key=lambda p: p.stat().st_mtime, reverse=True)
        for path in journals[:10]:
            # Another run's damaged journal is no reason to fail this one.
            with contextlib.suppress(OSError, ValueError, KeyError, JournalError):
                found = replay(path).downtime_s
                if found is not None:
                    self.post_message(EstimateFound(float(found), path))
                    return

    async def finish_run(self) -> None:
        """After the app has closed: a run still going is cancelled and awaited, so
        the journal ends with the run and the SSH connection is closed on return."""
        runner = self.runner
        if runner is not None and not runner.is_finished:
            runner.cancel()
            with contextlib.suppress(Exception, BaseException):
                await runner.wait()
            if self.run_state.outcome is None:
                self.run_state.outcome = Outcome.STOPPED

    def start_run(self) -> None:
        """Run the session in the one "runbook" worker."""
        self.runner = self.run_worker(self.session.run(self.front), name="runbook",
                                      group="runbook", exit_on_error=False, exclusive=True)

    # --- what the executor tells us -------------------------------------------------

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        self.run_state.apply(event, self.clock())
        match event:
            case JournalRepaired(message=text):
                self.notify(text, severity="warning", timeout=30)
            case RunEnded(journal_failure=str(failure)):
                self.notify(failure, severity="error", timeout=60)
        report = getattr(event, "report", None)
        if report is not None:
            if report.state in (StepState.FAILED, StepState.IN_DOUBT) and self.can_draw:
                self.bell()  # the operator may be looking at another window
            self.refresh_step(report.id)
            self.sync_output()
        self.refresh_view()

    def on_confirm_requested(self, message: ConfirmRequested) -> None:
        if self.run_state.stop_requested:
            # The operator chose to wait for the running step and then stop.
            message.answer.set_result(Decision(Answer.STOP))
            return
        self.asking = message
        step_id = message.report.id
        self.run_state.asked(step_id, message.plan)
        self.refresh_step(step_id)
        # Follow the procedure: the step that needs an answer is the one to see.
        if self.can_draw:
            self.main.checklist.select_step(step_id)
        self.refresh_view()

    def on_review_requested(self, message: ReviewRequested) -> None:
        self.reviewing = message
        self.run_state.reviewing = message.step_id
        self.run_state.states[message.step_id] = StepState.NEEDS_REVIEW.value
        self.refresh_step(message.step_id)
        self.open_properties_review()

    def on_progress_changed(self, message: ProgressChanged) -> None:
        self.run_state.apply(message.progress, self.clock())
        self.sync_progress()

    def on_estimate_found(self, message: EstimateFound) -> None:
        self.run_state.estimate_s = message.downtime_s
        self.refresh_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.runner or not event.worker.is_finished:
            return
        touched = {self.run_state.running, self.run_state.asking} - {None}
        if event.state is WorkerState.SUCCESS and event.worker.result is not None:
            self.run_state.ended(event.worker.result)
        elif event.state is WorkerState.ERROR:
            error = f"{type(event.worker.error).__name__}: {event.worker.error}"
            self.run_state.ended(Outcome.FAILED, error)
            self.notify(error, title="The run stopped on an error", severity="error",
                        timeout=30)
        else:
            self.run_state.ended(Outcome.STOPPED)
        if self.asking is not None and not self.asking.answer.done():
            self.asking.answer.cancel()
        if self.reviewing is not None and not self.reviewing.finished.done():
            self.reviewing.finished.cancel()
        self.asking = self.reviewing = None
        for step_id in touched:
            self.refresh_step(str(step_id))
        self.refresh_view()
        if self.exit_when_done:
            self.exit(self.run_state.outcome)

    # --- output ------------------------------------------------------------------------

    def flush_output(self) -> None:
        """Move newly arrived lines onto the screen in one write."""
        if not self.can_draw:
            return
        pending = self.store.take_pending()
        if not pending:
            return
        if self._wanted_output() != self.shown_output:
            self.sync_output()
        elif self.shown_output in pending:
            self.main.log_widget.write_lines(pending[self.shown_output])

    def _wanted_output(self) -> str | None:
        selected = self.main.checklist.selected_step
        if selected is not None and self.store.of(selected):
            return selected
        if self.run_state.running is not None and self.store.of(self.run_state.running):
            return self.run_state.running
        return self.store.last_step

    def sync_output(self) -> None:
        """Show the selected step's output, or the latest step's when it has none."""
        if not self.can_draw:
            return
        wanted = self._wanted_output()
        if wanted != self.shown_output:
            self.shown_output = wanted
            self.main.output.show_lines(self.store, wanted, SHOWN_LINES)
        card = self.by_id.get(wanted or "")
        self.main.output.name_step(f"{card.number}. {card.title}" if card else wanted,
                                   running=wanted is not None and wanted == self.run_state.running)
        self.sync_progress()

    def sync_progress(self) -> None:
        if not self.can_draw:
            return
        found = self.run_state.progress.get(self.shown_output or "") if self.shown_output else None
        if found is None and self.run_state.running is not None:
            found = self.run_state.progress.get(self.run_state.running)
        if found is None:
            self.main.output.hide_progress()
        else:
            self.main.output.show_progress(found.label, found.done, found.total)

    # --- drawing -----------------------------------------------------------------------

    def refresh_view(self) -> None:
        if not self.can_draw:
            return
        self.refresh_status()
        self.refresh_detail()
        self.refresh_hint()

    def refresh_step(self, step_id: str) -> None:
        if step_id not in self.by_id or not self.can_draw:
            return
        self.main.checklist.show_state(step_id, self.run_state.states[step_id],
                                       self.run_state.elapsed(step_id, self.clock()))
        if self.main.checklist.selected_step == step_id:
            self.refresh_detail()
        self.refresh_status()
        self.refresh_hint()

    def tick(self) -> None:
        """Once a second: the running step's elapsed time and the header clocks."""
        if not self.can_draw:
            return
        if self.run_state.running is not None:
            self.refresh_step(self.run_state.running)
        self.refresh_status()

    def step_selected(self, step_id: str) -> None:
        self.refresh_detail()
        self.sync_output()

    def refresh_detail(self) -> None:
        if not self.can_draw:
            return
        step_id = self.main.checklist.selected_step
        if step_id is None:
            return
        self.main.detail.show(step_id, detail(self.run_state, self.by_id[step_id]),
                              plan_heading(step_id in self.run_state.final_plans),
                              self.run_state.plans.get(step_id),
                              empty="(worked out when its turn comes)"
                              if step_id not in self.run_state.plans else "(nothing to run)")
        self.main.detail.border_title = \
            f"Step {self.by_id[step_id].number} of {len(self.cards)}"

    def refresh_status(self) -> None:
        if not self.can_draw:
            return
        where = Where(self.rehearsal, self.host_label, self.session.journal_path)
        self.main.status.show(*status(self.run_state, where, self.clock()))

    def refresh_hint(self) -> None:
        if not self.can_draw:
            return
        self.main.query_one("#hint", Static).update(hint(
            self.run_state, selected=self.main.checklist.selected_step,
            started=self.runner is not None, offering_resume=self.offered is not None,
            journal=self.session.journal_path))

    # --- operator actions (bindings and the command palette) ---------------------------

    def _why_not_now(self) -> str:
        if self.run_state.outcome is not None:
            return "The run has ended. Start runbook again to run more steps."
        if self.run_state.running is not None:
            return f"{self.by_id[self.run_state.running].title} is still running."
        if self.reviewing is not None:
            return "The properties step waits for its review first (d)."
        if self.runner is None:
            return "The run has not started."
        return "The runbook is checking the host; the next step is ready in a moment."

    def _question_on_selected(self, elsewhere: str) -> tuple[ConfirmRequested, StepCard] | None:
        """The question the runbook asks now, if the selected step is the one asked
        about; otherwise say why nothing happens (`elsewhere` names the rule)."""
        asking = self.asking
        if asking is None:
            self.notify(self._why_not_now())
            return None
        card = self.by_id[asking.report.id]
        if self.main.checklist.selected_step != card.id:
            self.notify(elsewhere.format(step=f"{card.number}. {card.title}"))
            return None
        return asking, card

    def _answer(self, asking: ConfirmRequested, decision: Decision) -> None:
        if self.asking is asking and not asking.answer.done():
            asking.answer.set_result(decision)
            self.asking = None
            self.refresh_hint()

    def run_selected_step(self) -> None:
        found = self._question_on_selected(
            "Steps run in order: next is {step}. Select it and press enter.")
        if found is None:
            return
        asking, card = found
        host = self.session.settings.host
        target = Target(host.address, host.port, host.user, host.sudo, self.rehearsal)
        def answered(run: bool | None) -> None:
            if run:
                self._answer(asking, Decision(Answer.RUN))

        self.push_screen(ConfirmDialog(card, len(self.cards), target, asking.plan), answered)

    def skip_selected_step(self) -> None:
        found = self._question_on_selected(
            "Only the step the runbook waits on can be skipped: {step}.")
        if found is None:
            return
        asking, card = found
        if not card.skippable:
            why = ("the stream manager is down until cutover ends" if card.phase == "cutover"
                   else "the steps after it rely on what it finds")
            self.notify(f"{card.title} cannot be skipped: {why}. Run it, or quit.",
                        severity="warning")
            return
        def answered(reason: str | None) -> None:
            if reason:
                self._answer(asking, Decision(Answer.SKIP, reason))

        self.push_screen(SkipDialog(card), answered)

    def roll_back_selected_step(self) -> None:
        step_id = self.main.checklist.selected_step or ""
        title = self.by_id[step_id].title if step_id in self.by_id else "this step"
        self.notify(f"There is no rollback for {title} yet: no step has one so far. To undo "
                    "it, reverse its plan by hand (the journal shows what ran).",
                    title="No rollback", severity="warning", timeout=12)

    def open_properties_review(self) -> None:
        request = self.reviewing
        if request is None:
            self.notify("The properties review opens while the properties step runs, when "
                        "some keys still need a decision.")
            return
        screen_class = load_review_screen()
        if screen_class is None:
            self.notify("This build has no properties editor. Decide the keys in the "
                        "decisions file named in the config, then run again.",
                        severity="warning", timeout=15)
            self._review_done(request, False)
            return
        if any(isinstance(s, screen_class) for s in self.screen_stack):
            return
        review = request.review
        screen = screen_class(review, decisions_path=request.decisions_path,  # type: ignore[call-arg,arg-type]
                              old_name=review.old_name, new_name=review.new_name)

        def closed(finished: bool | None) -> None:
            # Secrets typed in the editor serve this run; the decisions file
            # only names a variable for them, which a later run will need.
            needed = getattr(screen, "env_needed", [])
            if needed:
                names = ", ".join(f"{var} ({key})" for key, var in needed)
                self.notify(f"The decisions file names these variables instead of the secrets "
                            f"you typed; export them before another run: {names}",
                            title="Secrets by name", severity="warning", timeout=20)
            self._review_done(request, bool(finished))

        self.push_screen(screen, closed)

    def _review_done(self, request: ReviewRequested, finished: bool) -> None:
        if not request.finished.done():
            request.finished.set_result(finished)
        if self.reviewing is request:
            self.reviewing = None
            self.run_state.reviewing = None
            if self.run_state.states.get(request.step_id) == StepState.NEEDS_REVIEW.value:
                self.run_state.states[request.step_id] = StepState.RUNNING.value
                self.refresh_step(request.step_id)
        self.refresh_hint()

    def action_request_quit(self) -> None:
        if isinstance(self.screen, QuitDialog):
            return
        if self.runner is None or self.runner.is_finished:
            self.exit(self.run_state.outcome)
            return
        asking = self.asking
        if asking is not None and self.run_state.running is None:
            card = self.by_id[asking.report.id]

            def idle_answer(choice: str | None) -> None:
                if choice == STOP and not asking.answer.done():
                    self.exit_when_done = True
                    asking.answer.set_result(Decision(Answer.STOP))

            self.push_screen(QuitDialog(busy=False, what="",
                                        next_step=f"{card.number}. {card.title}"), idle_answer)
            return
        running = self.by_id.get(self.run_state.running or "")
        what = (f"step {running.number}. {running.title} is running." if running
                else "the runbook is checking the host.")

        def busy_answer(choice: str | None) -> None:
            if choice == WAIT:
                self.run_state.stop_requested = self.exit_when_done = True
                self.refresh_hint()
            elif choice in (ABORT, DETACH) and self.runner is not None:
                if choice == DETACH:
                    self.session.detach()
                self.exit_when_done = True
                self.runner.cancel()

        self.push_screen(QuitDialog(busy=True, what=what), busy_answer)

    async def action_quit(self) -> None:
        # The palette's own "Quit" must ask the same questions as q.
        self.action_request_quit()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand("Run the next step", "Confirm and run the step the runbook "
                            "waits on", self.run_selected_step)
        yield SystemCommand("Skip the next step", "Skip it, with a reason for the journal",
                            self.skip_selected_step)
        yield SystemCommand("Roll back", "Roll back the selected step (none has one yet)",
                            self.roll_back_selected_step)
        yield SystemCommand("Review properties", "Open the properties review of the "
                            "properties step", self.open_properties_review)
        yield SystemCommand("Focus the output", "Scroll the output with the keyboard",
                            self.main.log_widget.focus)
        yield SystemCommand("Quit", "Leave; asks first when something is running",
                            self.action_request_quit)
        for card in self.cards:
            yield SystemCommand(f"Show step {card.number}: {card.title}",
                                f"{card.id} ({card.phase})", _selector(self, card.id),
                                discover=False)
        for command in super().get_system_commands(screen):
            if command.title.lower() != "quit":
                yield command


def _selector(app: RunbookApp, step_id: str) -> Callable[[], None]:
    return lambda: app.main.checklist.select_step(step_id)


def create_app(open_session: SessionFactory, *, previous: Replay | None = None,
               rehearsal: bool = False, host_label: str = "", clock: Clock | None = None,
               start_run: bool = True) -> RunbookApp:
    """The one factory, for the CLI and the tests.

    `open_session(None)` is the new run; `open_session(previous)` continues the
    unfinished earlier run `previous`, which the app shows and offers to continue
    (in its own journal, as `runbook run --resume` does), or to start a new run,
    or to quit. Tests pass a frozen `clock`, and `start_run=False` to feed
    engine events themselves."""
    return RunbookApp(open_session, previous=previous, rehearsal=rehearsal,
                      host_label=host_label, clock=clock or time.monotonic,
                      start_run=start_run)


async def run_tui(open_session: SessionFactory, *, previous: Replay | None = None,
                  host_label: str = "") -> Outcome:
    """Run the app until the operator leaves; the run's outcome, STOPPED if the
    operator quit before the run ended."""
    app = create_app(open_session, previous=previous, host_label=host_label)
    await app.run_async()
    await app.finish_run()
    outcome = app.run_state.outcome or Outcome.STOPPED
    print(f"runbook: {outcome.value}; journal: {app.session.journal_path}")
    return outcome
