"""The main screen's parts. They draw what they are given and own no run state:
the app decides, these show."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Label, Log, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from runbook.model import Action, StepCard
from screens.output_store import OutputStore
from screens.presentation import STREAM_OF_GUTTER, action_content, step_row

GROUPS = {
    "prepare": "PREPARE · the live system keeps running",
    "cutover": "CUTOVER · downtime from the first step run",
    "rollback": "ROLLBACK · only when a cutover step fails",
}


class Checklist(OptionList):
    """One row per step under its phase; the highlighted row is the selected step."""

    def __init__(self, steps: Sequence[StepCard], *, id: str | None = None) -> None:
        options: list[Option] = []
        phase = ""
        for step in steps:
            if step.phase != phase:
                phase = step.phase
                options.append(Option(Content.styled(GROUPS.get(phase, phase.upper()),
                                                     "bold"), id=f"group-{phase}",
                                      disabled=True))
            options.append(Option(step_row(step.number, step.title, "pending", None),
                                  id=step.id))
        super().__init__(*options, id=id)
        self.steps = {step.id: step for step in steps}

    def show_state(self, step_id: str, state: str, elapsed: float | None) -> None:
        if step_id not in self.steps:
            return
        step = self.steps[step_id]
        self.replace_option_prompt(step_id, step_row(step.number, step.title, state, elapsed))

    def select_step(self, step_id: str) -> None:
        if step_id not in self.steps:
            return
        self.highlighted = self.get_option_index(step_id)

    @property
    def selected_step(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None and option.id in self.steps else None


class PlanView(Vertical):
    """A plan, one numbered row per action. Rows (not one long text) so a wrapped
    command stays indented under its number instead of running into the margin."""

    DEFAULT_CSS = """
    PlanView { height: auto; }
    PlanView > Horizontal { height: auto; }
    PlanView .plan-no { width: 4; color: $text-muted; }
    PlanView .plan-action { width: 1fr; }
    PlanView .plan-empty { color: $text-muted; text-style: italic; }
    """

    def __init__(self, plan: list[Action] | None = None, *, empty: str = "",
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.plan = plan
        self.empty = empty

    def compose(self) -> ComposeResult:
        yield from self._rows()

    def _rows(self) -> Iterable[Widget]:
        if not self.plan:
            yield Static(self.empty or "(nothing to run)", classes="plan-empty")
            return
        for number, action in enumerate(self.plan, start=1):
            yield Horizontal(Static(f"{number:>2}.", classes="plan-no"),
                             Static(action_content(action), classes="plan-action"))

    def show(self, plan: list[Action] | None, *, empty: str = "") -> None:
        if plan == self.plan and empty == self.empty:
            return
        self.plan, self.empty = plan, empty
        self.remove_children()
        self.mount_all(list(self._rows()))


class StepDetail(VerticalScroll):
    """The selected step in words, then its plan."""

    def compose(self) -> ComposeResult:
        yield Static(id="detail-text")
        yield Static(id="detail-plan-heading")
        yield PlanView(id="detail-plan")

    def show(self, step_id: str, about: Content, heading: Content, plan: list[Action] | None,
             *, empty: str) -> None:
        self.query_one("#detail-text", Static).update(about)
        self.query_one("#detail-plan-heading", Static).update(heading)
        self.query_one("#detail-plan", PlanView).show(plan, empty=empty)
        if step_id != self.shown:
            # Another step: start at its top. The same step redrawn keeps its place.
            self.shown = step_id
            self.scroll_home(animate=False)

    shown: str | None = None


class _StreamHighlighter(Highlighter):
    """Colours a whole output line by its gutter (see presentation.GUTTER)."""

    def __init__(self, log: OutputLog) -> None:
        self.log = log

    def highlight(self, text: Text) -> None:
        stream = STREAM_OF_GUTTER.get(text.plain[:2])
        if stream is not None and stream != "out":
            style = self.log.stream_style(stream)
            if style is not None:
                text.stylize(style)


class OutputLog(Log):
    """Log with one colour per stream. Keeps Log's speed: lines stay plain
    strings and only the visible ones are styled, at render time."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"output--cmd", "output--err", "output--info"}
    DEFAULT_CSS = """
    OutputLog > .output--cmd { color: $accent; text-style: bold; }
    OutputLog > .output--err { color: $error; }
    OutputLog > .output--info { color: $text-muted; text-style: italic; }
    """

    def __init__(self, *, max_lines: int, id: str | None = None) -> None:
        super().__init__(highlight=True, max_lines=max_lines, id=id)
        self.highlighter = _StreamHighlighter(self)
        self._styles: dict[str, Style] = {}

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def stream_style(self, stream: str) -> Style | None:
        if stream not in self._styles:
            try:
                self._styles[stream] = self.get_component_rich_style(f"output--{stream}",
                                                                     partial=True)
            except KeyError:
                return None
        return self._styles[stream]


class OutputPane(Vertical):
    """The progress of the running action (when it reports one) above the output."""

    def __init__(self, *, max_lines: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines

    def compose(self) -> ComposeResult:
        with Vertical(id="progress-row") as row:
            row.display = False
            yield Label(id="progress-label")
            yield ProgressBar(id="progress-bar", show_eta=False)
        yield OutputLog(max_lines=self.max_lines, id="output-log")

    @property
    def log_widget(self) -> OutputLog:
        return self.query_one("#output-log", OutputLog)

    def show_progress(self, label: str, done: float, total: float | None) -> None:
        self.query_one("#progress-row").display = True
        if total and total >= 1 << 20:
            # Uploads report bytes: say how much, not only what share.
            label = f"{done / (1 << 20):.1f} of {total / (1 << 20):.1f} MiB · {label}"
        self.query_one("#progress-label", Label).update(label)
        self.query_one("#progress-bar", ProgressBar).update(total=total, progress=done)

    def hide_progress(self) -> None:
        self.query_one("#progress-row").display = False

    def show_lines(self, store: OutputStore, step_id: str | None, limit: int) -> None:
        """Everything kept of one step's output (the newest `limit` lines)."""
        log = self.log_widget
        log.clear()
        if step_id is not None:
            kept = store.of(step_id)
            dropped = store.dropped.get(step_id, 0) + max(0, len(kept) - limit)
            if dropped:
                log.write_line(f"* {dropped} earlier lines are not shown here; the journal "
                               "has every line")
            log.write_lines(list(kept)[-limit:])
        store.pending.pop(step_id or "", None)

    def name_step(self, name: str | None, *, running: bool) -> None:
        self.border_title = f"Output · {name}" if name else "Output"
        self.border_subtitle = "running" if running else ""


class StatusBar(Vertical):
    """Two lines at the top: where we are connected, and the clocks."""

    def compose(self) -> ComposeResult:
        yield Static(id="status-host")
        yield Static(id="status-clocks")

    def show(self, host: Content, clocks: Content) -> None:
        self.query_one("#status-host", Static).update(host)
        self.query_one("#status-clocks", Static).update(clocks)
