"""The Textual front end: the procedure as a live checklist.

runbook.cli hands the app its run: a factory of runbook.session.Session (continue
an unfinished run, or start a new one); tests hand it one over fake steps.
The session runs in one worker and reaches the app only through TuiFrontEnd
(messages for events, a store for output). The handlers here feed RunState,
the main screen draws it, and nothing runs until a dialog is confirmed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from runbook.collector import start_up_over
from runbook.model import Outcome, StepState
from runbook.opening import Opening

# The first screen is drawn before the engine and the main screen are imported
# (issue 12: a rehearsal paints before its host starts): what only an open run
# uses is imported where the run uses it.
if TYPE_CHECKING:
    from textual.driver import Driver

    from runbook.journal_replay import Replay
    from runbook.session import Session, SessionFactory
    from runbook.standing import WayBack
    from screens.frontend import TuiFrontEnd
    from screens.messages import (
        ConfirmRequested,
        EngineEvent,
        EstimateFound,
        OutputArrived,
        ProgressChanged,
        RecoveryRequested,
        ReviewRequested,
    )
    from screens.questions import Questions
    from screens.records import EarlierLines, Records, ReportWritten
    from screens.review_handoff import ReviewHandoff
    from screens.run_state import Question
    from screens.starting import Opened, OpeningFailed, Preparing
    from screens.widgets import ShowsClocks

# A wall clock (seconds since the epoch): the downtime is counted from a moment
# an earlier process recorded, and only the wall clock spans processes.
Clock = Callable[[], float]
# The command, for a shell, that goes back from the run in a journal (a
# lasting rehearsal's: runbook rehearse --resume ... --rollback-after STEP).
GoingBack = Callable[[Path], "WayBack | None"]
# How soon new output reaches the screen after the first line of a burst. One
# write per burst keeps a step that prints 100,000 lines from starving the
# keyboard; no output, no timer.
FLUSH_INTERVAL = 0.05
SHOWN_LINES = 20_000
# What each of the app's thread workers does, for the line that says it failed.
def error_words(error: BaseException | None) -> str:
    """An error that stopped the run, as the operator reads it: runbook's own
    (a journal it cannot write, say) in its words alone, which say what to do;
    an unforeseen one with its kind, which is all there is to go on
    (operator trial 59, F8: "JournalWriteError: ..." on the screen)."""
    from runbook.claim import ClaimRefused
    from runbook.journal import JournalError

    # And a refusal for the host's claim: another run's, or one that cannot
    # be made there (sudo refused; review 60a, F11).
    if isinstance(error, JournalError | ClaimRefused):
        return str(error)
    return f"{type(error).__name__}: {error}"


BACKGROUND = {"report": "Writing the report", "estimate": "The downtime estimate",
              "earlier-lines": "Reading the earlier run's log"}


def load_review_screen() -> type[Screen[bool]] | None:
    """The properties editor's screen, imported when a review opens (tests
    replace this)."""
    from screens.review_handoff import load_review_screen as load

    return load()


class RunbookApp(App["Outcome | None"]):
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

    def get_driver_class(self) -> type[Driver]:
        """Textual's choice, but on Linux a driver whose input thread waits
        for keys instead of looking ten times a second (issue 12)."""
        from textual.drivers.linux_driver import LinuxDriver

        chosen = App.get_driver_class(self)  # named: the idle test borrows this method
        if chosen is not LinuxDriver:  # headless, web, Windows, TEXTUAL_DRIVER
            return chosen
        from screens.quiet_input import QuietLinuxDriver

        return QuietLinuxDriver

    def __init__(self, open_session: SessionFactory | None = None, *,
                 opening: Preparing | None = None, waiting: str = "",
                 previous: Replay | None = None, rehearsal: bool = False, host_label: str = "",
                 clock: Clock = time.time, start_run: bool = True,
                 new_journal: Path | None = None, going_back: GoingBack | None = None,
                 notes: tuple[str, ...] = (), named: bool = False) -> None:
        super().__init__()
        self.rehearsal = rehearsal
        self.going_back = going_back
        self.clock = clock
        self.autostart = start_run
        self.preparing = opening
        self.waiting = waiting
        self.opened = False
        self.opening_error: Exception | None = None
        self.runner: Worker[Outcome] | None = None
        self.exit_when_done = False
        # The journal claimed for a new run (see Opening), until one is chosen.
        self.new_journal: Path | None = None
        # Built on first use (see _open).
        self._records: Records | None = None
        self._review: ReviewHandoff | None = None
        if open_session is not None:
            self._open(Opening(open_session, previous, host_label, new_journal=new_journal,
                               notes=notes, named=named))

    def _open(self, opening: Opening) -> None:
        """Everything that needs the run: its session, its state, the main screen.

        Only what the first paint draws is built here; what answers the engine
        and the operator's keys (the front end, the questions, the records, the
        review) is built, and its modules imported, on first use (issue 12)."""
        from runbook.hoststate import down_since
        from screens.main import MainScreen
        from screens.output_store import OutputStore
        from screens.run_state import RunState
        from screens.views import Where, pace_shown

        self.open_session = opening.open_session
        self.new_journal = opening.new_journal
        previous = opening.previous
        # With an earlier run offered, the run it would continue until the
        # operator answers: a new run claims its journal only once chosen
        # (operator trial: a kill -9 at the dialog left it there, empty).
        self.session: Session[Any] = self.open_session(
            previous if previous is not None and previous.path is not None else None)
        settings = self.session.settings
        self.rehearsal = self.rehearsal or settings.rehearsal
        self.cards = self.session.cards
        self.by_id = {card.id: card for card in self.cards}
        self.run_state = RunState(self.cards, settings.host.target, previous=previous,
                                  offering_resume=previous is not None,
                                  down_since=down_since(self.session.host_state, previous))
        self.offered = previous
        # Named by the operator (--resume --journal): it goes on unasked.
        self.named = opening.named
        self.notes = opening.notes
        self.store = OutputStore()
        self.main = MainScreen(self.run_state, self.store, max_lines=SHOWN_LINES,
                               clock=self.clock, where=Where(self.rehearsal, opening.host_label,
                                                             self.session.journal_path,
                                                             pace_shown(settings)))
        self.opened = True

    @cached_property
    def front(self) -> TuiFrontEnd:
        """The executor's front end: the run's worker talks to the app through it."""
        from screens.frontend import TuiFrontEnd

        return TuiFrontEnd(self, self.store)

    @property
    def review(self) -> ReviewHandoff:
        if self._review is None:
            from screens.review_handoff import ReviewHandoff

            self._review = ReviewHandoff(
                self, self.run_state, self.main.refresh_step, lambda: load_review_screen(),
                # The session of the moment: a resume chosen in the app opens another.
                throwaway=lambda: self.session.settings.rehearsal_throwaway)
        return self._review

    @cached_property
    def questions(self) -> Questions:
        from screens.questions import Questions

        return Questions(self)

    @property
    def records(self) -> Records:
        if self._records is None:
            from screens.records import Records

            self._records = Records(self, self.run_state, self.store, lambda: self.journal_path)
        return self._records

    @property
    def reviewing(self) -> ReviewRequested | None:
        return self._review.pending if self._review is not None else None

    @property
    def asking(self) -> Question | None:
        """The question the runbook waits on, until it is answered (the run
        state keeps it); its future is the answer."""
        if not self.opened or self.run_state.asking is None:
            return None
        return self.run_state.question

    @property
    def outcome(self) -> Outcome | None:
        return self.run_state.outcome if self.opened else None

    @property
    def journal_path(self) -> Path:
        return self.session.journal_path

    # --- set-up ---------------------------------------------------------------------

    @property
    def drawn(self) -> bool:
        # Engine events can arrive before the main screen is composed; they only
        # change state until then, and show_run (from on_ready, or on_opened
        # once a rehearsal's host has started) draws everything once.
        return self.main.ready

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Textual's (the palette's Screenshot and its action both come here),
        into the Downloads folder where there is one, else beside the journal
        (operator trial: a fresh HOME has none, and it said only that it failed)."""
        if path is None:
            from platformdirs import user_downloads_path

            if not user_downloads_path().is_dir() and self.opened:
                path = str(self.journal_path.parent)
        return super().deliver_screenshot(filename, path, time_format)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Over a dialog, its own line says it (Dialog.say), as plain text;
        elsewhere Textual's toast."""
        say = getattr(self.screen, "say", None) if self.screen_stack else None
        if say is None:
            super().notify(message, title=title, severity=severity, timeout=timeout,
                           markup=markup)
            return
        text = Content.from_markup(message).plain if markup else message
        say(f"{title}: {text}" if title else text, severity != "information",
            self.NOTIFICATION_TIMEOUT if timeout is None else timeout)

    def refresh_bindings(self) -> None:
        """The footer's keys worked out again, while there is a screen to show
        them: the engine goes on telling until its worker is cancelled, which
        is after the app has taken its screens down as it closes (an ad-hoc
        script leaving without waiting: ScreenStackError)."""
        if self.screen_stack:
            super().refresh_bindings()

    def get_default_screen(self) -> Screen[Any]:
        if self.opened:
            return self.main
        from screens.starting import StartingScreen  # a rehearsal's, while its host starts

        return StartingScreen(self.waiting)

    def on_ready(self) -> None:
        # Ready comes after the first screen is composed and painted.
        start_up_over()
        if self.opened:
            self.show_run()
        elif self.preparing is not None:
            from screens.starting import prepare

            # The work, not its coroutine: a worker the app ends before it runs
            # never makes one, so none is collected unawaited (its warning, in
            # the middle of the CLI's next import, broke that import).
            preparing = self.preparing

            async def opening() -> None:
                await prepare(self, preparing)

            started: Worker[None] = self.run_worker(opening, name="opening", group="opening",
                                                    exit_on_error=False)
            del started  # typed, for Textual's generic run_worker; the app keeps no handle

    async def on_opened(self, message: Opened) -> None:
        self._open(message.opening)
        await self.push_screen(self.main)  # over the starting screen, for good
        self.show_run()

    def on_opening_failed(self, message: OpeningFailed) -> None:
        self.opening_error = message.error  # run_tui raises it, for the CLI to say
        self.exit()

    def show_run(self) -> None:
        """Once the main screen is composed and painted: draw the run, start it."""
        from screens.dialogs import ResumeDialog

        self.main.ready = True
        for card in self.cards:
            self.main.refresh_step(card.id)
        # The clocks tick once a second while one runs and they show.
        self.ticker = self.set_interval(1.0, self.tick, pause=True, name="clock")
        self.screen_change_signal.subscribe(self, lambda _: self.keep_time())
        self.flush()  # whatever came before the first paint
        if self.asking is not None:
            self.main.checklist.select_step(self.asking.report.id)
        # The checklist, or below 100 columns, where it gives way, the Step pane.
        self.main.focus_what_shows(prefer_checklist=True)
        self.show_previews()
        self.main.refresh_view()
        if self.offered is not None and self.offered.path is not None and self.named:
            # The operator said which run goes on (trial 55, F6: the dialog
            # still asked, "New run" a key away): its notes say so, unanswered.
            self._say_notes()
            self._go_on_with_the_offered()
        elif self.offered is not None and self.offered.path is not None:
            # The opening's notes come once it is answered: over the dialog
            # they covered its buttons for their ten seconds. So does the
            # estimate: which journal is this run's is not known before.
            # Down now by the host's record or that run's journal: its cutover
            # is under way, and only continuing it is offered.
            self.push_screen(ResumeDialog(self.offered.path, self.offered, self.cards,
                                          mid_cutover=self.run_state.down_since is not None,
                                          rollback_after=self.session.rollback_after,
                                          faults_again=self._faults_staged_again()),
                             self._resume_answered)
        else:
            self._find_estimate()
            self._say_notes()
            if self.autostart:
                self.start_run()
        self.keep_time()

    def _faults_staged_again(self) -> tuple[str, ...]:
        """The offered rehearsal's faults that never came up, when continuing
        it stages them again (lifecycle.prepare_run, with no --fault given):
        the dialog says so before the choice (review 56c F4: said only by
        --resume, and a new run chosen after it was said to stage them)."""
        if self.offered is None or not self.rehearsal:
            return ()
        never = tuple(self.offered.faults_never_up)
        return never if never and self.session.settings.rehearsal_faults == never else ()

    def _say_notes(self) -> None:
        """The opening's notes in the output pane, as the first step's lines
        (the step asked first, preflight), and in the full log: a rehearsal's
        sandbox path is looked for mid-run (operator trial 57, F5: it was in
        a notice alone, gone after ten seconds). Besides, as one notice (one
        a note stood three high over the step and its plan on resume), where
        that lies over the checklist: from 100 columns, and not with the
        cutover under way. Below, a notice lies over the step's title (80x24
        and 60x20, trial 57 F5), and with the cutover under way over the
        step box or the checklist in the first seconds of a resume, when
        where the cutover stands is what is read (trial 56, F8): the output
        pane, in view there, says them. The CLI prints them again as it
        closes, either way."""
        if not self.notes:
            return
        first = self.cards[0].id
        for note in self.notes:
            self.store.add(first, "info", note)
        self.flush()
        self.main.sync_output()
        if not self.run_state.service_down and not self.main.narrow:
            self.notify("\n".join(self.notes), timeout=10, markup=False)

    def keep_time(self) -> None:
        """Tick only while something changes by the second and the clocks are
        in view: on the main screen, or on a screen on top with a clocks row
        of its own (a dialog, the full log; the main screen's wait beneath).
        Whichever shows is brought up to date now."""
        if not self.main.ready or not self.screen_stack:
            return
        shown = self.screen_stack[-1] is self.main or self._clocks_on_top() is not None
        if shown and self.run_state.clocks_running:
            self.ticker.resume()
        else:
            self.ticker.pause()
        if shown:
            self.tick()

    def _clocks_on_top(self) -> ShowsClocks | None:
        """A screen with its own clocks row, on top: one of our dialogs,
        whatever is beneath (operator trial: over another dialog its row
        stayed empty), or the full log (trial: read during the cutover, it
        showed no downtime)."""
        from screens.widgets import ShowsClocks

        top = self.screen_stack[-1]
        return top if isinstance(top, ShowsClocks) else None

    def tick(self) -> None:
        """Once a second: the clocks where they show."""
        if self.screen_stack[-1] is self.main:
            self.main.tick()
        elif (shows := self._clocks_on_top()) is not None and self.main.can_draw:
            shows.show_clocks(self.main.clocks())

    def on_output_arrived(self, _: OutputArrived) -> None:
        self.set_timer(FLUSH_INTERVAL, self.flush)

    def flush(self) -> None:
        if self.main.can_draw:
            self.main.flush_output()
            if self._records is not None:  # none before the full log was first shown
                self._records.catch_up()

    def _resume_answered(self, choice: str | None) -> None:
        from screens.dialogs import CONTINUE, START_OVER

        earlier = str(self.offered.path) if self.offered is not None else None
        if choice in (CONTINUE, START_OVER) and earlier is not None:
            # The notes about the earlier run (that it is there, that it
            # resumes) are answered: said neither now nor on the way out
            # (review: a new run's exit repeated "resuming the run in ...").
            self.notes = tuple(note for note in self.notes if earlier not in note)
        if choice in (CONTINUE, START_OVER):
            self._say_notes()
        if choice == START_OVER:
            self.session = self.open_session(None)
            self.main.where = replace(self.main.where, journal=self.session.journal_path)
            kept = f" The earlier run's journal is kept as it was: {earlier}." if earlier \
                else ""
            self.notify(f"A new run, in a journal of its own: {self.session.journal_path}. "
                        f"Every step checks the host again.{kept}", title="New run",
                        timeout=15, markup=False)
        if choice == CONTINUE and self.offered is not None:
            self._go_on_with_the_offered()
        elif choice == START_OVER:
            # The plans shown were the offered run's: the new run's instead.
            for step_id in set(self.run_state.plans) - set(self.run_state.final_plans):
                del self.run_state.plans[step_id]
            self.show_previews()
            self._find_estimate()
            self.run_state.forget_previous()  # a new run: each step checks afresh
            for card in self.cards:
                self.main.refresh_step(card.id)
            self.main.refresh_view()
            self.start_run()
        else:
            self.exit(Outcome.STOPPED)

    def _go_on_with_the_offered(self) -> None:
        """Continue the earlier run where it stopped, in its own journal: the
        one claimed for a new run goes now, not as the app ends (operator
        trial: empty beside it all run, "not a journal"). The run starts once
        the earlier lines are in (on_earlier_lines)."""
        from runbook.journal import drop_if_unwritten

        assert self.offered is not None
        drop_if_unwritten(self.new_journal)
        self.session = self.open_session(self.offered)
        self.main.where = replace(self.main.where, journal=self.session.journal_path)
        self.show_previews()
        # The earlier lines first, for the full log: then the run appends.
        self.records.load_earlier(self.session.journal_path)
        self._find_estimate()  # for the journal it goes on in

    def show_previews(self) -> None:
        """Plans as the session sees them before the run learns anything; each
        is replaced by the executor's own (final, masked) plan when its turn comes."""
        for step_id, plan in self.session.preview().items():
            if step_id not in self.run_state.final_plans and plan is not None:
                self.run_state.plans[step_id] = plan
        self.main.refresh_detail()

    @work(thread=True, group="estimate", exit_on_error=False)
    def _find_estimate(self) -> None:
        """In a thread: journals of long runs are big. Asked once this run's
        journal is known (new, or the one it continues)."""
        from screens.messages import EstimateFound

        # Where `runbook report` looks too, and as headless asks it.
        found = self.session.downtime_estimate()
        if found is not None:
            self.post_message(EstimateFound(*found))

    def start_run(self) -> None:
        """Run the session in the one "runbook" worker."""
        self.run_state.started = True
        self.run_state.offering_resume = False
        self.runner = self.run_worker(partial(self.session.run, self.front), name="runbook",
                                      group="runbook", exit_on_error=False, exclusive=True)

    # --- what the executor tells us -------------------------------------------------

    def on_engine_event(self, message: EngineEvent) -> None:
        from runbook.events import JournalNote, RunEnded, StepChanged

        event = message.event
        offered = self._what_the_keys_follow()
        self.run_state.apply(event, self.clock())
        if self._what_the_keys_follow() != offered:
            # The report key in, run and skip out, the way back's while the
            # service is down; the headings follow the outcome through
            # refresh_view (views.group_titles).
            self.refresh_bindings()
        moved = True
        match event:
            case StepChanged(report=report):
                self.main.refresh_step(report.id)
                if report.state in (StepState.FAILED, StepState.IN_DOUBT) \
                        and self.main.can_draw:
                    self.bell()  # the operator may be looking at another window
                    # What failed, and how, is what to look at now.
                    self.main.checklist.select_step(report.id)
                    self.run_state.led_the_cursor = True
                self.main.sync_output()
            case RunEnded():
                # The hint's way on: --resume, unless this rehearsal's host
                # goes with the app (going_back: None where its sandbox does).
                self.run_state.resumable = not self.session.settings.rehearsal or (
                    self.going_back is not None and self.going_back(self.journal_path)
                    is not None)
                # A journal that failed is said once, as the error that
                # stopped the run (on_worker_state_changed, the hint): a toast
                # here too hid the checklist at 80x24 (trial 60, F8).
                self.main.refresh_rows()
                ended_on = self.run_state.last_changed
                if not self.run_state.led_the_cursor and ended_on and self.main.can_draw:
                    # Nothing led the cursor: show where the run ended.
                    self.main.checklist.select_step(ended_on)
            case JournalNote(message=text):
                self.notify(text, severity="warning", timeout=30, markup=False)
                moved = False
            case _:
                moved = False
        self.main.refresh_view()
        self.keep_time()
        if moved:
            self._run_moved()

    def on_confirm_requested(self, message: ConfirmRequested) -> None:
        self.questions.confirm_requested(message)

    def on_recovery_requested(self, message: RecoveryRequested) -> None:
        self.questions.recovery_requested(message)

    def on_review_requested(self, message: ReviewRequested) -> None:
        self.review.requested(message)

    def on_progress_changed(self, message: ProgressChanged) -> None:
        self.run_state.apply(message.progress, self.clock())
        self.main.sync_progress()

    def on_earlier_lines(self, message: EarlierLines) -> None:
        self.store.earlier = message.lines
        if message.problem:
            self.notify(f"The full log leaves out the earlier run: {message.problem}",
                        severity="warning", timeout=15, markup=False)
        self.start_run()

    def on_report_written(self, message: ReportWritten) -> None:
        if message.path is None:
            self.notify(f"No report: {message.problem}", severity="error", timeout=30, markup=False)
            return
        self.run_state.report = message.path
        self.notify(f"The report for the change ticket is in {message.path}",
                    title="Report written", timeout=30, markup=False)
        self.main.refresh_hint()

    def on_estimate_found(self, message: EstimateFound) -> None:
        if self.run_state.no_estimate:
            return
        self.run_state.estimate_s = message.downtime_s
        self.main.refresh_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.runner:
            if event.state is WorkerState.ERROR:
                self._worker_failed(event.worker)
            return
        if not event.worker.is_finished:
            return
        asked = self.asking
        if event.state is WorkerState.SUCCESS and event.worker.result is not None:
            touched = self.run_state.ended(event.worker.result)
        elif event.state is WorkerState.ERROR:
            # Masked as every other sink is: an unforeseen error can quote a
            # request with the token in it.
            from runbook.claim import ClaimRefused, ClaimTaken
            from runbook.journal import JournalError

            error = self.session.redactor(error_words(event.worker.error))
            refused = isinstance(event.worker.error, ClaimRefused)
            touched = self.run_state.ended(Outcome.FAILED, error, refused=refused,
                                           claim_taken=isinstance(event.worker.error,
                                                                  ClaimTaken))
            if refused:
                # Whole in the output pane, where it wraps and stays: at 80
                # columns the hint had room for part of it only. In the pane
                # as it is in view: the step it shows (the opening's notes are
                # the first step's lines), else the run's own; among the
                # run's own it was out of view beside a note, and the hint
                # pointed at the note (trial 62, F7). Once: a step that did
                # not start for it says it already.
                shown = self.main.shown_output or ""
                said = self.session.redactor(getattr(event.worker.error, "said", error))
                if not any(said in line for line in self.store.of(shown)):
                    self.store.add(shown, "err", error)
                self.flush()
                self.main.sync_output()
            # A journal that failed is said by the hint, which stays, and by
            # the exit lines: a toast of its five lines as well hid the
            # checklist at 80x24 (trial 60, F8).
            if not isinstance(event.worker.error, JournalError):
                self.notify(error, title="The run was refused" if refused
                            else "The run stopped on an error", severity="error",
                            timeout=30, markup=False)
        else:
            touched = self.run_state.ended(Outcome.STOPPED)
        if asked is not None and not asked.answer.done():
            asked.answer.cancel()
        if self._review is not None:
            self._review.cancel()
        for step_id in touched:
            self.main.refresh_step(step_id)
        self.main.refresh_view()
        self.keep_time()
        self.refresh_bindings()  # the report key in, run and skip out
        if self.exit_when_done:
            self.exit(self.run_state.outcome)
        else:
            self._run_moved()

    def _worker_failed(self, worker: Worker[Any]) -> None:
        """One of the app's other workers (the report, the estimate, the
        earlier lines) raised: said in one line, masked as every sink is,
        not lost with the worker (review 56b F2)."""
        what = BACKGROUND.get(worker.group, "Work in the background")
        error = f"{type(worker.error).__name__}: {worker.error}"
        if self.opened:
            error = self.session.redactor(error)
        self.notify(" ".join(error.split()), title=f"{what} failed", severity="error",
                    timeout=30, markup=False)

    def _run_moved(self) -> None:
        """An open quit dialog says what is so now (the questions are built
        with the first question or quit: none before, no dialog to tell)."""
        if "questions" in self.__dict__:
            self.questions.run_moved()

    # --- operator actions (bindings and the command palette) ---------------------------

    def action_run_step(self) -> None:
        self.questions.run_step()

    def action_show_choices(self) -> None:
        self.questions.show_recovery()

    def action_skip_step(self) -> None:
        self.questions.skip_step()

    def action_show_log(self) -> None:
        self.records.show_log()

    def action_copy_commands(self) -> None:
        step_id = self.main.checklist.selected_step
        if step_id is not None:
            self.records.copy_commands(self.by_id[step_id])

    def action_write_report(self) -> None:
        self.records.write_report()

    def action_rollback(self) -> None:
        from runbook.standing import WayBack, rollback_command
        from screens.views import way_back

        if self.questions.recovery is not None:
            # A failed step's question laid aside (escape): the way back, where
            # there is one, is a choice in it.
            self.questions.show_recovery()
            return
        if self.questions.can_go_back_now():
            # Nothing failed, but the operator will not go on.
            self.questions.roll_back()
            return

        settings = self.session.settings
        if not settings.rehearsal:
            back: WayBack | None = WayBack(rollback_command(settings.source, self.journal_path))
        else:  # only the rehearsal's CLI knows whether its sandbox outlives the app
            back = self.going_back(self.journal_path) if self.going_back else None
        text, down = way_back(self.run_state, back)
        title = "Roll back"
        if back is not None and text.endswith(back.command):
            # Wrapped in a notice, a long command was hard to copy whole
            # (operator trial): it is on the clipboard too.
            self.copy_to_clipboard(back.command)
            title = "Roll back: the command is copied"
        self.notify(text, title=title, severity="warning" if down else "information",
                    timeout=30 if down else 8, markup=False)

    def action_stop_step(self) -> None:
        self.questions.stop_step()

    def action_why_no_stop(self) -> None:
        self.questions.stop_step()  # says that no step runs

    def action_when_the_report_is_written(self) -> None:
        self.notify("The report is written once the run ends: w then writes it beside the "
                    "journal, and `runbook report` writes it from the journal at any time.",
                    timeout=8, markup=False)

    def action_where_the_way_back_stands(self) -> None:
        self.action_rollback()

    def action_why_no_skip(self) -> None:
        self.questions.skip_step()  # says why the step asked cannot be skipped

    def action_why_no_run(self) -> None:
        self.questions.run_step()  # says why nothing can be run now

    def action_review_properties(self) -> None:
        self.review.open()

    def action_when_the_review_opens(self) -> None:
        self.review.open()  # with none waiting, it says when one opens

    def action_request_quit(self) -> None:
        if not self.opened:
            self.exit()  # nothing runs yet (stopped); the caller stops what it started
            return
        self.questions.quit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "rollback":
            # In the footer while the stream manager is down; otherwise r falls
            # to the hidden binding, which says where the way back stands.
            return self.offers(action) and self.run_state.service_down
        if action == "review_properties":
            return self.offers(action) and self.run_state.reviewing is not None
        if action in ("run_step", "show_choices"):
            # Enter, a failed step's question laid aside: its choices, not a run.
            recovering = self.run_state.recovering is not None
            return self.offers("run_step") and recovering is (action == "show_choices")
        return self.offers(action)

    def _what_the_keys_follow(self) -> tuple[object, ...]:
        """What of the run `offers` reads: when any of it changes, the footer
        is worked out again (a step that began running kept "Run step" in it
        when only the service going down or the run's end did that)."""
        state = self.run_state
        return (state.outcome, state.way_back, state.running, state.recovering,
                state.service_down, state.reviewing, state.stopping)

    def offers(self, action: str) -> bool:
        """Whether the app offers `action` now, whichever key shows it: the
        footer's check and the palette's."""
        if not self.opened:
            return action == "request_quit"
        if action == "write_report":  # out of the footer until there is a run to report
            return self.run_state.outcome is not None and not self.run_state.refused
        if action == "review_properties":
            # Once its step has ended there is no review to open (operator
            # trial: mid-cutover the palette offered it; d still says why).
            from runbook.model import PROPERTIES_STEP

            return self.run_state.states.get(PROPERTIES_STEP) not in (
                StepState.DONE.value, StepState.SKIPPED.value)
        if action == "rollback":
            # Nothing to go back from once the upgrade is done or the old
            # release serves again (operator trial: the key stayed shown),
            # nor while the way back is under way (trial).
            return self.run_state.outcome not in (Outcome.DONE, Outcome.ROLLED_BACK) \
                and not self.run_state.way_back
        if action == "stop_step":
            # Only while a step runs (its key takes the place of run and skip).
            state = self.run_state
            return state.running is not None and state.outcome is None \
                and state.stopping is None and state.reviewing is None
        if action in ("run_step", "skip_step") and self.run_state.outcome is not None:
            # Nothing is left to run or skip once the run has ended (the hint
            # says to start runbook again); at 80 columns this is what lets
            # the report's key show.
            return False
        if action in ("run_step", "skip_step") and self.run_state.running is not None:
            # Nor while a step runs: at 80 columns they pushed Output off the
            # footer (trial). The keys still say why, out of it.
            return False
        if action == "skip_step" and self.run_state.recovering is not None:
            return False  # a failed step's choices wait (enter shows them); skip is none
        if action == "skip_step" and self.asking is not None:
            # A step that refuses a skip (every cutover step) does not show
            # the key: at 80 columns mid-cutover the footer ran over its end
            # (operator trial). While none is asked, s says why not now.
            return self.by_id[self.asking.report.id].skippable
        return True

    async def action_quit(self) -> None:
        # The palette's own "Quit" must ask the same questions as q.
        self.action_request_quit()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        if not self.opened:
            return
        from screens.dialogs import Dialog
        from screens.palette import operator_commands, quit_command

        if isinstance(screen, Dialog):
            # A question is answered or left first: from over the stop dialog,
            # "Stop the running step" opened a second one over it.
            yield quit_command(self)
            yield from self._textual_commands(screen)
            return
        selected = self.by_id.get(self.main.checklist.selected_step or "")
        # What the footer leaves out now, the palette does too (review: it
        # still offered the way back after the upgrade was done).
        yield from operator_commands(
            self, self.cards, self.main.log_widget.focus, self.main.checklist.select_step,
            selected=selected, plan=self.run_state.plans.get(selected.id) if selected else None,
            copy=self.records.copy,
            offered=self.offers, failed=self.by_id.get(self.run_state.recovering or ""))
        yield from self._textual_commands(screen)

    def _textual_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Not Textual's Quit: ours asks first. Nor its theme picker: noise in
        # the window, and another theme could blur the states' colours.
        for command in super().get_system_commands(screen):
            if command.title.lower() not in ("quit", "theme"):
                yield command



def create_app(open_session: SessionFactory | None = None, *, opening: Preparing | None = None,
               waiting: str = "", previous: Replay | None = None, rehearsal: bool = False,
               host_label: str = "", clock: Clock | None = None,
               start_run: bool = True, new_journal: Path | None = None,
               going_back: GoingBack | None = None, notes: tuple[str, ...] = (),
               named: bool = False) -> RunbookApp:
    """The one factory, for the CLI and the tests.

    `open_session(None)` is the new run; `open_session(previous)` continues the
    unfinished earlier run `previous`, which the app shows and offers to continue
    (in its own journal, as `runbook run --resume` does), or to start a new run,
    or to quit. Or, instead, `opening`: awaited after the first paint, which
    shows `waiting` until it gives the run (a rehearsal host starting). Tests pass
    a frozen `clock`, and `start_run=False` to feed engine events themselves.
    `new_journal`: the journal claimed for a new run, removed if the operator
    continues the earlier one instead. `going_back`: for a rehearsal, the
    command that takes the run in a journal back to the old stream manager
    once the app has quit (None where the host ends with the app). `notes`:
    what the CLI said while it got `open_session` ready, shown as notices
    (an `opening` brings its own). `named`: the operator named `previous` as
    the run to go on with (--resume --journal): it goes on without asking."""
    assert (open_session is None) != (opening is None), "one of open_session and opening"
    return RunbookApp(open_session, opening=opening, waiting=waiting, previous=previous,
                      rehearsal=rehearsal, host_label=host_label, clock=clock or time.time,
                      start_run=start_run, new_journal=new_journal, going_back=going_back,
                      notes=notes, named=named)

