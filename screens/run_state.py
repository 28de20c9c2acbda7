"""What the screen knows about the run: plain data, updated from engine events.

No Textual here. The app's message handlers feed events in (with the time
they arrived); widgets and views read the state out. Keeping the bookkeeping
apart from drawing is what lets a test check it without a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runbook.events import (
    Connected,
    CutoverEnded,
    CutoverStarted,
    Event,
    Progress,
    RunEnded,
    RunStarted,
    StepChanged,
)
from runbook.executor import Outcome
from runbook.journal import Replay
from runbook.model import Action, Phase, StepCard, StepReport, StepState
from screens.presentation import NEXT

FINISHED = (StepState.DONE.value, StepState.SKIPPED.value)
TROUBLE = (StepState.FAILED.value, StepState.IN_DOUBT.value)


@dataclass
class RunState:
    cards: list[StepCard]
    target: str
    states: dict[str, str] = field(default_factory=dict)
    reports: dict[str, StepReport] = field(default_factory=dict)
    plans: dict[str, list[Action]] = field(default_factory=dict)
    # Plans the executor handed over for confirmation (exactly what runs).
    final_plans: set[str] = field(default_factory=set)
    started_at: dict[str, float] = field(default_factory=dict)
    progress: dict[str, Progress] = field(default_factory=dict)
    asking: str | None = None
    reviewing: str | None = None
    running: str | None = None
    run_started: float | None = None
    run_ended: float | None = None
    cutover_started: float | None = None
    downtime_s: float | None = None
    estimate_s: float | None = None
    connection: str = "not connected yet"
    fingerprint: str | None = None
    # The unfinished earlier run, shown while the operator decides about it.
    previous: Replay | None = None
    outcome: Outcome | None = None
    run_error: str | None = None
    stop_requested: bool = False
    # The session runs (or ran); before it starts, the operator may still be
    # deciding about an unfinished earlier run.
    started: bool = False
    offering_resume: bool = False

    def __post_init__(self) -> None:
        for card in self.cards:
            self.states.setdefault(card.id, StepState.PENDING.value)
        self.by_id = {card.id: card for card in self.cards}

    # --- events ---------------------------------------------------------------------

    def apply(self, event: Event, now: float) -> None:
        match event:
            case StepChanged(report=report):
                self._step_changed(report, now)
            case Progress(step_id=step_id):
                self.progress[step_id] = event
            case RunStarted(host=host):
                self.run_started = now
                self.target = host or self.target
            case Connected(fingerprint=fingerprint):
                self.connection = "connected"
                self.fingerprint = fingerprint or self.fingerprint
            case CutoverStarted():
                self.cutover_started = now
            case CutoverEnded(complete=complete, downtime_s=downtime):
                if complete:
                    self.downtime_s = downtime
            case RunEnded(outcome=outcome):
                self.run_ended = now
                self.connection = "closed"
                self.outcome = Outcome(outcome)

    def _step_changed(self, report: StepReport, now: float) -> None:
        self.reports[report.id] = report
        self.states[report.id] = report.state.value
        self.progress.pop(report.id, None)
        if report.state is StepState.RUNNING:
            self.running = report.id
            self.started_at[report.id] = now
            if self.asking == report.id:
                self.asking = None
            return
        if self.running == report.id:
            self.running = None
        if report.state is StepState.IN_DOUBT:
            self.connection = "uncertain"

    def asked(self, step_id: str, plan: list[Action]) -> None:
        self.asking = step_id
        self.plans[step_id] = plan
        self.final_plans.add(step_id)
        self.states[step_id] = NEXT

    def ended(self, outcome: Outcome, error: str | None = None) -> None:
        """The run's worker finished (or was cancelled, or raised)."""
        self.outcome = outcome
        self.run_error = error
        if error is None and outcome is Outcome.STOPPED and self.running is not None:
            # Cut off mid-step: the journal has it started and never ended.
            self.states[self.running] = StepState.IN_DOUBT.value
            self.running = None
        if self.asking is not None:
            self.states[self.asking] = StepState.PENDING.value
        self.asking = self.reviewing = None
        if self.run_started is not None:
            self.connection = "closed"

    # --- questions the views ask ------------------------------------------------------

    def elapsed(self, step_id: str, now: float) -> float | None:
        if self.running == step_id and step_id in self.started_at:
            return now - self.started_at[step_id]
        report = self.reports.get(step_id)
        return report.elapsed_s if report is not None else None

    @property
    def forward(self) -> list[StepCard]:
        """The upgrade's own steps: the way back is counted apart."""
        return [card for card in self.cards if card.phase is not Phase.ROLLBACK]

    @property
    def finished(self) -> int:
        return sum(1 for card in self.forward if self.states[card.id] in FINISHED)

    @property
    def in_trouble(self) -> list[StepCard]:
        return [card for card in self.cards if self.states[card.id] in TROUBLE]
