"""What the screen knows about the run: plain data, updated from engine events.

No Textual here. The app's message handlers feed events in (with the time
they arrived); widgets and views read the state out. Keeping the bookkeeping
apart from drawing is what lets a test check it without a terminal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from runbook.model import (
    Action,
    AfterTheWayBack,
    Leaves,
    Outcome,
    Phase,
    StepCard,
    StepReport,
    StepState,
    after_the_way_back,
)
from screens.presentation import (
    ALREADY,
    NEXT,
    NOT_RUN,
    NOT_UNDONE,
    NOTHING_TO_UNDO,
    PART_UNDONE,
    UNDONE,
    WARNED,
)

# The events and the journal load with the first event, after the first
# paint (issue 12): the first screen draws the cards alone.
if TYPE_CHECKING:
    from runbook.events import Event, Progress
    from runbook.journal_replay import Replay



class Question(Protocol):
    """A question the runbook waits on (screens.messages.ConfirmRequested):
    the step asked about, its plan, and the future the answer settles."""

    @property
    def report(self) -> StepReport: ...
    @property
    def plan(self) -> list[Action]: ...
    @property
    def answer(self) -> asyncio.Future[Any]: ...


FINISHED = (StepState.DONE.value, StepState.SKIPPED.value)
TROUBLE = (StepState.FAILED.value, StepState.IN_DOUBT.value)
# What the earlier run found that a continued run starts from.
SETTLED = (*FINISHED, *TROUBLE)
# How the connection reads once the reconnect gave up: lost, and none is made
# until something needs the host.
GAVE_UP = "lost (gave up"


@dataclass
class RunState:
    """What the TUI knows of the run, kept apart from the widgets that show it."""
    cards: list[StepCard]
    target: str
    states: dict[str, str] = field(default_factory=dict)
    reports: dict[str, StepReport] = field(default_factory=dict)
    plans: dict[str, list[Action]] = field(default_factory=dict)
    # Plans the executor handed over for confirmation (exactly what runs).
    final_plans: set[str] = field(default_factory=set)
    started_at: dict[str, float] = field(default_factory=dict)
    progress: dict[str, Progress] = field(default_factory=dict)
    # The question the runbook waits on, kept here alone (`asking` reads it):
    # a copy of it in the app outlived a skip and the hint offered the
    # skipped step through the next step's checks (review 56b F1).
    question: Question | None = None
    reviewing: str | None = None
    # The engine said the way back began (WayBackStarted): it stays begun when
    # its first step is left pending at its question.
    way_back: bool = False
    # The failed step whose dialog asks what now (try again, roll back, stop).
    recovering: str | None = None
    # The keys its dialog offers while it is open, by choice (retry: "t",
    # rollback, stop, back), as its bindings stand (a keymap moves them): the
    # hint below names them; empty once escape lays it aside (operator trial:
    # the hint said "enter shows the choices" under the open dialog). go and
    # stay: the way back it offers is being asked about.
    recovery_keys: dict[str, str] = field(default_factory=dict)
    running: str | None = None
    # The step this run ran last, once it has ended: the next question says
    # how it went, since the view has moved on from its page.
    last_ended: str | None = None
    # The steps whose checks found them done since the way back began or the
    # last step that ran: the next question says so, not how a step from
    # before them went (trial 56b, F5: "Step 2 done" under the way back's
    # third step, and under start-service's question on a resume).
    passed: list[str] = field(default_factory=list)
    # The step whose state the engine said last, and whether this run has
    # led the cursor (to a question, or a failure): a run that never did (a
    # resume that found its last steps done) ends showing that step, not
    # step 1 (operator trial).
    last_changed: str | None = None
    led_the_cursor: bool = False
    run_started: float | None = None
    # This process continues an earlier run's journal (--resume, the way back
    # alone): run_started is this session's start, not the run's.
    continued: bool = False
    run_ended: float | None = None
    # When the first cutover action ran (the clock's time, a wall clock): from
    # the host's record or the journal when this run did not start it.
    down_since: float | None = None
    # Set once the cutover (or the way back) is complete: the service is up.
    downtime_s: float | None = None
    estimate_s: float | None = None
    # The run learnt it has no estimate (NoEstimate): one found later is not taken.
    no_estimate: bool = False
    connection: str = "not connected yet"
    fingerprint: str | None = None
    # The unfinished earlier run, shown while the operator decides about it.
    previous: Replay | None = None
    outcome: Outcome | None = None
    # After a way back: what to see to before another attempt, the steps
    # whose work it could not touch at all, and those it found none of the
    # work of to put back (RunEnded).
    before_another_attempt: Mapping[str, Leaves] = field(default_factory=dict)
    not_undone: tuple[str, ...] = ()
    nothing_to_undo: tuple[str, ...] = ()
    run_error: str | None = None
    # The run_error is a refusal for the host's claim (another run's, or
    # sudo refused): this run changed nothing on the host, and there is no
    # journal of it to report on. Made as the run began, or at the first
    # step to change the host (the host out of reach for the claim as the
    # run began), whose id is `refused_at`: the steps that only look may
    # have run before it.
    refused: bool = False
    refused_at: str | None = None
    # Refused because another run took this run's claim as a step was to
    # start: the steps this run did before changed the host.
    claim_taken: bool = False
    # Whose claim on the host the run took (JournalNote): what serves is
    # then not the run's to say.
    taken_from: str | None = None
    stop_requested: bool = False
    # The step the operator stopped (x), until it ends: its command is being
    # stopped on the host, which can take the command's grace period.
    stopping: str | None = None
    # The session runs (or ran); before it starts, the operator may still be
    # deciding about an unfinished earlier run.
    started: bool = False
    offering_resume: bool = False
    # Warnings the steps said, in full, by the step that said them.
    warnings: dict[str, list[str]] = field(default_factory=dict)
    # The report written for the change ticket (`w`), once it is.
    report: Path | None = None
    # Once the run has ended, whether a later run can go on from its journal
    # (`--resume`, whose command the exit lines name): not a rehearsal whose
    # host goes with the app.
    resumable: bool = True

    def __post_init__(self) -> None:
        for card in self.cards:
            self.states.setdefault(card.id, StepState.PENDING.value)
        self.by_id = {card.id: card for card in self.cards}
        if self.previous is not None:
            self.show_previous()

    def show_previous(self) -> None:
        """The earlier run's finished steps as finished at once, not pending
        until the continued run reaches them (it starts from them too)."""
        for step_id, history in (self.previous.steps if self.previous else {}).items():
            if step_id in self.states and history.state.value in SETTLED:
                self.states[step_id] = history.state.value

    def forget_previous(self) -> None:
        """A new run: every step is checked afresh."""
        self.previous = None
        for step_id in self.states:
            if step_id not in self.reports:
                self.states[step_id] = StepState.PENDING.value

    # --- events ---------------------------------------------------------------------

    def apply(self, event: Event, now: float) -> None:
        from runbook.events import (
            Connected,
            CutoverEnded,
            CutoverStarted,
            JournalNote,
            NoEstimate,
            Output,
            Progress,
            ReconnectGaveUp,
            Reconnecting,
            RunEnded,
            RunStarted,
            StepChanged,
            WayBackStarted,
        )

        match event:
            case StepChanged(report=report):
                self._step_changed(report, now)
            case Progress(step_id=step_id):
                self.progress[step_id] = event
            case RunStarted(host=host, down_since=since, resumed=resumed):
                self.run_started = now
                self.continued = resumed
                self.target = host or self.target
                # A run that continues a cutover (the way back alone, say):
                # down since that cutover began (operator trial: `runbook
                # rollback` said "downtime not started" all the way back).
                if since is not None and self.down_since is None:
                    self.down_since = since
            case JournalNote(taken_from=whose) if whose:
                self.taken_from = whose
            case NoEstimate():
                # Its times stand for no other run's: none stands for it
                # either, found before or after (the estimate's worker).
                self.estimate_s = None
                self.no_estimate = True
            case Connected(fingerprint=fingerprint):
                self.connection = "connected"
                self.fingerprint = fingerprint or self.fingerprint
            case Reconnecting(attempt=attempt, wait_s=wait):
                self.connection = f"lost, reconnecting (attempt {attempt}" + (
                    f", in {wait:.0f}s)" if wait >= 1 else ")")
            case ReconnectGaveUp(within_s=within):
                # Nothing re-opens it until the operator's answer needs the
                # host (review 62, G8: "reconnecting" stayed meanwhile).
                self.connection = f"{GAVE_UP} after {within:g}s)"
            case Output(step_id=step_id, line=line, warning=True):
                self.warnings.setdefault(step_id, []).append(line)
            case CutoverStarted(began=began):
                if self.down_since is None:
                    self.down_since = began
            case WayBackStarted():
                self.way_back = True
                # What the upgrade's last step did is no news once the way
                # back is chosen.
                self.last_ended = None
                self.passed = []
            case CutoverEnded(complete=complete, downtime_s=downtime):
                # Not complete: the run stopped with the stream manager down,
                # and its clock goes on.
                if complete:
                    self.downtime_s = downtime
            case RunEnded(outcome=outcome, before_another_attempt=after, not_undone=untouched,
                          nothing_to_undo=nothing):
                self.run_ended = now
                self.connection = "closed"
                self.outcome = Outcome(outcome)
                self.before_another_attempt = after
                self.not_undone = untouched
                self.nothing_to_undo = nothing

    def _step_changed(self, report: StepReport, now: float) -> None:
        if report.state is StepState.RUNNING and self.running == report.id:
            # Said again as it runs (the cutover began: the way back is open
            # at it now): its clock and progress go on.
            self.reports[report.id] = report
            return
        self.reports[report.id] = report
        self.last_changed = report.id
        self.states[report.id] = report.state.value
        self.progress.pop(report.id, None)
        if self.question is not None and self.question.report.id == report.id:
            self.question = None  # answered, whatever the step does now
        if report.state is StepState.RUNNING:
            self.running = report.id
            self.started_at[report.id] = now
            return
        if self.running == report.id:
            self.running = None
            self.last_ended = report.id
            self.passed = []
        elif report.state is StepState.DONE and (report.found_done or report.done_earlier):
            self.last_ended = None
            self.passed.append(report.id)
        if self.stopping == report.id:
            self.stopping = None
        if report.state is StepState.IN_DOUBT and self.connection != "connected" \
                and not self.connection.startswith(GAVE_UP):
            # Only while no connection has opened since it was lost: a step
            # left in doubt after a reconnect (or by the API) says nothing of
            # the link (trial: "ssh uncertain" through minutes of steps done).
            self.connection = "uncertain"

    @property
    def asking(self) -> str | None:
        """The step the runbook waits on the operator about, until answered:
        run, skip, the way back or stop, the next question can be many
        seconds of checks away, and this one is asked no more."""
        question = self.question
        if question is None or question.answer.done():
            return None
        return question.report.id

    def asked(self, question: Question) -> list[str]:
        """The question's step is the operator's turn; the steps whose rows
        that changed besides its own: one asked before and not run (the way
        back chosen at its question) shows what it last was again."""
        step_id, plan = question.report.id, question.plan
        left = self._left_asked(but=step_id)
        self.question = question
        self.led_the_cursor = True
        self.plans[step_id] = plan
        self.final_plans.add(step_id)
        self.states[step_id] = NEXT
        return left

    def asks_for_its_id(self, card: StepCard) -> bool:
        """Whether `card`'s question wants its id typed: always for some
        steps, and this time for one whose plan as asked deletes
        (StepReport.destructive_now)."""
        question = self.question
        return card.needs_typed_confirmation or (
            question is not None and question.report.id == card.id
            and question.report.destructive_now)

    def _left_asked(self, but: str | None = None) -> list[str]:
        """Rows still the operator's turn whose question is gone: each shows
        what it last was again."""
        left = [other for other, shown in self.states.items()
                if shown == NEXT and other != but]
        for other in left:
            self.states[other] = self._as_it_was(other)
        return left

    def _as_it_was(self, step_id: str) -> str:
        """What a step was before it was asked about: as this run left it, else
        as the run this one continues did (operator trial: resumed, a step the
        earlier run had done read pending after the way back was chosen at its
        question), else pending."""
        report = self.reports.get(step_id)
        if report is not None:
            return report.state.value
        earlier = self.previous.steps.get(step_id) if self.previous is not None else None
        if earlier is not None and earlier.state.value in SETTLED:
            return earlier.state.value
        return StepState.PENDING.value

    def ended(self, outcome: Outcome, error: str | None = None, *,
              refused: bool = False, claim_taken: bool = False) -> list[str]:
        """The run's worker finished (or was cancelled, or raised: `refused`
        before it began, or as a step was to start, its claim taken by another
        run meanwhile: `claim_taken`); the steps whose rows changed."""
        self.outcome = outcome
        self.run_error = error
        self.refused = refused
        self.claim_taken = claim_taken
        changed = [self.running] if self.running is not None else []
        if refused and self.running is not None:
            # Refused at its claim, before its first action: the step is as
            # it was before (the journal takes the run back: Executor.run),
            # not "running" on under a run that ended.
            self.refused_at = self.running
            earlier = self.previous.steps.get(self.running) if self.previous else None
            self.states[self.running] = earlier.state.value \
                if earlier is not None and earlier.state.value in SETTLED \
                else StepState.PENDING.value
            self.reports.pop(self.running, None)
            self.running = None
        if error is None and outcome is Outcome.STOPPED and self.running is not None:
            # Cut off mid-step: the journal has it started and never ended.
            self.states[self.running] = StepState.IN_DOUBT.value
            self.running = None
        changed += self._left_asked()
        self.question = self.reviewing = None
        if self.run_started is not None:
            self.connection = "closed"
        return changed

    def ran_before_the_refusal(self) -> list[StepCard]:
        """The steps this run ran before its claim was refused: only steps
        that look at the host run unclaimed (Executor.claim_host). Not those
        a resumed run trusts as done from the earlier run's journal: this run
        ran nothing of them, and the earlier run changed the host (review
        62b, L2: they were said to have only looked)."""
        if not self.refused or self.refused_at is None:
            return []
        not_run = (StepState.PENDING.value, StepState.RUNNING.value, StepState.SKIPPED.value)
        return [card for card in self.cards if card.id in self.reports
                and card.id != self.refused_at and not self.reports[card.id].done_earlier
                and self.reports[card.id].state.value not in not_run]

    def done_before_this_run(self) -> list[StepCard]:
        """The steps this (resumed) run trusts as done by an earlier run."""
        return [card for card in self.cards if card.id in self.reports
                and self.reports[card.id].done_earlier]

    # --- questions the views ask ------------------------------------------------------

    def elapsed(self, step_id: str, now: float) -> float | None:
        if self.running == step_id and step_id in self.started_at:
            return now - self.started_at[step_id]
        report = self.reports.get(step_id)
        if report is not None and report.elapsed_s is not None:
            return report.elapsed_s
        # Found done again, or not looked at yet: the row is the earlier
        # run's, and so is its time (TUI trial: lost on resume).
        earlier = self.previous.steps.get(step_id) if self.previous is not None else None
        if earlier is not None and self.states.get(step_id) == earlier.state.value:
            return earlier.elapsed_s
        return None

    @property
    def service_down(self) -> bool:
        return self.down_since is not None and self.downtime_s is None

    def down_for(self, now: float) -> float | None:
        return now - self.down_since if self.service_down and self.down_since else None

    @property
    def going_back(self) -> bool:
        """The way back has begun (in this run or the one it continues) or is
        done: an upgrade's cutover time is no estimate for it."""
        if self.outcome is Outcome.ROLLED_BACK or self.way_back:
            return True
        earlier = self.previous.steps if self.previous is not None else {}
        return any(self.states[card.id] != StepState.PENDING.value or card.id in earlier
                   for card in self.cards if card.phase is Phase.ROLLBACK)

    @property
    def clocks_running(self) -> bool:
        """Something on screen changes by the second: the run, a step, downtime."""
        going = self.run_started is not None and self.outcome is None
        return going or self.service_down

    @property
    def way_back_could_not(self) -> bool:
        """The way back could not undo what a step it left work of made at
        all (recreate: its first step could not delete the nodegroups), as
        the run's end says (RunEnded.not_undone): the summary and the report
        read "not undone"."""
        return any(card.id in self.not_undone for card in self.part_undone)

    def after_the_way_back(self, card: StepCard) -> AfterTheWayBack | None:
        """What the way back the run ended with did with a cutover step's
        work, by the rule the headless summary and the report say it by
        (model.after_the_way_back); None before the run ended rolled back."""
        if self.outcome is not Outcome.ROLLED_BACK or card.phase is not Phase.CUTOVER:
            return None
        return after_the_way_back(card.id, self.states[card.id],
                                  undoes=card.the_way_back_undoes, not_undone=self.not_undone,
                                  nothing_to_undo=self.nothing_to_undo)

    @property
    def part_undone(self) -> list[StepCard]:
        """The cutover steps the way back ran after and did not undo whole
        (recreate: its nodegroups deleted, its launch configs and scale
        policies left; or none of it, where it could not), as the headless
        summary and the report reckon them. Only once the run has ended
        rolled back."""
        return [card for card in self.cards if self.after_the_way_back(card) in (
            AfterTheWayBack.PART_UNDONE, AfterTheWayBack.NOT_UNDONE)]

    @property
    def finished_either_way(self) -> bool:
        """The run ended upgraded or back on the old release: the ends at
        which rows can read undone or not run, and none runs again."""
        return self.outcome in (Outcome.DONE, Outcome.ROLLED_BACK)

    def shown_state(self, step_id: str) -> str:
        """The row's state: done with warnings is not a plain done; once the
        run has ended, a cutover step the way back undid is undone, and a step
        the run did not come to (the way back after an upgrade, the cutover's
        rest after the way back) is not run."""
        state = self.states[step_id]
        phase = self.by_id[step_id].phase
        went_back = self.outcome is Outcome.ROLLED_BACK and phase is Phase.CUTOVER
        passed_by = went_back or (self.outcome is Outcome.DONE and phase is Phase.ROLLBACK)
        if passed_by and state == StepState.PENDING.value:
            return NOT_RUN
        # One left in doubt too: the way back undid whatever it did (operator
        # trial: "in doubt" read as a step still to try again). What failed
        # stays said: it is why the way back was taken. One it undoes in part
        # (recreate), done or left in doubt: no step to try again either, and
        # part of what it made stays (as the summary and the report say,
        # "partly undone by the way back"; trial 54, F7), or all of it.
        after = self.after_the_way_back(self.by_id[step_id]) if went_back else None
        if after is not None:
            return {AfterTheWayBack.UNDONE: UNDONE, AfterTheWayBack.PART_UNDONE: PART_UNDONE,
                    AfterTheWayBack.NOT_UNDONE: NOT_UNDONE,
                    AfterTheWayBack.NOTHING_TO_UNDO: NOTHING_TO_UNDO}[after]
        if state == StepState.DONE.value and self.warnings.get(step_id):
            return WARNED
        # Its check found the work in place, and nothing ran (operator trial
        # 53: the way back's steps that found nothing to do read done).
        report = self.reports.get(step_id)
        if state == StepState.DONE.value and report is not None and report.found_done:
            return ALREADY
        return state

    def warnings_for(self, card: StepCard) -> list[str]:
        """Warnings to repeat in a step's confirmation. Which step a warning is
        about is not said with it, so every destructive step after the one that
        warned repeats it: the cutover steps among them."""
        if not card.needs_typed_confirmation:
            return []
        earlier = [c.id for c in self.cards[:self.cards.index(card)]
                   # The way back undoes the cutover: what was said of the
                   # preparation for it is no matter there (re-trial).
                   if card.phase is not Phase.ROLLBACK or c.phase is not Phase.PREPARE]
        return [text for step_id in earlier for text in self.warnings.get(step_id, [])]

    @property
    def forward(self) -> list[StepCard]:
        """The upgrade's own steps: the way back is counted apart."""
        return [card for card in self.cards if card.phase is not Phase.ROLLBACK]

    @property
    def counts_the_way_back(self) -> bool:
        """The count of steps done is of the way back's: once it has begun (the
        cutover steps it undoes are done no longer), or when it runs alone
        (`runbook rollback`)."""
        return not self.forward or self.going_back

    @property
    def counted(self) -> list[StepCard]:
        """The steps the count of those done is of (counts_the_way_back)."""
        if self.counts_the_way_back:
            return [card for card in self.cards if card.phase is Phase.ROLLBACK]
        return self.forward

    @property
    def finished(self) -> int:
        return sum(1 for card in self.counted if self.counts_finished(card.id))

    def counts_finished(self, step_id: str) -> bool:
        """Done or skipped; also one the run it continues had done or
        skipped, asked again or running again now (preflight looks again on
        resume: trial 54, F7, the count fell from 16/17 to 15/17 on
        "Continue it"), until this run says otherwise."""
        state = self.states[step_id]
        if state in FINISHED:
            return True
        return state in (NEXT, StepState.RUNNING.value) and self._as_it_was_before(step_id) \
            in FINISHED

    def _as_it_was_before(self, step_id: str) -> str:
        """As the run this one continues left it; pending if it did not."""
        earlier = self.previous.steps.get(step_id) if self.previous is not None else None
        return earlier.state.value if earlier is not None else StepState.PENDING.value

    @property
    def in_trouble(self) -> list[StepCard]:
        return [card for card in self.cards if self.states[card.id] in TROUBLE]
