"""The main screen's parts. They draw what they are given and own no run state:
the app decides, these show."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from rich.cells import cell_len
from rich.segment import Segment
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.style import Style
from textual.visual import Visual
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from runbook.model import Action, StepCard
from screens.output_log import OutputLog
from screens.output_store import OutputStore
from screens.presentation import (
    DIFF_MARKS,
    GROUPS,
    action_content,
    is_diff,
    row_width,
    step_row,
)
from screens.wrap import wrap_content


class Checklist(OptionList):
    """One row per step under its phase; the highlighted row is the selected step."""

    def __init__(self, steps: Sequence[StepCard], *,
                 shown: Mapping[str, tuple[str, float | None]] | None = None,
                 titles: Mapping[str, str] | None = None, words: bool = True,
                 id: str | None = None) -> None:
        # Drawn from the start as the run stands (`shown`: each step's state
        # and time; `titles`: the phases' headings): a resumed run's first
        # frame showed every step pending. Whether the rows say each state's
        # word beside its glyph, and what each row shows now, to draw it
        # again when that changes.
        self.words = words
        # Whether the rows say how long each step took: left out where the
        # row would not fit whole (operator trial 57 F3: at 60 columns each
        # step's time took a row of its own, and five steps filled the list).
        self.times = True
        self.shown = {step.id: (shown or {}).get(step.id, ("pending", None)) for step in steps}
        self.titles: dict[str, str] = {
            phase: (titles or {}).get(phase, GROUPS.get(phase, phase.upper()))
            for phase in dict.fromkeys(step.phase for step in steps)}
        options: list[Option] = []
        phase = ""
        for step in steps:
            if step.phase != phase:
                phase = step.phase
                options.append(Option(Content.styled(self.titles[phase], "bold"),
                                      id=f"group-{phase}", disabled=True))
            options.append(Option(self._row(step), id=step.id))
        super().__init__(*options, id=id)
        self.steps = {step.id: step for step in steps}

    def _row(self, step: StepCard) -> Content:
        return step_row(step.number, step.title, *self.shown[step.id], word=self.words,
                        time=self.times, undone_word=step.the_way_back_word)

    def _redraw_rows(self) -> None:
        for step_id, step in self.steps.items():
            self.replace_option_prompt(step_id, self._row(step))

    def _times_fit(self) -> bool:
        # The room for the rows as the list has it now (its scrollbar's
        # cells out). Hidden, it has none: the rows stay as they were.
        width = self.scrollable_content_region.width
        return self.times if width <= 0 else width >= row_width(word=self.words)

    def on_resize(self) -> None:
        times = self._times_fit()
        if times != self.times:
            self.times = times
            self._redraw_rows()

    def retitle_group(self, phase: str, title: str) -> None:
        # Asked on every refresh of the status: an unchanged title is not redrawn.
        if phase in self.titles and self.titles[phase] != title:
            self.titles[phase] = title
            self.replace_option_prompt(f"group-{phase}", Content.styled(title, "bold"))

    def show_state(self, step_id: str, state: str, elapsed: float | None) -> None:
        # An unchanged row is not drawn again: the app asks for every row
        # once the run is drawn, most of them as the first frame showed them.
        if step_id not in self.steps or self.shown[step_id] == (state, elapsed):
            return
        self.shown[step_id] = (state, elapsed)
        self.replace_option_prompt(step_id, self._row(self.steps[step_id]))

    def show_words(self, words: bool) -> None:
        """Rows with each state's word, or its glyph alone (less room)."""
        if words != self.words:
            self.words = words
            self.times = self._times_fit()
            self._redraw_rows()

    def select_step(self, step_id: str) -> None:
        if step_id not in self.steps:
            return
        self.highlighted = self.get_option_index(step_id)

    @property
    def selected_step(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None and option.id in self.steps else None


class Wrapped(Widget):
    """Text that wraps where screens.wrap says: between words, never inside a
    secret mask; rows after the first are indented by `indent`."""

    DEFAULT_CSS = "Wrapped { height: auto; }"

    def __init__(self, content: Content | str = "", *, indent: int = 0, hang: bool = False,
                 marks: str = "", classes: str | None = None, id: str | None = None) -> None:
        super().__init__(classes=classes, id=id)
        self.content = Content(content) if isinstance(content, str) else content
        self.indent = indent
        self.hang = hang
        self.marks = marks
        # The last wrap: (content, width, rows).
        self._wrapped: tuple[Content, int, list[Content]] | None = None

    def update(self, content: Content | str) -> None:
        content = Content(content) if isinstance(content, str) else content
        if content != self.content:
            self.content = content
            self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return max((line.cell_length for line in self.content.split("\n")), default=0)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._rows(width))

    def render(self) -> Content:
        return Content("\n").join(self._rows(self.content_size.width))

    def _rows(self, width: int) -> list[Content]:
        # Layout asks for the height and then renders, at the same width: wrap once.
        kept = self._wrapped
        if kept is None or kept[0] is not self.content or kept[1] != width:
            kept = self._wrapped = (self.content, width, wrap_content(
                self.content, width, indent=self.indent, hang=self.hang, marks=self.marks))
        return kept[2]


class PlanView(Vertical):
    """A plan, one numbered row per action; a long command wraps under itself,
    past its number and kind, so the numbers stand out down the left."""

    DEFAULT_CSS = """
    PlanView { height: auto; }
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
            shown = action_content(action)
            # Under the command, past its "[shell] " label.
            kind = shown.plain.find("] ") + 2 if shown.plain.startswith("[") else 0
            yield Wrapped(Content.assemble((f"{number:>2}. ", "$text-muted"), shown),
                          indent=4 + kind, hang=True, classes="plan-row",
                          marks=DIFF_MARKS if is_diff(action) else "")

    def show(self, plan: list[Action] | None, *, empty: str = "") -> None:
        if plan == self.plan and empty == self.empty:
            return
        self.plan, self.empty = plan, empty
        if self.is_mounted:
            self._draw_rows()
        else:
            # Composing yet, perhaps from the plan it was made with: drawn
            # again as it stands now once mounted (the rows would have been
            # mounted twice).
            self.call_later(self._draw_rows)

    def _draw_rows(self) -> None:
        self.remove_children()
        self.mount_all(list(self._rows()))


class StepDetail(VerticalScroll):
    """The selected step in words, then its plan."""

    def show(self, step_id: str, about: Content, heading: Content, plan: list[Action] | None,
             *, empty: str) -> None:
        if not self.children:
            # Its parts mount with the first step shown, as the run is drawn:
            # mounted and styled for the first paint, they said only "(nothing
            # to run)", of a step whose plan was not worked out yet (issue 12).
            self.mount_all([Wrapped(about, id="detail-text"),
                            Static(heading, id="detail-plan-heading"),
                            PlanView(plan, empty=empty, id="detail-plan")])
        self.query_one("#detail-text", Wrapped).update(about)
        self.query_one("#detail-plan-heading", Static).update(heading)
        self.query_one("#detail-plan", PlanView).show(plan, empty=empty)
        if step_id != self.shown:
            # Another step: start at its top. The same step redrawn keeps its place.
            self.shown = step_id
            self.scroll_home(animate=False)

    shown: str | None = None


class Meter(Widget):
    """How far the running action has got, as a bar and a percentage. Not
    Textual's ProgressBar: that one keeps a timer going for its ETA, and
    animates at 15 frames a second until it has a total, shown or not."""

    DEFAULT_CSS = "Meter { height: 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.fraction = 0.0
        self.share = True

    def show(self, done: float, total: float, *, share: bool = True) -> None:
        fraction = max(0.0, min(1.0, done / total)) if total else 0.0
        if (fraction, share) != (self.fraction, self.share):
            self.fraction, self.share = fraction, share
            self.refresh()

    def render(self) -> Content:
        if not self.share:
            # A wait: the bar is the time left of its limit, running down, as
            # its label's "163s left" says; no share, which read as progress.
            width = self.content_size.width
            left = round(width * (1 - self.fraction))
            return Content.assemble(("━" * left, "$accent"),
                                    ("━" * (width - left), "$foreground 15%"))
        width = max(0, self.content_size.width - 5)
        filled = round(width * self.fraction)
        return Content.assemble(("━" * filled, "$accent"),
                                ("━" * (width - filled), "$foreground 15%"),
                                f" {self.fraction:4.0%}")


class OutputPane(Vertical):
    """The progress of the running action (when it reports one) above the output."""

    def __init__(self, *, max_lines: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        # The progress row, its label and its bar, once there is progress to show.
        self._progress: tuple[Vertical, Static, Meter] | None = None

    def compose(self) -> ComposeResult:
        # The progress row above it is mounted with the first progress: hidden
        # until then, it was mounted and styled before the first paint for
        # nothing (issue 12).
        yield OutputLog(max_lines=self.max_lines, id="output-log")

    @property
    def log_widget(self) -> OutputLog:
        return self.query_one("#output-log", OutputLog)

    def _progress_row(self) -> tuple[Vertical, Static, Meter]:
        """The progress row, its label and its bar: mounted above the output
        the first time they are asked for, and kept (its children are not in
        the DOM until the row has mounted, so they are not queried for)."""
        if self._progress is None:
            # A Static, not a Label: the same text, without the Label's variant
            # rules that every restyle matches against it (issue 12). Plain
            # text: what it says may name things in square brackets.
            label = Static(id="progress-label", markup=False)
            meter = Meter(id="progress-bar")
            row = Vertical(label, meter, id="progress-row")
            self.mount(row, before=self.log_widget)
            self._progress = row, label, meter
        return self._progress

    def show_progress(self, label: str, done: float, total: float | None, *,
                      bar: bool = True, share: bool = True) -> None:
        """`share`: say what share is done; not for a wait, whose bar runs
        down its time limit and whose label says the seconds left."""
        row, shown, meter = self._progress_row()
        row.display = True
        if total and total >= 1 << 20:
            # Uploads report bytes: say how much, not only what share.
            label = f"{done / (1 << 20):.1f} of {total / (1 << 20):.1f} MiB · {label}"
        shown.update(label)
        meter.display = bar and bool(total)
        if meter.display and total:
            meter.show(done, total, share=share)

    def hide_progress(self) -> None:
        if self._progress is not None:
            self._progress[0].display = False

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


class Drawing(NamedTuple):
    """Rows as they were last drawn, at which width and in which style."""

    rows: list[Content]
    width: int
    style: Style
    strips: list[Strip]


class Rows(Widget):
    """Rows of text that change by the second, as a rule only in their digits:
    a changed row is then drawn again from the segments it was last drawn with,
    holding the new characters, and no text is laid out afresh (that would cost
    more than the rest of the repaint). One widget, not a Static per row,
    because a repaint costs something for every widget it touches."""

    def __init__(self, rows: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows = [Content() for _ in range(rows)]
        self.drawn: Drawing | None = None

    def render(self) -> Content:
        # What text selection reads; the rows are drawn by render_line.
        return Content("\n").join(self.rows)

    def show_row(self, y: int, content: Content) -> None:
        if not same_content(self.rows[y], content):
            self.rows[y] = content
            self.refresh(Region(0, y, self.size.width, 1))  # that row alone

    def notify_style_update(self) -> None:
        self.drawn = None
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        strips = self._strips(self.size.width)
        return strips[y] if y < len(strips) else Strip.blank(self.size.width,
                                                               self.visual_style.rich_style)

    def _strips(self, width: int) -> list[Strip]:
        style = self.visual_style
        if self.text_selection is not None:
            # Drawn with the selection's highlight, and not kept.
            return self._lay_out(width, style)
        drawn = self.drawn
        if drawn is not None and drawn.width == width and drawn.style == style:
            strips = [kept if same_content(old, new) else redraw(old, kept, new)
                      for old, kept, new in zip(drawn.rows, drawn.strips, self.rows,
                                                strict=True)]
            if all(strip is not None for strip in strips):
                self.drawn = Drawing(list(self.rows), width, style,
                                     [strip for strip in strips if strip is not None])
                return self.drawn.strips
        self.drawn = Drawing(list(self.rows), width, style, self._lay_out(width, style))
        return self.drawn.strips

    def _lay_out(self, width: int, style: Style) -> list[Strip]:
        # Both rows as one text, as a Static draws it: each character's offset
        # (which text selection reads) then names its own row.
        return Visual.to_strips(self, self.render(), width, len(self.rows), style)


class StatusBar(Rows):
    """Two rows at the top of the main screen: where we are connected, and the
    clocks."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(2, id=id)

    def show(self, host: Content, clocks: Content) -> None:
        self.show_row(0, host)
        self.show_row(1, clocks)


class ClocksRow(Rows):
    """The clocks row alone: a dialog and the full log show it where the main
    screen does, and as it looks there (app.tcss, #status)."""

    DEFAULT_CSS = """
    ClocksRow {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(1, id=id)


@runtime_checkable
class ShowsClocks(Protocol):
    """A screen with a clocks row of its own (a dialog, the full log): while it
    is on top, the app ticks its row in place of the main screen's."""

    def show_clocks(self, clocks: Content) -> None: ...


def same_content(a: Content, b: Content) -> bool:
    """Same text and same styles (Content's == compares the text alone)."""
    return a.plain == b.plain and a.spans == b.spans


def redraw(old: Content, strip: Strip, new: Content) -> Strip | None:
    """`new` drawn from `strip`, the drawing of `old`, or None when it needs
    laying out. It does not when the two differ only in characters (same
    length, same styles over the same places, one cell per character) and
    `strip` holds exactly the old text (not cut short, not padded): then each
    segment's style, offsets included, is right for the new characters too."""
    text = new.plain
    if (len(text) != len(old.plain) or new.spans != old.spans or "\t" in text
            or strip.text != old.plain or strip.cell_length != len(text)):
        return None
    # Digits and other ASCII take one cell each; rich measures the rest, slowly.
    if not ((text.isascii() and text.isprintable()) or cell_len(text) == len(text)):
        return None
    segments: list[Segment] = []
    start = 0
    for segment in strip:
        if segment.control:
            return None
        end = start + len(segment.text)
        segments.append(Segment(text[start:end], segment.style))
        start = end
    return Strip(segments, len(text))
