"""The whole run's output in one place (`L`): every line, in order, with the step
it came from; `/` searches, `n` and `N` go to the next and previous line that
holds the text, `y` copies the selected line (a curl line, say).

The lines are the ones the screen was given (screens/output_store.py), and for
a continued run the earlier run's lines as its journal has them; after the
window, `runbook log` prints the same from the journal.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain, islice
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from screens.output_log import OutputLog
from screens.output_store import OutputStore
from screens.presentation import STREAM_OF_GUTTER
from screens.widgets import ClocksRow


def plain(line: str) -> str:
    """A line without its stream gutter: what the host printed, or the command."""
    return line[2:] if line[:2] in STREAM_OF_GUTTER else line


class LogView(Screen[None]):
    """The whole run's output, under its title and the main screen's clocks
    row (the app ticks it, `show_clocks`): read during the cutover, the
    downtime stays in view."""

    DEFAULT_CSS = """
    LogView #log-title {
        height: 1;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    LogView #log-page { height: 1fr; }
    """
    # Nothing to focus until `/`: the screen's keys move the selected line.
    AUTO_FOCUS = None
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="log-search"),
        Binding("n", "find(1)", "Next", id="log-next"),
        Binding("N", "find(-1)", "Previous", id="log-previous"),
        Binding("y", "copy_line", "Copy line", id="log-copy"),
        Binding("escape,L", "close", "Back", id="log-close"),
        Binding("down", "move(1)", "Down", id="log-down", show=False),
        Binding("up", "move(-1)", "Up", id="log-up", show=False),
        Binding("pagedown", "page(1)", "Page down", id="log-page-down", show=False),
        Binding("pageup", "page(-1)", "Page up", id="log-page-up", show=False),
        Binding("home", "edge(0)", "First", id="log-first", show=False),
        Binding("end", "edge(-1)", "Last", id="log-last", show=False),
    ]

    def __init__(self, store: OutputStore, titles: Callable[[str], str],
                 copy: Callable[[str, str], None]) -> None:
        super().__init__()
        self.store = store
        self.titles = titles
        self.copy = copy
        # (step, line) shown so far: the earlier run's, then this run's.
        self.entries: list[tuple[str, str]] = []
        self.taken = 0
        self.query_text = ""
        self.clocks = Content()

    def compose(self) -> ComposeResult:
        yield Static(id="log-title")
        clocks = ClocksRow(id="log-clocks")
        clocks.rows[0] = self.clocks
        yield clocks
        width = max((len(step) for step, _ in chain(self.store.earlier, self.store.history)),
                    default=8)
        # All below the clocks in one container: Textual draws every child of
        # the screen a change touches, so the clocks' tick draws that one's
        # background, not the lines, the search and the footer (as on the
        # main screen).
        with Vertical(id="log-page"):
            log = OutputLog(lead=width + 1, id="log-lines")
            log.can_focus = False  # the screen's keys move the selected line
            yield log
            search = Input(placeholder="text to find (any case); enter finds it, escape "
                                       "closes", id="log-find", compact=True)
            search.cursor_blink = False
            search.display = search.can_focus = False  # until `/`
            yield search
            yield Footer()

    def show_clocks(self, clocks: Content) -> None:
        # The app may call this as the screen opens, before it is composed.
        self.clocks = clocks
        for row in self.query("#log-clocks").results(ClocksRow):
            row.show_row(0, clocks)

    @property
    def view(self) -> OutputLog:
        return self.query_one("#log-lines", OutputLog)

    def on_mount(self) -> None:
        self.width = self.view.lead - 1
        if self.store.earlier:
            self.entries.append(("", "* the earlier run, from its journal:"))
        self.entries += self.store.earlier
        if self.store.earlier:
            self.entries.append(("", "* this run:"))
        self.view.write_lines([self._row(step, line) for step, line in self.entries])
        self.catch_up()
        if self.entries:
            self.view.mark(len(self.entries) - 1)
        self._title()

    def _row(self, step: str, line: str) -> str:
        return f"{step:<{self.width}} {line}"

    def catch_up(self) -> None:
        """Lines that arrived since: the run goes on while this is open."""
        count = min(self.store.added - self.taken, len(self.store.history))
        self.taken = self.store.added
        # The newest `count` only, from the end: the history holds up to
        # 500,000 lines, and this runs at every burst of output.
        new = list(islice(reversed(self.store.history), count))[::-1] if count > 0 else []
        if new:
            self.entries += new
            self.view.write_lines([self._row(step, line) for step, line in new])
            self._title()

    def _title(self, note: str = "") -> None:
        marked = self.view.marked
        where = (f"line {marked + 1} of {len(self.entries)}" if marked is not None
                 else f"{len(self.entries)} lines")
        step = self.entries[marked][0] if marked is not None and self.entries else ""
        parts: list[Content | str | tuple[str, str]] = [
            ("Every line of the run", "bold"), f"  {where}"]
        if step:
            parts += ["  ·  ", (self.titles(step), "bold")]
        if note:
            parts += ["  ·  ", (note, "$warning")]
        self.query_one("#log-title", Static).update(Content.assemble(*parts))

    # --- moving and finding ----------------------------------------------------------------

    def _select(self, index: int, note: str = "") -> None:
        if not self.entries:
            return
        self.view.mark(max(0, min(index, len(self.entries) - 1)), match=self.query_text)
        self._title(note)

    def action_move(self, by: int) -> None:
        marked = self.view.marked
        self._select((marked if marked is not None else len(self.entries)) + by)

    def action_page(self, by: int) -> None:
        self.action_move(by * max(1, self.view.scrollable_content_region.height - 1))

    def action_edge(self, which: int) -> None:
        self._select(0 if which == 0 else len(self.entries) - 1)

    def action_search(self) -> None:
        search = self.query_one("#log-find", Input)
        search.display = search.can_focus = True
        search.focus()

    @on(Input.Submitted, "#log-find")
    def _find_typed(self, event: Input.Submitted) -> None:
        self.query_text = event.value.strip()
        self._hide_search()
        self.action_find(1, start_here=True)

    def action_find(self, direction: int, start_here: bool = False) -> None:
        wanted = self.query_text.lower()
        if not wanted:
            self._title("/ to search first")
            return
        count = len(self.entries)
        marked = self.view.marked if self.view.marked is not None else -1
        start = marked if start_here and marked >= 0 else marked + direction
        for step in range(count):
            index = (start + direction * step) % count
            if wanted in self.entries[index][1].lower():
                hits = sum(1 for _, line in self.entries if wanted in line.lower())
                wrapped = (index < marked) if direction > 0 else (index > marked)
                holds = "line holds" if hits == 1 else "lines hold"
                note = f"{hits} {holds} {self.query_text!r}" + (
                    "; from the top again" if wrapped and direction > 0 and not start_here
                    else "; from the end again" if wrapped and direction < 0 else "")
                self._select(index, note)
                return
        self._select(marked, f"no line holds {self.query_text!r}")

    def _hide_search(self) -> None:
        search = self.query_one("#log-find", Input)
        search.display = search.can_focus = False
        self.set_focus(None)

    # --- leaving and copying ---------------------------------------------------------------

    def action_close(self) -> None:
        if self.query_one("#log-find", Input).display:
            self._hide_search()
            return
        self.dismiss(None)

    def action_copy_line(self) -> None:
        marked = self.view.marked
        if marked is None or not self.entries:
            return
        step, line = self.entries[marked]
        self.copy(plain(line).removeprefix("$ "), f"line {marked + 1} ({step or 'the run'})")
