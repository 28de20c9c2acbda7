"""The command palette (ctrl+p): every action the operator has, searchable, and a
way to jump to any step."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from textual.app import SystemCommand

from runbook.model import StepCard


class Operator(Protocol):
    """The actions the app offers, as the palette calls them."""

    def action_run_step(self) -> None: ...

    def action_skip_step(self) -> None: ...

    def action_rollback(self) -> None: ...

    def action_review_properties(self) -> None: ...

    def action_request_quit(self) -> None: ...


def operator_commands(operator: Operator, cards: list[StepCard], focus_log: Callable[[], object],
                      select: Callable[[str], None]) -> Iterable[SystemCommand]:
    yield SystemCommand("Run the next step", "Confirm and run the step the runbook waits on",
                        operator.action_run_step)
    yield SystemCommand("Skip the next step", "Skip it, with a reason for the journal",
                        operator.action_skip_step)
    yield SystemCommand("Roll back", "Roll back the selected step (none has one yet)",
                        operator.action_rollback)
    yield SystemCommand("Review properties", "Open the properties review of the properties "
                        "step", operator.action_review_properties)
    yield SystemCommand("Focus the output", "Scroll the output with the keyboard", focus_log)
    yield SystemCommand("Quit", "Leave; asks first when something is running",
                        operator.action_request_quit)
    for card in cards:
        yield SystemCommand(f"Show step {card.number}: {card.title}",
                            f"{card.id} ({card.phase})", _selector(select, card.id),
                            discover=False)


def _selector(select: Callable[[str], None], step_id: str) -> Callable[[], None]:
    return lambda: select(step_id)
