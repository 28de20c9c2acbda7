"""Command output that wraps to the pane and follows its newest line.

Textual's Log never wraps, and its horizontal scroll bar, which appears only
after a long line has been measured, hid the newest line under it; RichLog
wraps, but at ten times the memory and a third of the speed. This is a line-API
view: lines stay plain strings, rows are only offsets into them, recomputed
when the width changes, and only the rows on screen are drawn.

Every line starts with a `lead` (the full log's step column; nothing in the
output pane) and a two-cell stream gutter (see presentation.GUTTER): the
gutter colours the line, and a wrapped line's next rows are indented past
both, so a continuation never reads as a new line.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.events import Resize
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from runbook.visible import visible
from screens.presentation import STREAM_OF_GUTTER
from screens.wrap import breaks


def clean(line: str) -> str:
    """What a terminal would act on in a line the host printed: shown, not obeyed."""
    return visible(line.expandtabs()) if not line.isprintable() else line


class OutputLog(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "output--cmd", "output--err", "output--info", "output--lead", "output--marked",
        "output--match",
    }
    DEFAULT_CSS = """
    OutputLog {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        background: $surface;
    }
    OutputLog > .output--cmd { color: $accent; text-style: bold; }
    OutputLog > .output--err { color: $error; }
    OutputLog > .output--info { color: $text-muted; text-style: italic; }
    OutputLog > .output--lead { color: $text-muted; }
    OutputLog > .output--marked { background: $primary 40%; }
    OutputLog > .output--match { background: $warning 60%; color: $text; }
    """

    def __init__(self, *, max_lines: int | None = None, lead: int = 0,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self.lead = lead
        self.auto_scroll = True
        self._lines: list[str] = []
        # Lines dropped off the top so far: rows name lines by this absolute count.
        self._dropped = 0
        # (absolute line, start, end) per row on screen, in order.
        self._rows: list[tuple[int, int, int]] = []
        self._width = 0
        self._cache: LRUCache[int, Strip] = LRUCache(1024)
        self._styles: dict[str, Style] = {}
        self.marked: int | None = None  # a line index in `lines`, highlighted
        self.match = ""
        # Whether the view keeps to the newest line: set by where the view is
        # moved to, kept when the pane's height changes under it (a progress
        # line appearing above pushes the end a row further down).
        self._following = True

    # --- what is in it ----------------------------------------------------------

    @property
    def lines(self) -> Sequence[str]:
        return self._lines

    def write_line(self, line: str) -> None:
        self.write_lines([line])

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> None:
        """Add lines at the end; follow them if the view was at the end."""
        following = self.auto_scroll if scroll_end is None else scroll_end
        following = following and self._following
        new = [clean(part) for line in lines for part in line.splitlines() or [""]]
        first = self._dropped + len(self._lines)
        self._lines.extend(new)
        if self._width:
            for offset, line in enumerate(new):
                self._add_rows(first + offset, line)
        self._prune()
        self._resize()
        if following:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self.refresh()

    def clear(self) -> None:
        self._dropped += len(self._lines)
        self._lines.clear()
        self._rows.clear()
        self._cache.clear()
        self.marked = None
        self._resize()
        self.scroll_to(y=0, animate=False, immediate=True, force=True)
        # Empty, it is at its end: set here, as a view already at the top
        # does not move and so never says so (review).
        self._following = True
        self.refresh()

    # --- where a line is -------------------------------------------------------------

    def row_of(self, index: int) -> int:
        """The first row of line `index` (in `lines`)."""
        return bisect.bisect_left(self._rows, (self._dropped + index, -1, -1))

    def line_at_row(self, row: int) -> int | None:
        if not 0 <= row < len(self._rows):
            return None
        return self._rows[row][0] - self._dropped

    def mark(self, index: int | None, *, match: str = "") -> None:
        """Highlight line `index` (and `match` in every line) and bring it into view."""
        self.marked, self.match = index, match
        self._cache.clear()
        if index is not None and self._rows:
            row = self.row_of(index)
            if not self.scroll_y <= row < self.scroll_y + self.scrollable_content_region.height:
                self.scroll_to(y=max(0, row - self.scrollable_content_region.height // 3),
                               animate=False, immediate=True, force=True)
        self.refresh()

    # --- rows -----------------------------------------------------------------------------

    def _at_end(self) -> bool:
        return self.scroll_y >= self.max_scroll_y or not self._rows

    def _add_rows(self, absolute: int, line: str) -> None:
        if len(line) <= self._width and line.isascii():  # most lines: one row
            self._rows.append((absolute, 0, len(line)))
            return
        edges = [0, *breaks(line, self._width, indent=self.lead + 2), len(line)]
        self._rows.extend((absolute, a, b) for a, b in pairwise(edges))

    def _prune(self) -> None:
        if self.max_lines is None or len(self._lines) <= self.max_lines:
            return
        drop = len(self._lines) - self.max_lines
        del self._lines[:drop]
        self._dropped += drop
        del self._rows[:bisect.bisect_left(self._rows, (self._dropped, -1, -1))]
        if self.marked is not None:
            self.marked = self.marked - drop if self.marked >= drop else None
        self._cache.clear()

    def _rewrap(self, width: int) -> None:
        top = self.line_at_row(round(self.scroll_y))
        following = self._following
        self._width = width
        self._rows.clear()
        self._cache.clear()
        for offset, line in enumerate(self._lines):
            self._add_rows(self._dropped + offset, line)
        self._resize()
        if following:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        elif top is not None:
            self.scroll_to(y=self.row_of(top), animate=False, immediate=True, force=True)

    def _resize(self) -> None:
        self.virtual_size = Size(self._width, len(self._rows))

    def on_resize(self, event: Resize) -> None:
        width = self.scrollable_content_region.width
        if width > 0 and width != self._width:
            self._rewrap(width)
        elif self._following:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._following = self._at_end()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._cache.clear()

    # --- drawing ---------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        if name not in self._styles:
            self._styles[name] = self.get_component_rich_style(f"output--{name}", partial=True)
        return self._styles[name]

    def render_line(self, y: int) -> Strip:
        row = round(self.scroll_y) + y
        width = self.scrollable_content_region.width
        if row >= len(self._rows):  # below the last line: blank, and not kept
            return Strip.blank(width, self.rich_style)
        strip = self._cache.get(row)
        if strip is None:
            strip = self._cache[row] = self._render_row(row)
        return strip.adjust_cell_length(width, self.rich_style)

    def _render_row(self, row: int) -> Strip:
        base = self.rich_style
        absolute, start, end = self._rows[row]
        index = absolute - self._dropped
        line = self._lines[index]
        lead = self.lead
        stream = STREAM_OF_GUTTER.get(line[lead:lead + 2], "out")
        style = base + self._style(stream) if stream != "out" else base
        if index == self.marked:
            style += self._style("marked")
        segments: list[Segment] = []
        if start == 0:
            if lead:
                segments.append(Segment(line[:lead], style + self._style("lead")))
            text = line[lead:end].rstrip()
        else:
            segments.append(Segment(" " * (lead + 2), style))
            text = line[start:end].rstrip()
        segments += self._matches(text, style) if self.match else [Segment(text, style)]
        return Strip(segments)

    def _matches(self, text: str, style: Style) -> list[Segment]:
        """`text` with every occurrence of the search (any case) stood out."""
        found = self._style("match")
        segments: list[Segment] = []
        folded, wanted = text.lower(), self.match.lower()
        if len(folded) != len(text):  # a letter whose lower case is longer: no marks
            return [Segment(text, style)]
        at = 0
        while (hit := folded.find(wanted, at)) >= 0 and wanted:
            segments += [Segment(text[at:hit], style),
                         Segment(text[hit:hit + len(wanted)], style + found)]
            at = hit + len(wanted)
        segments.append(Segment(text[at:], style))
        return segments
