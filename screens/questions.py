"""The runbook's questions and the operator's answers: run or skip the step it
waits on, what to do after a failure, and whether (and how) to leave.

The executor waits on a future per question; the dialogs here settle it. The
run state keeps the question asked now (`app.asking` reads it); this module decides what the
operator's keys may do about it, and says why when they may do nothing.
What it uses of the app is the QuestionsHost below, so this module never
names the app, which builds it (lint-imports keeps it so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from runbook.executor import Answer, Decision, Recovery
from runbook.model import Phase, StepCard, StepState, outcome_words
from screens.dialogs import (
    BUSY,
    DETACH,
    ENDED,
    IDLE,
    QUITTING,
    STAY,
    STOP,
    WAIT,
    ConfirmDialog,
    Leaving,
    QuitDialog,
    RecoverDialog,
    RollBackDialog,
    SkipDialog,
    StopStepDialog,
    Target,
)
from screens.messages import ConfirmRequested, RecoveryRequested
from screens.run_state import FINISHED
from screens.views import why_not_now

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel
    from textual.screen import Screen, ScreenResultCallbackType
    from textual.widget import AwaitMount
    from textual.worker import Worker

    from runbook.model import Outcome
    from runbook.session import Session
    from screens.main import MainScreen
    from screens.records import Records
    from screens.run_state import Question, RunState

R = TypeVar("R")


class QuestionsHost(Protocol):
    """What the questions use of the app (screens.app.RunbookApp): its run,
    the question asked now, its screens and notices."""

    exit_when_done: bool

    @property
    def asking(self) -> Question | None: ...
    @property
    def run_state(self) -> RunState: ...
    @property
    def main(self) -> MainScreen: ...
    @property
    def cards(self) -> Sequence[StepCard]: ...
    @property
    def by_id(self) -> Mapping[str, StepCard]: ...
    @property
    def records(self) -> Records: ...
    @property
    def session(self) -> Session[Any]: ...
    @property
    def runner(self) -> Worker[Outcome] | None: ...
    @property
    def rehearsal(self) -> bool: ...
    @property
    def screen(self) -> Screen[object]: ...
    @property
    def screen_stack(self) -> list[Screen[Any]]: ...

    def push_screen(self, screen: Screen[R],
                    callback: ScreenResultCallbackType[R] | None = None) -> AwaitMount: ...
    def notify(self, message: str, *, severity: SeverityLevel = "information",
               markup: bool = True) -> None: ...
    def clear_notifications(self) -> None: ...
    def refresh_bindings(self) -> None: ...
    def exit(self, result: Outcome | None = None) -> None: ...


class Questions:
    def __init__(self, app: QuestionsHost) -> None:
        self.app = app
        # A failed step's question, until it is answered.
        self.recovery: RecoveryRequested | None = None

    # --- asked by the executor ---------------------------------------------------------

    def confirm_requested(self, message: ConfirmRequested) -> None:
        app = self.app
        if app.run_state.stop_requested:
            # The operator chose to wait for the running step and then stop.
            message.answer.set_result(Decision(Answer.STOP))
            return
        step_id = message.report.id
        changed_rows = app.run_state.asked(message)
        app.refresh_bindings()  # the skip key follows the step asked about
        for changed in [*changed_rows, step_id]:
            app.main.refresh_step(changed)
        # Follow the procedure: the step that needs an answer is the one to see.
        if app.main.can_draw:
            app.main.checklist.select_step(step_id)
        app.main.refresh_view()
        self.run_moved()

    def recovery_requested(self, message: RecoveryRequested) -> None:
        card = self.app.by_id[message.report.id]
        self.app.main.checklist.select_step(card.id)
        self.app.run_state.recovering = card.id
        self.recovery = message
        self.app.main.refresh_hint()
        self.run_moved()
        self.show_recovery()

    def _recovery_shown(self) -> bool:
        """The failed step's dialog is open, on top or under another screen, or
        its way back's confirmation, whose escape brings it back (review: a
        quit opened the question again over that confirmation)."""
        return any(isinstance(screen, RecoverDialog)
                   or (isinstance(screen, RollBackDialog) and screen.failed)
                   for screen in self.app.screen_stack)

    def show_recovery(self) -> None:
        """The failed step's question, again if escape laid it aside: the run
        waits on it, and enter, r or q bring it back."""
        message = self.recovery
        if message is None or self._recovery_shown():
            return
        card = self.app.by_id[message.report.id]

        def answered(choice: str | None) -> None:
            self.app.run_state.recovery_keys = {}
            self.app.main.refresh_hint()
            if message.answer.done() or self.recovery is not message:
                return
            if choice is None:  # laid aside (escape): the question stands
                return
            if choice == Recovery.ROLLBACK.value:
                # Asked once more, as from the main screen: an r meant for that
                # landed in this question as it opened, and chose the way back
                # (operator trial). Escape brings this question back. The hint
                # names that question's keys meanwhile (stop 52).

                def chosen(go: bool | None) -> None:
                    self.app.run_state.recovery_keys = {}
                    if go:
                        take(choice)
                    else:
                        self.show_recovery()

                asked = RollBackDialog(card, self._way_back(), failed=True,
                                       throwaway=self._throwaway)
                self.app.push_screen(asked, chosen)
                self.app.run_state.recovery_keys = asked.keys_said()
                self.app.main.refresh_hint()
                return
            take(choice)

        def take(choice: str) -> None:
            if message.answer.done() or self.recovery is not message:
                return
            self.recovery = None
            self.app.run_state.recovering = None
            if choice != Recovery.STOP.value:
                # Try again, or the way back, is the answer meant now: a wait-
                # then-quit chosen while the step ran answered the retry's
                # question "stop" and quit, the stream manager down (trial).
                self._call_off_the_waiting_quit()
            self.app.main.refresh_hint()
            message.answer.set_result(Recovery(choice) if choice in {
                r.value for r in Recovery} else Recovery.STOP)

        dialog = RecoverDialog(card, message.report.detail,
                               can_roll_back=message.can_roll_back,
                               stopped=message.report.stopped,
                               retry_helps=message.report.retry_helps,
                               copy=self.app.records.copy,
                               known_line=message.report.known_hosts_line)
        self.app.push_screen(dialog, answered)
        # The hint under it names what it offers, as its buttons do, by the
        # keys its bindings have (re-trial: a keymap that moved t left "t").
        self.app.run_state.recovery_keys = dialog.keys_said()
        self.app.main.refresh_hint()

    # --- answered by the operator ------------------------------------------------------

    def _on_selected(self, elsewhere: str) -> tuple[Question, StepCard] | None:
        """The question asked now, if the selected step is the one asked about;
        otherwise say why nothing happens (`elsewhere` names the rule)."""
        app = self.app
        asking = app.asking
        if asking is None:
            app.notify(why_not_now(app.run_state), markup=False)
            return None
        card = app.by_id[asking.report.id]
        if app.main.checklist.selected_step != card.id:
            # The runbook knows which step: it selects it, and the next key
            # acts on it (operator trial 57, F1: "select it" named one step
            # while another, browsed to, stayed shown).
            app.main.checklist.select_step(card.id)
            app.notify(elsewhere.format(step=f"{card.number}. {card.title}"), markup=False)
            return None
        return asking, card

    def _answer(self, asking: Question, decision: Decision) -> None:
        if self.app.asking is asking and not asking.answer.done():
            asking.answer.set_result(decision)  # asked no more (RunState.asking)
            self.app.refresh_bindings()
            self.app.main.refresh_hint()

    def run_step(self) -> None:
        if self.recovery is not None:
            self.show_recovery()
            return
        found = self._on_selected("Steps run in order: next is {step}, selected again. "
                                  "Press enter to see its plan.")
        if found is None:
            return
        asking, card = found
        app = self.app
        host = app.session.settings.host
        target = Target(host.address, host.port, host.user, host.sudo, app.rehearsal)

        def answered(run: bool | None) -> None:
            if run:
                self._answer(asking, Decision(Answer.RUN))

        app.push_screen(ConfirmDialog(card, len(app.run_state.forward), target, asking.plan,
                                      app.run_state.warnings_for(card),
                                      destructive_now=asking.report.destructive_now), answered)

    def skip_step(self) -> None:
        found = self._on_selected("Only the step the runbook waits on can be skipped: {step}, "
                                  "selected again.")
        if found is None:
            return
        asking, card = found
        if card.not_skippable_because is not None:
            self.app.notify(f"{card.title} cannot be skipped: {card.not_skippable_because}. "
                            "Run it, or quit.", severity="warning", markup=False)
            return

        def answered(reason: str | None) -> None:
            if reason:
                self._answer(asking, Decision(Answer.SKIP, reason))

        self.app.push_screen(SkipDialog(card, cutover_needs=asking.report.cutover_needs,
                                        offers_again=self.app.session.settings.offers_again),
                             answered)

    def can_go_back_now(self) -> bool:
        """The runbook waits on a step whose question can be answered with
        the way back, as the engine says on its report (review 56b, F4)."""
        app = self.app
        asking = app.asking
        return (asking is not None and not asking.answer.done()
                and app.run_state.running is None and asking.report.way_back_open)

    def roll_back(self) -> None:
        """Ask once, then answer the step the runbook waits on with the way back."""
        asking = self.app.asking
        if asking is None or not self.can_go_back_now():
            return
        card = self.app.by_id[asking.report.id]

        def answered(go: bool | None) -> None:
            if go:
                self._answer(asking, Decision(Answer.ROLLBACK))

        # Asked at a prepare step, the cutover resumed: the cutover step the
        # run would go on at is what the way back is chosen instead of.
        states = self.app.run_state.states
        cutover_next = next((c for c in self.app.cards if c.phase is Phase.CUTOVER
                             and states.get(c.id) not in FINISHED), None)
        self.app.push_screen(RollBackDialog(card, self._way_back(), cutover_next=cutover_next,
                                            throwaway=self._throwaway), answered)

    @property
    def _throwaway(self) -> bool:
        """A rehearsal whose host goes as it ends: nothing resumes it."""
        return self.app.session.settings.rehearsal_throwaway

    def _way_back(self) -> list[StepCard]:
        return [c for c in self.app.cards if c.phase is Phase.ROLLBACK]

    def stop_step(self) -> None:
        """Ask once, then stop the step running now: its question follows."""
        app = self.app
        card = app.by_id.get(app.run_state.running or "")
        if card is not None and app.run_state.reviewing is not None:
            app.notify("The properties step waits for your review; nothing of it runs on the "
                       "host. Finish the review, or leave it (q there).", markup=False)
            return
        if card is None:
            app.notify(f"No step is running now. {why_not_now(app.run_state)}"
                       if app.run_state.recovering is not None or app.run_state.outcome
                       is not None else "No step is running now: nothing to stop.",
                       markup=False)
            return
        if app.run_state.stopping == card.id:
            app.notify(f"Step {card.number}. {card.title} is being stopped: its question "
                       "comes once what it runs on the host has ended.", markup=False)
            return
        # Whether its question will offer the way back, as the engine says on
        # the running step's report (kept true as it runs: the cutover begun
        # by this step opens it). A running step always has one: it is
        # running by its report.
        way_back = app.run_state.reports[card.id].way_back_open

        def answered(stop: bool | None) -> None:
            if not stop:
                return
            if not app.session.stop_step(card.id):
                app.notify(f"Step {card.number}. {card.title} ended before it could be "
                           "stopped: nothing was stopped.", markup=False)
                return
            app.run_state.stopping = card.id
            # What r said while the step ran (stop it with x) is done with:
            # it stayed over the question for its 30 s (operator trial).
            app.clear_notifications()
            app.refresh_bindings()
            app.main.refresh_hint()

        app.push_screen(StopStepDialog(card, way_back=way_back), answered)

    def _stop_asked_of(self, dialog: StopStepDialog) -> None:
        """The step the stop dialog asks about ended under it: nothing is left
        to stop, and what runs next is not what was asked about."""
        step = dialog.step
        if dialog is self.app.screen and self.app.run_state.running != step.id:
            dialog.dismiss(False)
            self.app.notify(f"Step {step.number}. {step.title} ended on its own before you "
                            "answered: nothing was stopped.", markup=False)

    # --- leaving -------------------------------------------------------------------------

    def quit(self) -> None:
        """Leave at once when nothing runs; otherwise ask how."""
        app = self.app
        runner = app.runner
        running = runner is not None and not runner.is_finished
        if running and app.run_state.recovering is not None:
            # Nothing runs: the failed step's dialog is the question, and its q
            # stops the run (review: this asked as if the runbook were busy).
            # It is on top, over a quit dialog too if one was open, or was
            # laid aside (escape) and comes back.
            if self._recovery_shown() or self.recovery is None:
                app.notify("The failed step's dialog waits for an answer: q there stops the "
                           "run.", markup=False)
            else:
                self.show_recovery()
            return
        if any(isinstance(screen, QuitDialog) for screen in app.screen_stack):
            if not isinstance(app.screen, QuitDialog):
                # The full log or the properties review went over it: said, or
                # the key seems to do nothing (review).
                app.notify("The quit dialog is still open, under this screen: leave this "
                           "screen (escape; q in the properties review) to answer it.",
                           markup=False)
            return
        if not running:
            app.exit(app.run_state.outcome)
            return
        # No notice left under it (re-trial 53): the main screen's notices stay
        # drawn beneath a dialog, dimmed, even past their time, and the quit
        # dialog's box lay over one and read as one with it. What they said
        # is moot once leaving is asked: the exit lines say how to go on.
        app.clear_notifications()
        app.push_screen(QuitDialog(self.leaving()), self.left)

    def _call_off_the_waiting_quit(self) -> None:
        """A later answer outranks a wait-then-quit (w) chosen while a step ran."""
        self.app.run_state.stop_requested = self.app.exit_when_done = False

    def leaving(self) -> Leaving:
        """What quitting means now."""
        app, state = self.app, self.app.run_state
        down = state.service_down
        going_back, back = state.going_back, ""
        if going_back:
            # The last step of the way back done, and what it says (trial 61,
            # F4: "down" flatly, with the old release answering again).
            done = [card for card in app.cards if card.phase is Phase.ROLLBACK
                    and state.states.get(card.id) == StepState.DONE.value
                    and card.id in state.reports]
            if done:
                card = done[-1]
                detail = state.reports[card.id].detail
                back = f"the last done, step {card.number}. {card.title}" + (
                    f": {detail}" if detail else "")
        # Ended once the run says so: its worker may still be closing the
        # connection to a dead host (review: "checking the host" after the end).
        if app.runner is None or app.runner.is_finished or state.outcome is not None:
            return Leaving(ENDED, ended=outcome_words(state.outcome) if state.outcome else "",
                           down=down, going_back=going_back, back=back, throwaway=self._throwaway)
        asking = app.asking
        if asking is not None and state.running is None:
            card = app.by_id[asking.report.id]
            return Leaving(IDLE, next_step=f"{card.number}. {card.title}", down=down,
                           going_back=going_back, back=back, throwaway=self._throwaway)
        running = app.by_id.get(state.running or "")
        return Leaving(BUSY, waiting=state.stop_requested,
                       what=f"step {running.number}. {running.title} is running."
                       if running else "the runbook is checking the host.", down=down,
                       going_back=going_back, back=back, throwaway=self._throwaway)

    def run_moved(self) -> None:
        """The run moved on (a step started or ended, a question came, the run
        ended): an open quit dialog says what is so now. A failed step's
        question takes its place: what leaving means is answered there (q)."""
        for screen in self.app.screen_stack:
            if isinstance(screen, StopStepDialog):
                self._stop_asked_of(screen)
            if isinstance(screen, QuitDialog):
                if self.app.run_state.recovering is not None and screen is self.app.screen:
                    screen.dismiss(STAY)
                else:
                    screen.show(self.leaving())

    def left(self, choice: str | None) -> None:
        """The quit dialog's answer, done as the run now allows: it may have
        moved on since the dialog was drawn, and an answer that said "and
        quit" quits whatever it found (operator trial: once the step had
        ended behind the dialog, w and a only closed it)."""
        app = self.app
        if choice not in QUITTING:
            if choice == STAY and app.run_state.stop_requested:
                # Stay is the answer meant now (operator trial: the quit
                # chosen before still came when the step ended).
                self._call_off_the_waiting_quit()
                app.main.refresh_hint()
                app.notify("The quit is called off: the run goes on.", markup=False)
            return
        runner = app.runner
        if runner is None or runner.is_finished:
            app.exit(app.run_state.outcome)
            return
        asking = app.asking
        if asking is not None and app.run_state.running is None and not asking.answer.done():
            # The runbook waits on the operator: nothing to wait for or cut
            # off, so every way of leaving is a stop here.
            app.exit_when_done = True
            asking.answer.set_result(Decision(Answer.STOP))
            return
        if choice in (WAIT, STOP):
            app.run_state.stop_requested = app.exit_when_done = True
            app.main.refresh_hint()
        else:
            if choice == DETACH:
                app.session.detach()
            else:
                app.session.abort()
            app.exit_when_done = True
            runner.cancel()
