"""The Textual front end: the procedure as a live checklist.

The executor runs in one async worker (group "runbook") and talks to the app
only through :class:`~screens.frontend.TuiFrontEnd`: messages for state,
a plain store for output lines. The app's handlers own all run state shown on
screen, and the operator's answers go back to the executor through the futures
those messages carry. Nothing runs until the operator confirms it in a dialog.

``create_app`` is the one way to build the app, for the CLI and for the tests;
``run_tui`` runs it and returns the executor's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from runbook.config import Settings
from runbook.executor import Answer, Decision, Outcome
from runbook.journal import JournalError, Replay, replay
from runbook.model import Action, StepReport, StepState
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
from screens.frontend import OutputStore, TuiFrontEnd
from screens.main import MainScreen
from screens.messages import (
    ConfirmRequested,
    EstimateFound,
    ProgressChanged,
    ReviewRequested,
    RunEvent,
    StepChanged,
)
from screens.presentation import NEXT, StepInfo, clock, duration, look

Clock = Callable[[], float]
PROPERTIES_STEP = "properties"
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
    return PropertiesReviewScreen  # type: ignore[no-any-return]


def step_infos() -> list[StepInfo]:
    from steps import procedure

    return [StepInfo(number, s.id, s.title, s.phase.value, s.destructive, s.summary, s.caution,
                     s.skippable)
            for number, s in enumerate(procedure(), start=1)]


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

    def __init__(
        self,
        settings: Settings,
        *,
        token: str,
        journal_path: Path,
        steps: list[StepInfo],
        state_dir: Path | None = None,
        isolated: bool = False,
        rehearsal: bool = False,
        host_label: str = "",
        resume: Path | None = None,
        clock: Clock = time.monotonic,
        start_run: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.token = token
        self.journal_path = journal_path
        # Per-host state (snapshots, the cutover under way); beside the journal
        # unless the caller says where.
        self.state_dir = state_dir or journal_path.parent
        self.isolated = isolated
        self.rehearsal = rehearsal or settings.rehearsal
        self.host_label = host_label
        self.resume = resume
        self.clock = clock
        self.autostart = start_run
        self.steps = steps
        self.by_id = {s.id: s for s in steps}
        self.store = OutputStore()
        self.front = TuiFrontEnd(self, self.store)
        self.main = MainScreen(steps, max_lines=SHOWN_LINES)

        # Run state, owned by the handlers below.
        self.states: dict[str, str] = {s.id: StepState.PENDING.value for s in steps}
        self.reports: dict[str, StepReport] = {}
        self.plans: dict[str, list[Action]] = {}
        self.final_plans: set[str] = set()
        self.started_at: dict[str, float] = {}
        self.progress: dict[str, tuple[float, float | None, str]] = {}
        self.asking: ConfirmRequested | None = None
        self.reviewing: ReviewRequested | None = None
        self.running: str | None = None
        self.run_started: float | None = None
        self.run_ended: float | None = None
        self.cutover_started: float | None = None
        self.downtime_s: float | None = None
        self.estimate: EstimateFound | None = None
        self.target = f"{settings.host.user}@{settings.host.address}:{settings.host.port}"
        self.connection = "not connected yet"
        self.fingerprint: str | None = None
        # The unfinished earlier run (shown), and the one being continued (if chosen).
        self.previous: Replay | None = None
        self.continuing: Replay | None = None
        self.runner: Worker[Outcome] | None = None
        self.outcome: Outcome | None = None
        self.run_error: str | None = None
        self.stop_requested = False
        self.exit_when_done = False
        self.shown_output: str | None = None
        # Engine events can arrive before the main screen is composed; they only
        # change state until then, and on_ready draws everything once.
        self.drawn = False

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
        for step_id in self.states:
            self.main.checklist.show_state(step_id, self.states[step_id],
                                           self._elapsed(step_id))
        self.set_interval(FLUSH_INTERVAL, self.flush_output)
        self.set_interval(1.0, self.tick)
        self.main.checklist.focus()
        if self.asking is not None:
            self.main.checklist.select_step(self.asking.report.id)
        self.refresh_view()
        self.call_after_refresh(self._initial_plans)
        self._find_estimate()
        if self.resume is not None:
            self.previous = replay(self.resume)
            self.push_screen(ResumeDialog(self.resume, self.previous, self.steps),
                             self._resume_answered)
        elif self.autostart:
            self.start_run()

    def _resume_answered(self, choice: str | None) -> None:
        if choice == CONTINUE and self.previous is not None and self.resume is not None:
            # Continue the earlier run where it stopped, in its own journal.
            self.journal_path = self.resume
            self.continuing = self.previous
            self.start_run()
        elif choice == START_OVER:
            self.previous = None  # a new run: the earlier states are no longer news
            self.refresh_view()
            self.start_run()
        else:
            self.exit(Outcome.STOPPED)

    async def _initial_plans(self) -> None:
        """Plans as the procedure sees them before the run learns anything; each
        is replaced by the executor's own (final, masked) plan when its turn comes."""
        from runbook.smapi import StreamManagerAPI
        from runbook.step import PlanContext
        from steps import procedure

        api = StreamManagerAPI(self.settings.api_base_url, "", self.settings.api_version,
                               token_hint=f"${self.settings.token_env}")
        try:
            context = PlanContext(self.settings, api.curl, {"journal": str(self.journal_path)})
            for step in procedure():
                if step.id not in self.final_plans:
                    with contextlib.suppress(Exception):  # a plan that needs run facts waits
                        self.plans[step.id] = step.plan(context)
        finally:
            await api.aclose()
        self.refresh_detail()

    @work(thread=True, group="estimate", exit_on_error=False)
    def _find_estimate(self) -> None:
        """The downtime of the newest earlier run beside this journal, read in a
        thread: journals of long runs are big."""
        folder = self.journal_path.parent
        if not folder.is_dir():
            return
        journals = sorted((p for p in folder.glob("*.jsonl") if p != self.journal_path),
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
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await runner.wait()
            if self.outcome is None:
                self.outcome = Outcome.STOPPED

    def start_run(self, procedure: Callable[[], Awaitable[Outcome]] | None = None) -> None:
        """Start the executor in the one "runbook" worker. `procedure` replaces the
        whole procedure (tests drive a real Executor over steps that need no host)."""
        work = procedure() if procedure is not None else self._procedure()
        self.runner = self.run_worker(work, name="runbook", group="runbook",
                                      exit_on_error=False, exclusive=True)

    async def _procedure(self) -> Outcome:
        from runbook.cli import execute

        return await execute(self.settings, token=self.token, front=self.front,
                             journal_path=self.journal_path, state_dir=self.state_dir,
                             isolated=self.isolated, resume=self.continuing)

    # --- what the executor tells us -------------------------------------------------

    def on_step_changed(self, message: StepChanged) -> None:
        report = message.report
        self.reports[report.id] = report
        self.states[report.id] = report.state.value
        if report.state is StepState.RUNNING:
            self.running = report.id
            self.started_at[report.id] = self.clock()
            self.progress.pop(report.id, None)
            if self.asking is not None and self.asking.report.id == report.id:
                self.asking = None
        else:
            if self.running == report.id:
                self.running = None
            self.progress.pop(report.id, None)
            if report.state is StepState.DONE and self.connection == "not connected yet":
                # Every step's check talks to the host: a done step proves the link.
                self.connection = "connected"
            elif report.state is StepState.IN_DOUBT:
                self.connection = "uncertain"
            if report.state in (StepState.FAILED, StepState.IN_DOUBT) and self.can_draw:
                self.bell()  # the operator may be looking at another window
        self.refresh_step(report.id)
        self.sync_output()

    def on_confirm_requested(self, message: ConfirmRequested) -> None:
        step_id = message.report.id
        if self.stop_requested:
            # The operator chose to wait for the running step and then stop.
            message.answer.set_result(Decision(Answer.STOP))
            return
        self.asking = message
        self.plans[step_id] = message.plan
        self.final_plans.add(step_id)
        self.states[step_id] = NEXT
        self.refresh_step(step_id)
        # Follow the procedure: the step that needs an answer is the one to see.
        if self.can_draw:
            self.main.checklist.select_step(step_id)
        self.refresh_view()

    def on_review_requested(self, message: ReviewRequested) -> None:
        self.reviewing = message
        self.states[message.step_id] = StepState.NEEDS_REVIEW.value
        self.refresh_step(message.step_id)
        self.open_properties_review()

    def on_progress_changed(self, message: ProgressChanged) -> None:
        self.progress[message.step_id] = (message.done, message.total, message.label)
        self.sync_progress()

    def on_run_event(self, message: RunEvent) -> None:
        now = self.clock()
        data = message.data
        if message.event == "run-start":
            self.run_started = now
            self.target = str(data.get("host") or self.target)
            self.fingerprint = data.get("fingerprint") or self.fingerprint
        elif message.event == "connected":
            # Not sent by the engine yet; ready for when it reports the host key.
            self.connection = "connected"
            self.fingerprint = data.get("fingerprint") or self.fingerprint
        elif message.event == "cutover-start":
            self.cutover_started = now
        elif message.event == "cutover-end":
            self.downtime_s = data.get("downtime_s")
        elif message.event == "journal-repaired":
            self.notify(str(data.get("message")), severity="warning", timeout=30)
        elif message.event == "run-end":
            if data.get("journal_failure"):
                self.notify(str(data.get("journal_failure")), severity="error", timeout=60)
            self.run_ended = now
            self.connection = "closed"
            with contextlib.suppress(ValueError):
                self.outcome = Outcome(str(data.get("outcome")))
        self.refresh_view()

    def on_estimate_found(self, message: EstimateFound) -> None:
        self.estimate = message
        self.refresh_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.runner or not event.worker.is_finished:
            return
        if event.state is WorkerState.SUCCESS:
            self.outcome = event.worker.result
        elif event.state is WorkerState.ERROR:
            self.outcome = Outcome.FAILED
            self.run_error = f"{type(event.worker.error).__name__}: {event.worker.error}"
            self.notify(self.run_error, title="The run stopped on an error",
                        severity="error", timeout=30)
        else:
            self.outcome = Outcome.STOPPED
            if self.running is not None:
                # Cut off mid-step: the journal has it started and never ended.
                self.states[self.running] = StepState.IN_DOUBT.value
                self.refresh_step(self.running)
                self.running = None
        for pending in (self.asking, self.reviewing):
            future = getattr(pending, "answer", None) or getattr(pending, "finished", None)
            if future is not None and not future.done():
                future.cancel()
        if self.asking is not None:
            self.states[self.asking.report.id] = StepState.PENDING.value
            self.refresh_step(self.asking.report.id)
        self.asking = self.reviewing = None
        self.connection = "closed" if self.run_started is not None else self.connection
        self.refresh_view()
        if self.exit_when_done:
            self.exit(self.outcome)

    # --- output ------------------------------------------------------------------------

    def flush_output(self) -> None:
        """Move newly arrived lines onto the screen in one write."""
        if not self.can_draw:
            return
        pending = self.store.take_pending()
        if not pending:
            return
        if self.connection == "not connected yet" and any(
                not line.startswith(("$ ", "* ")) for lines in pending.values() for line in lines):
            self.connection = "connected"  # the host answered a command
            self.refresh_status()
        if self._wanted_output() != self.shown_output:
            self.sync_output()
        elif self.shown_output in pending:
            self.main.log_widget.write_lines(pending[self.shown_output])

    def _wanted_output(self) -> str | None:
        selected = self.main.checklist.selected_step
        if selected is not None and self.store.of(selected):
            return selected
        if self.running is not None and self.store.of(self.running):
            return self.running
        return self.store.last_step

    def sync_output(self) -> None:
        """Show the selected step's output, or the latest step's when it has none."""
        if not self.can_draw:
            return
        wanted = self._wanted_output()
        pane = self.main.output
        if wanted != self.shown_output:
            self.shown_output = wanted
            log = self.main.log_widget
            log.clear()
            if wanted is not None:
                kept = list(self.store.of(wanted))[-SHOWN_LINES:]
                dropped = self.store.dropped.get(wanted, 0) + \
                    max(0, len(self.store.of(wanted)) - SHOWN_LINES)
                if dropped:
                    log.write_line(f"* {dropped} earlier lines are not shown here; the journal "
                                   "has every line")
                log.write_lines(kept)
            self.store.pending.pop(wanted or "", None)
        if wanted is None:
            pane.border_title = "Output"
        else:
            info = self.by_id.get(wanted)
            name = f"{info.number}. {info.title}" if info else wanted
            pane.border_title = f"Output · {name}"
        pane.border_subtitle = "running" if wanted is not None and wanted == self.running \
            else ""
        self.sync_progress()

    def sync_progress(self) -> None:
        if not self.can_draw:
            return
        pane = self.main.output
        found = self.progress.get(self.shown_output or "") if self.shown_output else None
        if found is None and self.running is not None:
            found = self.progress.get(self.running)
        if found is None:
            pane.hide_progress()
            return
        done, total, label = found
        pane.show_progress(label, done, total)

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
        self.main.checklist.show_state(step_id, self.states[step_id], self._elapsed(step_id))
        if self.main.checklist.selected_step == step_id:
            self.refresh_detail()
        self.refresh_status()
        self.refresh_hint()

    def _elapsed(self, step_id: str) -> float | None:
        if self.running == step_id and step_id in self.started_at:
            return self.clock() - self.started_at[step_id]
        report = self.reports.get(step_id)
        return report.elapsed_s if report is not None else None

    def tick(self) -> None:
        """Once a second: the running step's elapsed time and the header clocks."""
        if not self.can_draw:
            return
        if self.running is not None:
            self.main.checklist.show_state(self.running, self.states[self.running],
                                           self._elapsed(self.running))
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
        final = step_id in self.final_plans
        heading = Content.assemble(("Plan", "bold"), (
            "  exactly what runs, secrets masked" if final
            else "  as planned now; shown again, final, when its turn comes", "$text-muted"))
        self.main.detail.show(step_id, self.detail_content(step_id), heading,
                              self.plans.get(step_id),
                              empty="(worked out when its turn comes)"
                              if step_id not in self.plans else "(nothing to run)")
        self.main.detail.border_title = f"Step {self.by_id[step_id].number} of {len(self.steps)}"

    def detail_content(self, step_id: str) -> Content:
        """The selected step in words: what it does, its caution, how it went."""
        info = self.by_id[step_id]
        state = self.states[step_id]
        shown = look(state)
        kind = "destructive: asks for its id" if info.needs_typed_confirmation \
            else "asks for y"
        parts: list[Content | str | tuple[str, str]] = [
            (info.title, "bold"), "  ", (f"{shown.glyph} {shown.word}", shown.style), "\n",
            (f"{info.id} · {info.phase} · {kind}", "$text-muted"), "\n\n",
            info.summary, "\n",
        ]
        if info.caution:
            parts += ["\n", ("Caution: ", "bold $warning"), info.caution, "\n"]
        report = self.reports.get(step_id)
        if report is not None and report.detail:
            took = f" after {duration(report.elapsed_s)}" if report.elapsed_s is not None else ""
            parts += ["\n", (f"Result{took}: ", f"bold {shown.style}"), report.detail, "\n"]
        history = self.previous.steps.get(step_id) if self.previous else None
        if history is not None:
            earlier = look(history.state.value)
            parts += ["\n", ("Earlier run: ", "bold"), (earlier.word, earlier.style)]
            if history.skip_reason:
                parts.append(f" ({history.skip_reason})")
            for action in history.in_flight:
                parts += ["\n", ("  in flight: ", "$error"), action]
            parts.append("\n")
        if step_id == PROPERTIES_STEP:
            parts += ["\n", ("d", "bold"), " opens the properties review while this step "
                      "waits for decisions on keys.\n"]
        return Content.assemble(*parts)

    def refresh_status(self) -> None:
        if not self.can_draw:
            return
        now = self.clock()
        host: list[Content | str | tuple[str, str]] = []
        if self.rehearsal:
            host += [(" REHEARSAL ", "bold $text on $warning-darken-1"), " "]
        host += [("runbook ", "bold"), ("→ ", "$text-muted"), (self.target, "bold")]
        link_style = {"connected": "$success", "uncertain": "bold $error"}.get(
            self.connection, "$text-muted")
        host += ["   ssh ", (self.connection, link_style), "   host key "]
        host.append((self.fingerprint, "$text") if self.fingerprint
                    else ("checked against known_hosts", "$text-muted"))
        if self.host_label:
            host += ["   ", (self.host_label, "$text-muted")]

        end = self.run_ended if self.run_ended is not None else now
        elapsed = end - self.run_started if self.run_started is not None else None
        clocks: list[Content | str | tuple[str, str]] = [("elapsed ", "$text-muted"),
                                                          clock(elapsed)]
        clocks.append(("   downtime ", "$text-muted"))
        if self.downtime_s is not None:
            clocks.append((f"{clock(self.downtime_s)} (ended)", "bold"))
        elif self.cutover_started is not None:
            clocks.append((clock(end - self.cutover_started), "bold $error"))
        else:
            clocks.append(("not started", "$text-muted"))
        if self.estimate is not None:
            clocks.append((f"   last run's cutover took {duration(self.estimate.downtime_s)}",
                           "$text-muted"))
        finished = sum(1 for s in self.states.values()
                       if s in (StepState.DONE.value, StepState.SKIPPED.value))
        clocks += [("   steps ", "$text-muted"), f"{finished}/{len(self.steps)} done or skipped"]
        if self.outcome is not None:
            outcome_style = {Outcome.DONE: "bold $success", Outcome.FAILED: "bold $error"}
            clocks += [("   run ", "$text-muted"),
                       (self.outcome.value, outcome_style.get(self.outcome, "bold $warning"))]
        self.main.query_one("#status").show(Content.assemble(*host),  # type: ignore[attr-defined]
                                            Content.assemble(*clocks))

    def refresh_hint(self) -> None:
        if not self.can_draw:
            return
        self.main.query_one("#hint", Static).update(self.hint())

    def hint(self) -> Content:
        """One sentence: what the operator can do right now."""
        if self.run_error is not None:
            return Content.styled(f"The run stopped on an error: {self.run_error}. q quits.",
                                  "$error")
        if self.outcome is not None:
            failed = [s for s in self.steps if self.states[s.id] in
                      (StepState.FAILED.value, StepState.IN_DOUBT.value)]
            if self.outcome is Outcome.DONE:
                return Content.styled("Every step is done or skipped. q quits; the journal "
                                      f"is {self.journal_path}.", "$success")
            if failed:
                return Content.styled(
                    f"Step {failed[0].number} failed; its result is on the right. Fix the cause, "
                    "then run runbook again (done steps are recognised). q quits.",
                    "$error")
            return Content.styled("The run was stopped. q quits.", "$warning")
        if self.stop_requested:
            return Content.styled("Stopping once the running step has finished.", "$warning")
        if self.reviewing is not None:
            return Content("The properties step waits for the review: d opens it.")
        if self.running is not None:
            info = self.by_id[self.running]
            return Content.assemble((info.title, "bold"), " is running. Its output is below "
                                    "(l to scroll it); q asks before stopping anything.")
        if self.asking is not None:
            info = self.by_id[self.asking.report.id]
            if self.main.checklist.selected_step == info.id:
                return Content.assemble(
                    ("enter", "bold"), " shows exactly what ", (info.title, "bold"),
                    " will run and asks to confirm; ", ("s", "bold"), " skips it with a reason.")
            return Content.assemble(
                "The runbook waits on step ", (f"{info.number}. {info.title}", "bold"),
                ": select it (↑/↓) and press ", ("enter", "bold"), ".")
        if self.runner is None:
            if self.resume is not None:
                return Content("An earlier run did not finish: read what it did, then continue "
                               "it, start a new run, or quit.")
            return Content("Not started yet.")
        return Content("Checking the host before the next step…")

    # --- operator actions (bindings and the command palette) ---------------------------

    def _why_not_now(self) -> str:
        if self.outcome is not None:
            return "The run has ended. Start runbook again to run more steps."
        if self.running is not None:
            return f"{self.by_id[self.running].title} is still running."
        if self.reviewing is not None:
            return "The properties step waits for its review first (d)."
        if self.runner is None:
            return "The run has not started."
        return "The runbook is checking the host; the next step is ready in a moment."

    def _question_on_selected(self, elsewhere: str) -> tuple[ConfirmRequested, StepInfo] | None:
        """The question the runbook asks now, if the selected step is the one asked
        about; otherwise say why nothing happens (`elsewhere` names the rule)."""
        asking = self.asking
        if asking is None:
            self.notify(self._why_not_now())
            return None
        info = self.by_id[asking.report.id]
        if self.main.checklist.selected_step != info.id:
            self.notify(elsewhere.format(step=f"{info.number}. {info.title}"))
            return None
        return asking, info

    def run_selected_step(self) -> None:
        found = self._question_on_selected(
            "Steps run in order: next is {step}. Select it and press enter.")
        if found is None:
            return
        asking, info = found
        target = Target(self.settings.host.address, self.settings.host.port,
                        self.settings.host.user, self.settings.host.sudo, self.rehearsal)

        def answered(run: bool | None) -> None:
            if run and self.asking is asking and not asking.answer.done():
                asking.answer.set_result(Decision(Answer.RUN))
                self.asking = None
                self.refresh_hint()

        self.push_screen(ConfirmDialog(info, len(self.steps), target, asking.plan), answered)

    def skip_selected_step(self) -> None:
        found = self._question_on_selected(
            "Only the step the runbook waits on can be skipped: {step}.")
        if found is None:
            return
        asking, info = found
        if not info.can_skip:
            why = ("the stream manager is down until cutover ends" if info.phase == "cutover"
                   else "the steps after it rely on what it finds")
            self.notify(f"{info.title} cannot be skipped: {why}. Run it, or quit.",
                        severity="warning")
            return

        def answered(reason: str | None) -> None:
            if reason and self.asking is asking and not asking.answer.done():
                asking.answer.set_result(Decision(Answer.SKIP, reason))
                self.asking = None
                self.refresh_hint()

        self.push_screen(SkipDialog(info), answered)

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
        screen = screen_class(request.review,  # type: ignore[call-arg]
                              decisions_path=request.decisions_path,
                              old_name=getattr(request.review, "old_name", "old"),
                              new_name=getattr(request.review, "new_name", "new"))
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
            if self.states.get(request.step_id) == StepState.NEEDS_REVIEW.value:
                self.states[request.step_id] = StepState.RUNNING.value
                self.refresh_step(request.step_id)
        self.refresh_hint()

    def action_request_quit(self) -> None:
        if isinstance(self.screen, QuitDialog):
            return
        if self.runner is None or self.runner.is_finished:
            self.exit(self.outcome)
            return
        asking = self.asking
        if asking is not None and self.running is None:
            info = self.by_id[asking.report.id]

            def idle_answer(choice: str | None) -> None:
                if choice == STOP and not asking.answer.done():
                    self.exit_when_done = True
                    asking.answer.set_result(Decision(Answer.STOP))

            self.push_screen(QuitDialog(busy=False, what="",
                                        next_step=f"{info.number}. {info.title}"), idle_answer)
            return
        what = (f"step {self.by_id[self.running].number}. {self.by_id[self.running].title} "
                "is running." if self.running else "the runbook is checking the host.")

        def busy_answer(choice: str | None) -> None:
            if choice == WAIT:
                self.stop_requested = self.exit_when_done = True
                self.refresh_hint()
            elif choice in (ABORT, DETACH) and self.runner is not None:
                if choice == DETACH:
                    self.front.detach()
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
        for info in self.steps:
            yield SystemCommand(f"Show step {info.number}: {info.title}",
                                f"{info.id} ({info.phase})", _selector(self, info.id),
                                discover=False)
        for command in super().get_system_commands(screen):
            if command.title.lower() != "quit":
                yield command


def _selector(app: RunbookApp, step_id: str) -> Callable[[], None]:
    return lambda: app.main.checklist.select_step(step_id)


def create_app(
    settings: Settings,
    *,
    token: str,
    journal_path: Path,
    state_dir: Path | None = None,
    isolated: bool = False,
    rehearsal: bool = False,
    host_label: str = "",
    resume: Path | None = None,
    clock: Clock | None = None,
    start_run: bool = True,
) -> RunbookApp:
    """The one factory, for the CLI and the tests.

    `journal_path` is where a new run writes. `resume` names an unfinished earlier
    run's journal: the app shows what it did and offers to continue it (in that
    journal, as `runbook run --resume` does), to start a new run, or to quit.
    Tests pass a frozen `clock`, and `start_run=False` to feed engine events
    themselves."""
    return RunbookApp(settings, token=token, journal_path=journal_path, steps=step_infos(),
                      state_dir=state_dir, isolated=isolated, rehearsal=rehearsal,
                      host_label=host_label,
                      resume=resume, clock=clock or time.monotonic, start_run=start_run)


async def run_tui(
    settings: Settings,
    *,
    token: str,
    journal_path: Path,
    state_dir: Path,
    isolated: bool = False,
    rehearsal: bool = False,
    host_label: str = "",
    resume: Path | None = None,
) -> Outcome:
    """Run the app until the operator leaves; the executor's outcome, STOPPED if
    the operator quit before the run ended."""
    app = create_app(settings, token=token, journal_path=journal_path, state_dir=state_dir,
                     isolated=isolated, rehearsal=rehearsal, host_label=host_label,
                     resume=resume)
    await app.run_async()
    await app.finish_run()
    outcome = app.outcome or Outcome.STOPPED
    print(f"runbook: {outcome.value}; journal: {app.journal_path}")
    return outcome
