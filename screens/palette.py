"""The command palette (ctrl+p): every action the operator has, searchable, and a
way to jump to any step."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from textual.app import SystemCommand

from runbook.model import Action, StepCard
from screens.presentation import copyable


class Operator(Protocol):
    """The actions the app offers, as the palette calls them."""

    def action_run_step(self) -> None: ...

    def action_skip_step(self) -> None: ...

    def action_stop_step(self) -> None: ...

    def action_rollback(self) -> None: ...

    def action_review_properties(self) -> None: ...

    def action_request_quit(self) -> None: ...

    def action_show_log(self) -> None: ...

    def action_copy_commands(self) -> None: ...

    def action_write_report(self) -> None: ...


def operator_commands(operator: Operator, cards: list[StepCard], focus_log: Callable[[], object],
                      select: Callable[[str], None], *, selected: StepCard | None = None,
                      plan: list[Action] | None = None,
                      copy: Callable[[str, str], None] | None = None,
                      offered: Callable[[str], bool] = lambda _action: True,
                      failed: StepCard | None = None,
                      ) -> Iterable[SystemCommand]:
    """`offered(action)`: whether the app offers that action now (its footer's
    check); what it does not is left out here too. `failed`: the step whose
    failure waits for an answer, which the run action then brings back."""
    run = ("Run the next step", "Confirm and run the step the runbook waits on")
    if failed is not None:
        run = (f"Answer step {failed.number}'s failure",
               "Its question again: try it again, roll back where the cutover allows, or stop")
    actions = (
        ("run_step", *run, operator.action_run_step),
        ("skip_step", "Skip the next step", "Skip it, with a reason for the journal",
         operator.action_skip_step),
        ("stop_step", "Stop the running step", "A command it runs is told to stop, a wait "
         "ends; its question follows (try again, the way back once the stream manager is "
         "down, or stop)",
         operator.action_stop_step),
        ("rollback", "Roll back", "The way back to the old stream manager, instead of the step "
         "waiting, once the cutover has begun", operator.action_rollback),
        ("review_properties", "Review properties", "Open the properties review of the "
         "properties step", operator.action_review_properties),
        ("focus_log", "Focus the output", "Scroll the output with the keyboard", focus_log),
        ("show_log", "Full log", "Every line of the run with its step; / searches it",
         operator.action_show_log),
        ("copy_commands", "Copy the step's commands", "The selected step's commands, to "
         "paste into a shell", operator.action_copy_commands),
        ("write_report", "Write the report", "The run as Markdown for the change ticket, "
         "beside the journal", operator.action_write_report),
    )
    for name, title, help_text, callback in actions:
        if offered(name):
            yield SystemCommand(title, help_text, callback)
    if selected is not None and plan and copy is not None:
        # One line of the plan (a single curl line, say): found by typing part of it.
        for number, action in enumerate(plan, start=1):
            text = copyable([action])
            yield SystemCommand(f"Copy {number}. {action.render().splitlines()[0]}",
                                f"one command of step {selected.number}", _copier(
                                    copy, text, f"command {number} of step {selected.number}"),
                                discover=False)
    yield quit_command(operator)
    for card in cards:
        yield SystemCommand(f"Show step {card.number}: {card.title}",
                            f"{card.id} ({card.phase})", _selector(select, card.id),
                            discover=False)


def quit_command(operator: Operator) -> SystemCommand:
    return SystemCommand("Quit", "Leave; asks first when something is running",
                         operator.action_request_quit)


def _selector(select: Callable[[str], None], step_id: str) -> Callable[[], None]:
    return lambda: select(step_id)


def _copier(copy: Callable[[str, str], None], text: str, what: str) -> Callable[[], None]:
    return lambda: copy(text, what)
