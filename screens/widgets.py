"""The main screen's parts. They draw what they are given and own no run state:
the app decides, these show."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Label, Log, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from screens.presentation import STREAM_OF_GUTTER, StepInfo, step_row

GROUPS = {
    "prepare": "PREPARE · the live system keeps running",
    "cutover": "CUTOVER · downtime from the first step run",
}


class Checklist(OptionList):
    """One row per step under its phase; the highlighted row is the selected step."""

    def __init__(self, steps: Sequence[StepInfo], *, id: str | None = None) -> None:
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
        step = self.steps[step_id]
        self.replace_option_prompt(step_id, step_row(step.number, step.title, state, elapsed))

    def select_step(self, step_id: str) -> None:
        self.highlighted = self.get_option_index(step_id)

    @property
    def selected_step(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None and option.id in self.steps else None


class StepDetail(VerticalScroll):
    """The selected step in words, then its plan."""

    def compose(self) -> Iterable[Static]:
        yield Static(id="detail-text")

    def show(self, content: Content) -> None:
        self.query_one("#detail-text", Static).update(content)
        self.scroll_home(animate=False)


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

    def compose(self) -> Iterable[Vertical | OutputLog]:
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
        self.query_one("#progress-label", Label).update(label)
        self.query_one("#progress-bar", ProgressBar).update(total=total, progress=done)

    def hide_progress(self) -> None:
        self.query_one("#progress-row").display = False


class StatusBar(Vertical):
    """Two lines at the top: where we are connected, and the clocks."""

    def compose(self) -> Iterable[Static]:
        yield Static(id="status-host")
        yield Static(id="status-clocks")

    def show(self, host: Content, clocks: Content) -> None:
        self.query_one("#status-host", Static).update(host)
        self.query_one("#status-clocks", Static).update(clocks)
