"""A front end that answers from a script and records what it was told.

Not a mock of our code: it is a real implementation of the FrontEnd protocol,
the same seam the headless prompt and the TUI plug into.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from runbook import claim as host_claim
from runbook.events import Event, Output, Progress, StepChanged
from runbook.executor import Answer, Decision, Recovery
from runbook.model import Action, StepReport
from runbook.properties import Review
from runbook.remote import Remote
from runbook.shell import CommandResult

RUN = Decision(Answer.RUN)


class HostlessRemote(Remote):
    """The host of steps that touch none (every command fails to connect),
    but for the host's claim (runbook.claim), taken and marked as on a free
    host: a step that changes the host acts only once it is claimed (review
    60c, F10), and the cutover begins only under a marked claim (review 61b,
    F7)."""

    async def run(self, command: str, **options: Any) -> Any:  # type: ignore[override]
        if host_claim.NAME in command:
            # Let go as it ends; taken, or marked, otherwise.
            let_go = f"{host_claim.ANSWER} released" in command
            return CommandResult(command, 0,
                                 f"{host_claim.ANSWER} {'released' if let_go else 'taken'}\n",
                                 "")
        return await super().run(command, **options)


class ScriptedFrontEnd:
    def __init__(
        self,
        # A list answers the step's questions in turn, then stops the run.
        answers: dict[str, Decision | list[Decision]] | None = None,
        default: Decision = RUN,
        on_confirm: Callable[[StepReport, list[Action]], None] | None = None,
        # After a failure: what to do, in turn, per step (then stop).
        recoveries: dict[str, list[Recovery]] | None = None,
    ) -> None:
        self.recoveries = {step: list(r) for step, r in (recoveries or {}).items()}
        self.recovered: list[tuple[str, bool]] = []
        self.answers = {step: list(a) if isinstance(a, list) else a
                        for step, a in (answers or {}).items()}
        self.default = default
        self.on_confirm = on_confirm
        self.asked: list[str] = []
        self.plans: dict[str, list[Action]] = {}
        self.states: list[tuple[str, str, str]] = []
        self.lines: list[tuple[str, str, str]] = []
        self.progress_calls: list[Progress] = []
        self.events: list[Event] = []

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        self.asked.append(step.id)
        self.plans[step.id] = plan
        if self.on_confirm is not None:
            self.on_confirm(step, plan)
        answer = self.answers.get(step.id, self.default)
        if isinstance(answer, list):
            return answer.pop(0) if answer else Decision(Answer.STOP)
        return answer

    async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
        self.recovered.append((step.id, can_roll_back))
        waiting = self.recoveries.get(step.id, [])
        return waiting.pop(0) if waiting else Recovery.STOP

    async def review(self, step_id: str, review: Review, *,
                     decisions_path: Path | None) -> bool:
        return False

    def tell(self, event: Event) -> None:
        self.events.append(event)
        match event:
            case StepChanged(report=report):
                self.states.append((report.id, report.state.value, report.detail))
            case Output(step_id=step_id, stream=stream, line=line):
                self.lines.append((step_id, stream, line))
            case Progress():
                self.progress_calls.append(event)

    def last_report(self, step_id: str) -> StepReport:
        return [e.report for e in self.events
                if isinstance(e, StepChanged) and e.report.id == step_id][-1]

    def detail(self, step_id: str) -> str:
        return self.last_report(step_id).detail

    def final_state(self, step_id: str) -> str | None:
        found = [state for sid, state, _ in self.states if sid == step_id]
        return found[-1] if found else None

    def text(self) -> str:
        return "\n".join(line for _, _, line in self.lines) + "\n" + "\n".join(
            detail for _, _, detail in self.states)
