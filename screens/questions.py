"""The runbook's questions and the operator's answers: run or skip the step it
waits on, what to do after a failure, and whether (and how) to leave.

The executor waits on a future per question; the dialogs here settle it. The
app keeps the question asked now (`app.asking`); this module decides what the
operator's keys may do about it, and says why when they may do nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbook.executor import Answer, Decision, Recovery
from runbook.model import StepCard
from screens.dialogs import (
    ABORT,
    DETACH,
    STOP,
    WAIT,
    ConfirmDialog,
    QuitDialog,
    RecoverDialog,
    SkipDialog,
    Target,
)
from screens.messages import ConfirmRequested, RecoveryRequested
from screens.views import why_not_now

if TYPE_CHECKING:
    from screens.app import RunbookApp


class Questions:
    def __init__(self, app: RunbookApp) -> None:
        self.app = app

    # --- asked by the executor ---------------------------------------------------------

    def confirm_requested(self, message: ConfirmRequested) -> None:
        app = self.app
        if app.run_state.stop_requested:
            # The operator chose to wait for the running step and then stop.
            message.answer.set_result(Decision(Answer.STOP))
            return
        app.asking = message
        step_id = message.report.id
        app.run_state.asked(step_id, message.plan)
        app.main.refresh_step(step_id)
        # Follow the procedure: the step that needs an answer is the one to see.
        if app.main.can_draw:
            app.main.checklist.select_step(step_id)
        app.main.refresh_view()

    def recovery_requested(self, message: RecoveryRequested) -> None:
        card = self.app.by_id[message.report.id]
        self.app.main.checklist.select_step(card.id)
        self.app.run_state.recovering = card.id
        self.app.main.refresh_hint()

        def answered(choice: str | None) -> None:
            self.app.run_state.recovering = None
            self.app.main.refresh_hint()
            if not message.answer.done():
                message.answer.set_result(Recovery(choice) if choice in {
                    r.value for r in Recovery} else Recovery.STOP)

        self.app.push_screen(RecoverDialog(card, message.report.detail,
                                           can_roll_back=message.can_roll_back), answered)

    # --- answered by the operator ------------------------------------------------------

    def _on_selected(self, elsewhere: str) -> tuple[ConfirmRequested, StepCard] | None:
        """The question asked now, if the selected step is the one asked about;
        otherwise say why nothing happens (`elsewhere` names the rule)."""
        app = self.app
        asking = app.asking
        if asking is None:
            app.notify(why_not_now(app.run_state), markup=False)
            return None
        card = app.by_id[asking.report.id]
        if app.main.checklist.selected_step != card.id:
            app.notify(elsewhere.format(step=f"{card.number}. {card.title}"), markup=False)
            return None
        return asking, card

    def _answer(self, asking: ConfirmRequested, decision: Decision) -> None:
        if self.app.asking is asking and not asking.answer.done():
            asking.answer.set_result(decision)
            self.app.asking = None
            self.app.main.refresh_hint()

    def run_step(self) -> None:
        found = self._on_selected("Steps run in order: next is {step}. Select it and press "
                                  "enter.")
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
                                      app.run_state.warnings_for(card)), answered)

    def skip_step(self) -> None:
        found = self._on_selected("Only the step the runbook waits on can be skipped: {step}.")
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

        self.app.push_screen(SkipDialog(card), answered)

    # --- leaving -------------------------------------------------------------------------

    def quit(self) -> None:
        """Leave at once when nothing runs; otherwise ask how."""
        app = self.app
        if isinstance(app.screen, QuitDialog):
            return
        runner = app.runner
        if runner is None or runner.is_finished:
            app.exit(app.run_state.outcome)
            return
        if app.run_state.recovering is not None:
            # Nothing runs: the failed step's dialog is the question, and its q
            # stops the run (review: this asked as if the runbook were busy).
            app.notify("The failed step's dialog waits for an answer: q there stops the run.",
                       markup=False)
            return
        asking = app.asking
        if asking is not None and app.run_state.running is None:
            card = app.by_id[asking.report.id]

            def idle_answer(choice: str | None) -> None:
                if choice == STOP and not asking.answer.done():
                    app.exit_when_done = True
                    asking.answer.set_result(Decision(Answer.STOP))

            app.push_screen(QuitDialog(busy=False, what="",
                                       next_step=f"{card.number}. {card.title}",
                                       down=app.run_state.service_down), idle_answer)
            return
        running = app.by_id.get(app.run_state.running or "")
        what = (f"step {running.number}. {running.title} is running." if running
                else "the runbook is checking the host.")

        def busy_answer(choice: str | None) -> None:
            if choice == WAIT:
                app.run_state.stop_requested = app.exit_when_done = True
                app.main.refresh_hint()
            elif choice in (ABORT, DETACH):
                if choice == DETACH:
                    app.session.detach()
                app.exit_when_done = True
                runner.cancel()

        app.push_screen(QuitDialog(busy=True, what=what, down=app.run_state.service_down),
                        busy_answer)
