"""A front end that answers from a script and records what it was told.

Not a mock of our code: it is a real implementation of the FrontEnd protocol,
the same seam the headless prompt and the TUI plug into.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runbook.executor import Answer, Decision
from runbook.model import Action, StepReport

RUN = Decision(Answer.RUN)


class ScriptedFrontEnd:
    def __init__(
        self,
        # A list answers the step's questions in turn, then stops the run.
        answers: dict[str, Decision | list[Decision]] | None = None,
        default: Decision = RUN,
        on_confirm: Callable[[StepReport, list[Action]], None] | None = None,
    ) -> None:
        self.answers = {step: list(a) if isinstance(a, list) else a
                        for step, a in (answers or {}).items()}
        self.default = default
        self.on_confirm = on_confirm
        self.asked: list[str] = []
        self.plans: dict[str, list[Action]] = {}
        self.states: list[tuple[str, str, str]] = []
        self.lines: list[tuple[str, str, str]] = []
        self.progress_calls: list[tuple[str, float, float | None, str]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        self.asked.append(step.id)
        self.plans[step.id] = plan
        if self.on_confirm is not None:
            self.on_confirm(step, plan)
        answer = self.answers.get(step.id, self.default)
        if isinstance(answer, list):
            return answer.pop(0) if answer else Decision(Answer.STOP)
        return answer

    def step_state(self, step: StepReport) -> None:
        self.states.append((step.id, step.state.value, step.detail))

    def output(self, step_id: str, stream: str, line: str) -> None:
        self.lines.append((step_id, stream, line))

    def progress(self, step_id: str, done: float, total: float | None, label: str) -> None:
        self.progress_calls.append((step_id, done, total, label))

    def run_event(self, event: str, data: dict[str, Any]) -> None:
        self.events.append((event, data))

    def final_state(self, step_id: str) -> str | None:
        found = [state for sid, state, _ in self.states if sid == step_id]
        return found[-1] if found else None

    def text(self) -> str:
        return "\n".join(line for _, _, line in self.lines) + "\n" + "\n".join(
            detail for _, _, detail in self.states)
