"""The screen the operator lives in: checklist left, the step and its output right."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static

from runbook.model import StepCard
from screens.presentation import legend
from screens.widgets import Checklist, OutputLog, OutputPane, StatusBar, StepDetail

if TYPE_CHECKING:
    from screens.app import RunbookApp


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority, so enter means "run this step" even while the checklist
        # (whose own enter only selects) has the focus.
        Binding("enter", "run_step", "Run step", id="run-step", priority=True,
                tooltip="Open the confirmation for the step the runbook is waiting on"),
        Binding("s", "skip_step", "Skip", id="skip-step",
                tooltip="Skip the step the runbook is waiting on (asks for a reason)"),
        Binding("r", "rollback", "Roll back", id="rollback",
                tooltip="Roll back the selected step, where it has a rollback"),
        Binding("d", "review_properties", "Properties", id="review-properties",
                tooltip="Open the properties review of the properties step"),
        Binding("l", "focus_log", "Log", id="focus-log", tooltip="Move the focus to the output"),
    ]

    def __init__(self, steps: list[StepCard], *, max_lines: int) -> None:
        super().__init__()
        self.steps = steps
        self.max_lines = max_lines

    @property
    def runbook(self) -> RunbookApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="body"):
            # Titles are set here, not in on_mount: a screen's Mount can come
            # before its children are in the DOM.
            with Vertical(id="left") as left:
                left.border_title = "Procedure"
                yield Checklist(self.steps, id="checklist")
                yield Static(legend(), id="legend")
            with Vertical(id="right"):
                detail = StepDetail(id="detail")
                detail.border_title = "Step"
                yield detail
                output = OutputPane(max_lines=self.max_lines, id="output")
                output.border_title = "Output"
                yield output
        yield Static(id="hint")
        yield Footer()

    @property
    def checklist(self) -> Checklist:
        return self.query_one("#checklist", Checklist)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def detail(self) -> StepDetail:
        return self.query_one("#detail", StepDetail)

    @property
    def output(self) -> OutputPane:
        return self.query_one("#output", OutputPane)

    @property
    def log_widget(self) -> OutputLog:
        return self.query_one("#output-log", OutputLog)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_id and event.option_id in self.checklist.steps:
            self.runbook.step_selected(event.option_id)

    def action_run_step(self) -> None:
        self.runbook.run_selected_step()

    def action_skip_step(self) -> None:
        self.runbook.skip_selected_step()

    def action_rollback(self) -> None:
        self.runbook.roll_back_selected_step()

    def action_review_properties(self) -> None:
        self.runbook.open_properties_review()

    def action_focus_log(self) -> None:
        self.log_widget.focus()
