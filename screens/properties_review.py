"""The properties review editor: old red5-web.properties beside the merged one, key by key.

One row per key in the new template's order, grouped under the template's ``## ...``
headings, with the live value on the left and the value the merged file will hold on the
right. The operator decides keys with single letters; every decision goes through the
:class:`~runbook.properties.Review` decision API, so the object the runbook's
``properties`` step handed in is edited in place and the step writes exactly what was
decided here. The screen dismisses with True when nothing is left to decide, False when
the operator leaves with keys still open.

Secret values are masked everywhere (row, detail pane, filter) except on the one row the
operator explicitly revealed, and only until the cursor leaves it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import ClassVar, Literal

from textual import events, on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Horizontal, ScrollableContainer
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, HelpPanel, Input, Label, OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist

from runbook.properties import (
    NEW_DATABASE_KEY,
    NEW_DATABASE_NOTE,
    Choice,
    DecisionError,
    DecisionsWriter,
    KeyReview,
    MergedWriter,
    Refused,
    Review,
    Status,
    has_placeholder,
    merged_written,
    one_line,
    read_as_latin1,
    visible,
    written_key,
)

__all__ = ["PropertiesReviewScreen", "needs_decision"]

# Colour per status, always paired with the status word and a glyph, so nothing is
# told by colour alone. Theme variables keep the palette readable on light themes too.
_STATUS_STYLE: dict[Status, str] = {
    Status.NEEDS_VALUE: "bold $text-error",
    Status.NEW_DEFAULT: "bold $text-warning",
    Status.REMOVED: "$text-secondary",
    Status.UNCOMMENTED: "$text-accent",
    Status.CARRIED: "$text-primary",
    Status.OVERRIDDEN: "$text-success",
    Status.UNCHANGED: "$text-muted",
    Status.EDITED: "bold $text-primary",
}
_HEADING_STYLE = "bold underline $foreground"

# What each explicit decision means, in the words the detail pane uses.
_CHOICE_TEXT: dict[Choice, str] = {
    Choice.KEEP_OLD: "keep the live value",
    Choice.ACCEPT_NEW: "take the template as it is",
    Choice.SET: "use the value typed here",
    Choice.KEEP: "keep it, in the block appended at the end",
    Choice.DROP: "leave it out of the merged file",
}

# Which letters do something useful on a key of each status (the detail pane's hint).
# "{a}" is what a does on the row, in the footer's words (_A_SAYS), so the two
# never tell a key apart (operator trial: "a Accept new" below, "a leave it
# commented out" above, on the same row).
_HINT: dict[Status, str] = {
    Status.NEEDS_VALUE: "e type the value",
    Status.NEW_DEFAULT: "{a} (this default) · e type another value",
    Status.CARRIED: "o keep the live value · {a} (the template's value) · e type a value",
    # Both files agree: decided, o and a would keep what the key has, so only
    # e is offered, and o once e has changed it (_why_not; review: the footer
    # offered a and o, the detail only e). Open (reopened, a sample value),
    # o and a decide it, as on any row.
    Status.UNCHANGED: "o keep the value both files have · {a} (the same) · e type another value",
    Status.UNCOMMENTED: "o keep the live value · {a} (as in the template) · e type a value",
    # x, which switches between the two, is listed by ?: on these rows the
    # footer had no room for / Filter beside it (trial, 80 columns).
    Status.REMOVED: "o keep it · {a} · e keep it with another value",
    Status.OVERRIDDEN: "the runbook or --set owns this value; change it there",
}

# What a does, by what the template holds for the key: the footer's label for
# it (active_bindings gives a's one binding the row's).
_A_SAYS: dict[str, str] = {
    "value": "Take new",
    "commented": "Comment out",
    "blank": "Leave blank",
    "out": "Leave out",
}


def _a_does(kr: KeyReview | None) -> str:
    """Which of _A_SAYS a does on this key (action_accept_new does it by this)."""
    if kr is None:
        return "value"
    if kr.status is Status.REMOVED:
        return "out"
    if kr.new is None:
        return "commented"
    return "blank" if kr.left_blank else "value"


# The row action each letter of a hint stands for (the bindings below).
_LETTER_ACTIONS = {"a ": "accept_new", "o ": "keep_old", "e ": "edit", "x ": "toggle_removed"}

Severity = Literal["information", "warning", "error", "success"]

_STATUS_WIDTH = 2 + max(len(s.value) for s in Status)  # glyph, space, longest word
_GAP = 2
_MIN_VALUE_WIDTH = 24  # a masked secret with its fingerprint still fits
_TODO_WORDS = ("todo", "undecided")  # filter words for "keys that still need a decision"
_STATUS_WORDS = frozenset(s.value for s in Status)
_SHOWN_IN_MESSAGE = 6  # keys named in a refusal before "and N more"
_ROOM_FOR_EVERY_KEY = 120  # columns the footer needs for x and v as well
# Below this many columns (a 60-column split pane, trial 55) the rows show a
# status by its glyph alone, n, N and / leave the footer for ? (the summary
# says n, the opening message /), and the detail puts what to press after
# the values, which the footer says too.
_SLIM = 80
# The column headings, and what each says where its column is narrower.
_HEADINGS = (("status", ""), ("key", "key"), ("live value", "live"),
             ("merged value", "merged"))


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _left_out_line(keys: list[str], room: int) -> str:
    """The summary's count of the keys only the live file has that the
    merged file leaves out, naming as many as `room` columns hold: in
    --check's words where they fit, shorter in a narrow pane."""
    count = _count(len(keys), "key")
    heads = (f"{count} only the live file has will be left out of the merged file: ",
             f"{count} only the live file has {'is' if len(keys) == 1 else 'are'} left out: ",
             f"{_count(len(keys), 'live-only key')} left out: ",
             f"{len(keys)} live-only left out: ")
    # As many keys named as fit, in the longest words that let them (no
    # more than the room could hold: a diff trial had a thousand keys).
    for shown in range(min(len(keys), room // 3), 0, -1):
        for head in heads:
            more = len(keys) - shown
            listed = ", ".join(written_key(key) for key in keys[:shown])
            for tail in ((f" and {more} more (/ removed lists them)", f" and {more} more")
                         if more else ("",)):
                line = head + listed + tail
                if Content(line).cell_length <= room:
                    return line
    # The first key cut at its start, as a row cuts it: its end tells it apart.
    rest = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
    first = Content(written_key(keys[0]))
    width = max(room - len(heads[-1]) - len(rest), 2)
    return heads[-1] + _fit_tail(first, width).plain.rstrip() + rest


def needs_decision(kr: KeyReview) -> bool:
    """Still open: nobody decided it, nobody has confirmed its new default or sample
    value yet, or it still holds a placeholder (the rule ``runbook diff --check`` uses)."""
    return kr.is_open


def _fit(content: Content, width: int) -> Content:
    return content.truncate(width, ellipsis=True, pad=True)


def _fit_tail(content: Content, width: int) -> Content:
    """Cut at its start, where the end tells it apart: keys share long
    prefixes (instancecontroller.), and cut at the end two of them read alike;
    a masked secret's tag is at its end (operator trials, 80 columns)."""
    if content.cell_length <= width:
        return _fit(content, width)
    tail = content[len(content) - (width - 1):]
    while tail.cell_length > width - 1:  # a wide character takes two cells
        tail = tail[1:]
    return Content.assemble("…", tail)


_MASKED = re.compile(r"(•+) \[([0-9a-f]+)\]")


def _masked_fit(shown: Content, tag: str, width: int) -> Content:
    """A masked secret's cell in `width`, showing it masked whatever the
    width: fewer dots, then a shorter fingerprint, then none, then no tag
    ("(edited)"), before the dots are cut (operator trial 57, F9: cut at its
    start, "…83d85] (edited)" had lost the mask and half the fingerprint).
    Any other value (a placeholder, blank) is cut at its start as before."""
    found = _MASKED.fullmatch(shown.plain)
    if found is None:
        return _fit_tail(Content.assemble(shown, (tag, "$text-muted")), width)
    dots, print_ = found[1], found[2]
    short = dots[:4]
    forms = [(dots, print_, tag), (short, print_, tag), (short, print_[:4], tag),
             (short, "", tag), (short, print_, ""), (short, print_[:4], ""), (short, "", "")]
    for mask, shown_print, shown_tag in forms:
        cell = Content(mask + (f" [{shown_print}]" if shown_print else ""))
        if shown_tag:
            cell = Content.assemble(cell, (shown_tag, "$text-muted"))
        if cell.cell_length <= width:
            return _fit(cell, width)
    return _fit(Content(short), width)


class _KeyList(OptionList):
    """The rows. Unlike a menu, the cursor stops at the ends instead of wrapping round,
    so holding an arrow key never jumps from the last key back to the first."""

    # The list's own keys (arrows, pages) go without saying: kept out of the
    # keys panel (?), where at 80x24 they came first and pushed the review's
    # own keys below its end.
    # An OptionList's own binding of a key wins over its scroll container's.
    BINDINGS: ClassVar[list[BindingType]] = list({
        binding.key: replace(binding, system=True)
        for cls in (ScrollableContainer, OptionList) for binding in cls.BINDINGS
        if isinstance(binding, Binding)}.values())

    _height_seen = 0

    def on_mount(self) -> None:
        # Shrunk by a longer detail, a bar or the filter line, the list gets no
        # Resize, and a scroll taken on the refresh before the new layout used
        # the old height: the selected row ended just out of view now and then
        # (re-trial 57b). After each layout, a new height scrolls to it.
        self.screen.screen_layout_refresh_signal.subscribe(self, self._after_layout)

    def _after_layout(self, _screen: object) -> None:
        height = self.scrollable_content_region.height
        if height != self._height_seen:
            self._height_seen = height
            self.scroll_to_highlight()

    def action_cursor_up(self) -> None:
        self._step(-1)

    def action_cursor_down(self) -> None:
        self._step(1)

    def _step(self, direction: int) -> None:
        if self.highlighted is None:
            self.action_first()
            return
        index = self.highlighted + direction
        while 0 <= index < self.option_count:
            if not self.get_option_at_index(index).disabled:
                self.highlighted = index
                return
            index += direction

    class Resized(Message):
        """The list's width changed apart from the screen's (the keys panel)."""

    def on_resize(self) -> None:
        self.post_message(self.Resized())


def _why_not(action: str, kr: KeyReview) -> str:
    """Why the row action cannot be taken on this key; empty when it can."""
    key = written_key(kr.key)
    if kr.status is Status.OVERRIDDEN:
        return f"{key} is set by the config's [properties] set; change it there."
    if kr.status is Status.UNCHANGED and action in ("keep_old", "accept_new") \
            and not kr.is_open and (action == "accept_new" or kr.merged == kr.old):
        # One key to undo an e is enough: a and o would both do it.
        back = "o brings it back, " if kr.merged != kr.old else ""
        return (f"{key} has the same value in the live file and the template, so there is "
                f"nothing to keep or take: {back}e types another value.")
    if action == "keep_old" and kr.old is None:
        return (f"{key} has no live value to keep: it is new in this release. a takes the "
                "template's, e gives another.")
    if action == "accept_new" and kr.new is not None and has_placeholder(kr.new):
        return (f"{key} has only a placeholder in the template, nothing to take: e gives it "
                "a real value.")
    if action == "toggle_removed" and kr.status is not Status.REMOVED:
        return f"x keeps or drops a key the new template no longer has; {key} is in it."
    if action == "reveal" and not kr.secret:
        return f"{key} is no secret: its value shows as it is."
    return ""


_OPEN_KEYS = Binding.Group("To decide")  # n the next, N the one before


class PropertiesReviewScreen(Screen[bool]):
    """Review and decide every key of a :class:`Review`; ``w`` writes, ``q`` leaves."""

    # Below 100 columns notices span the screen a row per line (the tcss):
    # at half width, --set's cautions covered the table (trial).
    # Below 80 (-slim), the tcss gives the list the rows the detail can spare.
    HORIZONTAL_BREAKPOINTS = [(0, "-slim"), (_SLIM, "-narrow"), (100, "-wide")]  # noqa: RUF012
    # Below 30 rows the detail gives the list rows back (the tcss): at 80x24
    # the list was one row tall under a filter and a message (trial).
    # Below 24 (-tiny, trial 55 at 60x20: two key rows), the detail is
    # held to a few rows and the list keeps the rest.
    VERTICAL_BREAKPOINTS = [(0, "-tiny"), (24, "-short"), (30, "-tall")]  # noqa: RUF012

    CSS_PATH = "properties_review.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        # One footer item for both: at 80 columns the footer was cut (trial).
        Binding("n", "next_open", "Next open", id="properties.next", group=_OPEN_KEYS),
        # A terminal sends "N" for shift+n (Textual only says shift+n alongside alt).
        Binding("N", "previous_open", "Prev open", id="properties.previous",
                group=_OPEN_KEYS),
        # One a, whatever it does on the row: a keymap moves it on every row.
        # The footer says what it does on this one (active_bindings, _a_does).
        Binding("a", "accept_new", _A_SAYS["value"], id="properties.accept-new"),
        Binding("o", "keep_old", "Keep old", id="properties.keep-old"),
        Binding("e", "edit", "Edit", id="properties.edit"),
        # Write, leave and the list of keys end every review: kept ahead of
        # the rest so a narrow footer (80 columns) still shows them.
        Binding("w", "write", "Write", id="properties.write"),
        Binding("q", "leave", "Leave", id="properties.leave"),
        # Textual's keys panel lists every key, those the footer has no room for too.
        Binding("question_mark", "keys", "Keys", key_display="?", id="properties.keys"),
        # Below 120 columns these two leave the footer for the list ? shows, or
        # / Filter was cut (trials at 80 and 100): o keeps a removed key and a
        # leaves it out, and the detail of every secret says v. active_bindings
        # keeps them out of the footer by the width.
        Binding("x", "toggle_removed", "Keep/drop", id="properties.toggle-removed"),
        Binding("v", "reveal", "Reveal", id="properties.reveal"),
        Binding("slash", "filter", "Filter", key_display="/", id="properties.filter"),
        Binding("escape", "close_bar", "Cancel", id="properties.cancel"),
    ]

    # Actions that change or inspect a key; all of them wait while a bar is open.
    _ROW_ACTIONS = frozenset(
        {"next_open", "previous_open", "accept_new", "keep_old", "edit", "toggle_removed",
         "reveal", "filter", "write", "leave"}
    )

    # The keys that act on the selected row, and what each does, as bound above.
    _ROW_KEYS: ClassVar[dict[str, str]] = {
        binding.key: binding.action.partition("(")[0] for binding in BINDINGS
        if isinstance(binding, Binding)
        and binding.action.partition("(")[0]
        in {"accept_new", "keep_old", "edit", "toggle_removed", "reveal"}}

    def __init__(
        self,
        review: Review,
        *,
        decisions_path: Path | str | None = None,
        merged_path: Path | str | None = None,
        old_name: str | None = None,
        new_name: str | None = None,
        in_run: bool = False,
        host_file: str | None = None,
        throwaway: bool = False,
        caution: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.review = review
        # Said under the title for as long as the review is open (operator
        # trial 57, F8: the template given first, said in a notice, covered
        # the list, then went while the keys were still being read).
        self.caution = caution
        self.decisions_path = Path(decisions_path) if decisions_path is not None else None
        self.merged_path = Path(merged_path) if merged_path is not None else None
        self.old_name = old_name or review.old_name
        self.new_name = new_name or review.new_name
        # The properties step's review in a run, not `runbook diff`'s: what
        # leaving does, and where a decisions file is named, read otherwise
        # (trial 55: "the same command takes the review up again", in a run).
        self.in_run = in_run
        # In a run, the file on the host the step writes the merge to as soon
        # as the review ends (its plan's edit): w's words say so (review 56b F9).
        self.host_file = host_file if in_run else None
        # In a rehearsal whose sandbox goes as it ends (no --sandbox, no
        # --keep): no resumed run takes the review up.
        self.throwaway = throwaway
        #: Human lines about what ``w`` wrote, for a front end to repeat after the screen.
        self.written: list[str] = []
        # What w writes, and what is refused: the policy is the engine's.
        self._decisions_writer = DecisionsWriter(review, self.decisions_path) \
            if self.decisions_path is not None else None
        self._merged_writer = MergedWriter(review, self.merged_path) \
            if self.merged_path is not None else None
        self._filter = ""
        self._revealed: str | None = None
        self._editing: str | None = None
        # Enter on an empty line for a key that needs a value was said once:
        # the next Enter, still empty, means blank (diff trial).
        self._blank_armed = False
        self._dirty = False  # decisions taken since the last write
        # Each key decided since the last write, and whether it was open before:
        # left unwritten, it is open again next time, and the parting line
        # counts it so (operator trial: "keys undecided (1)" where the same
        # command opened with 2).
        self._unsaved: dict[str, bool] = {}
        # Left with decisions taken and not written to the decisions file.
        self.left_unwritten = False
        self._leave_armed = False  # q pressed once with unwritten decisions
        self._widths = (_STATUS_WIDTH, 40, _MIN_VALUE_WIDTH, _MIN_VALUE_WIDTH)
        # One Option per key, kept across filter changes: building rows is most of the
        # cost of a rebuild, and only a decision, a reveal or a resize changes one.
        self._row_options: dict[str, Option] = {}
        self._duplicates: dict[str, list[str]] = {}
        for dup in review.duplicates:
            lines = ", ".join(str(n) for n in dup.lines)
            self._duplicates.setdefault(dup.key, []).append(f"{dup.file} (lines {lines})")

    @property
    def merged_unwritten(self) -> bool:
        """The merged file asked for (--out) is not written yet: said on leaving
        (operator trial: a review reopened, every key decided, to write it was
        left with q at once, exit 0 and no merged file)."""
        return self._merged_writer is not None and not self._merged_writer.done

    @property
    def env_needed(self) -> list[tuple[str, str]]:
        """(key, environment variable) for each secret the decisions file stores by name."""
        return self._decisions_writer.env_needed if self._decisions_writer is not None else []

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="review-title")
        yield Static(Content.styled(self.caution, "$text-warning"), id="review-caution",
                     markup=False)
        yield Static(id="review-summary")
        yield Static(id="review-message")
        yield Static(id="review-columns")
        yield _KeyList(id="review-keys")
        yield Static(id="review-detail")
        # Why a typed value was refused, on the line above it (trial: said on the
        # top line, far from the input, with the text thrown away).
        yield Static(id="review-edit-refused")
        with Horizontal(id="review-edit-bar", classes="bar"):
            yield Label(id="review-edit-label", markup=False)  # a key, as it is written
            yield Input(id="review-edit", compact=True)
        with Horizontal(id="review-filter-bar", classes="bar"):
            yield Label("Filter:", id="review-filter-label")
            yield Input(
                id="review-filter",
                placeholder="text in a key or value, a status such as removed, or todo",
                compact=True,
            )
        # The review's own keys need the whole line; ctrl+p still opens the palette.
        yield Footer(show_command_palette=False)

    def _show_title(self, width: int) -> None:
        """One line per file: host paths are long, and a cut path is no use to
        anyone. Below 100 columns the heading makes way, or each label sat
        alone on a line above its path (trial: five rows of 24). A template
        that is not the release's own (a rehearsal's stand-in) says so after
        its name (trial 56, F10), on a line of its own under it: folded at the
        line's end, it would be cut mid-word."""
        under = " " * len("template  ") if width < 100 else \
            " " * len("Properties review   template  ")
        aside = Content.assemble("\n", under, (self.review.stand_in, "$warning")) \
            if self.review.stand_in else Content("")
        if width < 100 and not aside and \
                len(f"live {self.old_name}   template {self.new_name}") <= width - 2:
            # Both on one line where they fit whole (trial 55: at 60x20
            # the header took five rows of twenty).
            title = Content.assemble(("live ", "bold"), self.old_name, "   ",
                                     ("template ", "bold"), self.new_name)
        elif width < 100:
            title = Content.assemble(("live      ", "bold"), self.old_name, "\n",
                                     ("template  ", "bold"), self.new_name, aside)
        else:
            title = Content.assemble(
                ("Properties review", "bold"), "   live      ", self.old_name, "\n",
                " " * len("Properties review"), "   template  ", self.new_name, aside)
        self.query_one("#review-title", Static).update(title)

    def on_mount(self) -> None:
        self.query_one("#review-caution").display = bool(self.caution)
        self._show_title(self.app.size.width)
        self._set_widths(self.app.size.width)
        self._rebuild()
        self._say(self._opening_message())
        self.query_one("#review-keys").focus()

    def on_resize(self) -> None:
        self._show_title(self.size.width)
        if self._set_widths(self.size.width):
            self._rebuild()
        else:
            self._update_summary()  # its counts come and go at 30 rows
        # Keys closer together below 100 columns, and those that do not fit
        # the row out of the footer (check_action): all of w, q and / fit.
        self.query_one(Footer).compact = self.size.width < 100
        self.refresh_bindings()

    def _set_widths(self, screen_width: int) -> bool:
        """Share the width between the columns; True when the widths changed.

        The key column takes the longest key when it can; the values share the rest."""
        usable = screen_width - 1 - 2  # the scrollbar gutter and the row padding
        # Slim, the status is the glyph alone: the detail names it, and the
        # values get the room (trial 55: 11 columns each at 60).
        status = 1 if screen_width < _SLIM else _STATUS_WIDTH
        rest = usable - status - 3 * _GAP
        longest = max((len(kr.key) for kr in self.review), default=10)
        # Narrow terminals squeeze the values before the keys: a value is in the detail
        # pane anyway, while a row without a readable key name is no use at all.
        key = max(12, min(longest, max(rest - 2 * _MIN_VALUE_WIDTH, rest * 45 // 100)))
        old = max(8, (rest - key) // 2)
        widths = (status, key, old, max(8, rest - key - old))
        changed = widths != self._widths
        self._widths = widths
        if changed:
            self._row_options.clear()
        return changed

    # -- rendering -------------------------------------------------------------------

    def _shown(self, kr: KeyReview, value: str | None, *, absent: str) -> Content:
        if value is None:
            return Content.styled(absent, "$text-muted italic")
        if value == "":
            return Content.styled("(blank)", "$text-muted italic")
        revealed = kr.secret and self._revealed == kr.key
        text = one_line(kr.show(value, reveal=revealed) or "")
        return Content.styled(text, "reverse $warning" if revealed else "")

    def _glyph(self, kr: KeyReview) -> tuple[str, str]:
        if not kr.decided or (kr.acknowledged and kr.is_open):  # undecided, or a placeholder
            return "!", "bold $text-error"
        if not kr.acknowledged:
            return "?", "bold $text-warning"
        if kr.choice is not None:
            return "✓", "bold $text-success"
        return "·", "$text-muted"

    def _merged(self, kr: KeyReview) -> Content:
        shown, tag = self._merged_parts(kr)
        return Content.assemble(shown, (tag, "$text-muted")) if tag else shown

    def _merged_parts(self, kr: KeyReview) -> tuple[Content, str]:
        """The merged value as shown, and the tag said after it."""
        if kr.merged is None:
            absent = "(left out)" if kr.status is Status.REMOVED else "(stays commented out)"
            return self._shown(kr, None, absent=absent), ""
        shown = self._shown(kr, kr.merged, absent="")
        if kr.status is Status.REMOVED:
            return shown, " (kept)"
        if kr.choice is Choice.SET and kr.group is not Status.EDITED:
            # Typed here: beside a template's value it read the same (trial).
            # Over a live value the status column says so (KeyReview.group).
            return shown, " (edited)"
        return shown, ""

    def _row(self, kr: KeyReview) -> Content:
        status_w, key_w, old_w, merged_w = self._widths
        glyph, glyph_style = self._glyph(kr)
        status = Content.assemble((glyph, glyph_style), " ", (kr.group.value,
                                                              _STATUS_STYLE[kr.group]))
        if status_w < _STATUS_WIDTH:  # slim: the glyph alone
            status = Content.styled(glyph, glyph_style)
        key = Content.styled(written_key(kr.key), "bold" if needs_decision(kr) else "")
        gap = " " * _GAP
        old = self._shown(kr, kr.old, absent="—")
        if kr.secret and self._revealed != kr.key:
            old_cell = _masked_fit(old, "", old_w)
            merged_cell = _masked_fit(*self._merged_parts(kr), merged_w)
        else:
            old_cell, merged_cell = _fit(old, old_w), _fit(self._merged(kr), merged_w)
        return Content.assemble(
            _fit(status, status_w), gap,
            _fit_tail(key, key_w), gap,
            old_cell, gap,
            merged_cell,
        )

    def _heading(self, text: str) -> Content:
        return Content.styled(visible(text), _HEADING_STYLE)  # a file's words, as keys are

    def _columns(self) -> Content:
        status_w, key_w, old_w, merged_w = self._widths
        gap = " " * _GAP
        # Each heading whole, or its short word (trial 55: "merged valu").
        return Content.styled(
            gap.join(
                (label if len(label) <= width else short)[:width].ljust(width)
                for (label, short), width in zip(_HEADINGS, (status_w, key_w, old_w, merged_w),
                                                 strict=True)
            ),
            "bold $text-muted",
        )

    def _matches(self, kr: KeyReview, terms: list[str]) -> bool:
        """Every term must match: a status word or todo matches by status, any other
        term by text. Only the values as shown are searched, never a secret's real
        value, so typing a guess into the filter cannot confirm a password."""
        for term in terms:
            if term in _TODO_WORDS:
                if not needs_decision(kr):
                    return False
                continue
            if term in _STATUS_WORDS:
                if kr.group.value != term:
                    return False
                continue
            haystack = " ".join(
                text
                for text in (
                    kr.key,
                    written_key(kr.key),  # as the row shows it
                    kr.group.value,
                    kr.section,
                    kr.show(kr.old),
                    kr.show(kr.new),
                    kr.show(kr.merged),
                )
                if text
            ).lower()
            if term not in haystack:
                return False
        return True

    def _options(self) -> Iterable[Option]:
        terms = self._filter.lower().split()
        group: str | None = None
        started = False
        shown = 0
        for kr in self.review:
            if terms and not self._matches(kr, terms):
                continue
            # A key the template does not place (removed, or --set only) stays under the
            # heading around it; its own section from the live file is in the detail pane.
            section = kr.section if kr.new_line is not None or not started else group
            if not started or section != group:
                if section:
                    yield Option(self._heading(section), disabled=True)
                group, started = section, True
            shown += 1
            option = self._row_options.get(kr.key)
            if option is None:
                option = self._row_options[kr.key] = Option(self._row(kr), id=kr.key)
            yield option
        if shown == 0:
            yield Option(
                Content.styled(f"No key matches {self._filter!r}; Esc clears the filter.",
                               "italic"),
                disabled=True,
            )

    def _rebuild(self) -> None:
        """Lay out every row again (after a resize or a filter change)."""
        keys = self._keys
        current = self._current_key()
        keys.set_options(self._options())
        self.query_one("#review-columns", Static).update(self._columns())
        index = self._index_of(current)
        if index is not None:
            keys.highlighted = index
        else:
            keys.action_first()
        self._refresh_status()

    def _index_of(self, key: str | None) -> int | None:
        """The row of a key, or None when the filter hides it."""
        if key is None:
            return None
        try:
            return self._keys.get_option_index(key)
        except OptionDoesNotExist:
            return None

    def _refresh_row(self, key: str) -> None:
        if self._index_of(key) is None:
            self._row_options.pop(key, None)  # drawn afresh when the filter shows it again
            return
        # The listed Option is the cached one, so this updates both.
        self._keys.replace_option_prompt(key, self._row(self.review[key]))

    def _refresh_status(self) -> None:
        self._update_summary()
        self._update_detail()
        self.refresh_bindings()
        self._keep_cursor_in_view()

    def _keep_cursor_in_view(self) -> None:
        # Bars and the filter line change the list's height; scroll once the new
        # layout is in, or the row being decided can end up just out of sight.
        self.call_after_refresh(self._keys.scroll_to_highlight)

    def _update_summary(self) -> None:
        review = self.review
        # Below 30 rows the count of each status makes way for the list (a
        # row shows its key's status; the filter finds them): at 80x24 the
        # list was one row tall (trial).
        counted = self.app.size.height >= 30  # the screen's own is 0 before its layout
        # Slim and short, the summary is one line: what is left to decide
        # (trial 55: two rows at 60 columns).
        slim = self.app.size.width < _SLIM and not counted
        parts: list[Content | str] = [] if slim else [f"{len(review)} keys"]
        for status, count in review.summary.items() if counted else ():
            if count:
                parts += [" · ", Content.styled(f"{count} {status}", _STATUS_STYLE[status])]
        next_line = "\n" if counted else "" if slim else " · "
        undecided = len(review.undecided)
        unconfirmed = [kr for kr in review if kr.decided and not kr.acknowledged]
        # Red5's sample values apart, as --check counts them (operator trial).
        defaults, renamed, blanks = map(len, review.to_confirm)
        samples = len(unconfirmed) - defaults - renamed - blanks
        if undecided or unconfirmed:
            parts.append(next_line)
            if undecided:
                parts += [Content.styled(f"! {undecided} to decide", "bold $text-error"), " · "]
            for count, what in ((defaults, "new default"), (renamed, "renamed live value"),
                                (blanks, "blank live value"), (samples, "sample value")):
                if count:
                    parts += [Content.styled(f"? {_count(count, what)} to confirm",
                                             "bold $text-warning"), " · "]
            parts.append("n goes to it" if slim else "n goes to the next one")
        else:
            parts += [next_line, Content.styled("✓ Every key is decided", "bold $text-success"),
                      f"; {self._write_hint(brief=True)}"]
        leftover = review.leftover_placeholders
        if leftover:
            parts += [" · ", Content.styled(
                f"⚠ {_count(len(leftover), 'merged value')} still holding a placeholder",
                "$text-warning")]
        if review.left_out and (counted or not self._filter):
            # Left out by default, so no decision asks for them: counted here,
            # or a plugin's own key went unless someone read the removed rows
            # through (trial 55). Below 30 rows the filter's line takes its
            # row while there is one, or at 80x24 the list had four.
            parts += ["\n", Content.styled(_left_out_line(review.left_out, self.app.size.width - 2),
                                           _STATUS_STYLE[Status.REMOVED])]
        if self._filter:
            shown = sum(1 for option in self._keys.options if option.id)
            parts += ["\n", Content.styled(
                f"Filter {self._filter!r}: {shown} of {len(review)} keys shown "
                "(/ changes it, Esc in the filter clears it)", "italic")]
        self.query_one("#review-summary", Static).update(Content.assemble(*parts))

    def _update_detail(self) -> None:
        detail = self.query_one("#review-detail", Static)
        key = self._current_key()
        if key is None:
            detail.update("")
            return
        kr = self.review[key]
        group = kr.group
        width = self.app.size.width
        slim = width < _SLIM
        meaning = f": {group.found if kr.choice else group.meaning}"
        if slim and len(written_key(kr.key)) + 2 + len(group.value) + len(meaning) > width - 2:
            meaning = ""  # slim, the status word alone rather than a second row
        lines: list[Content] = [
            Content.assemble((written_key(kr.key), "bold"), "  ",
                             (group.value, _STATUS_STYLE[group]), meaning)
        ]
        # The decision and the merged value first: a long value wraps over
        # rows, and these are what the operator must read (trial: at 80x24 a
        # 140-character value pushed both out of the pane). Slim, the letters
        # to press come last: the footer says them too (trial 55, 60x20).
        state, hint = self._decision_parts(kr)
        lines.append(state if slim else Content.assemble(state, "   ", hint))
        values: list[Content] = [Content.assemble("merged: ", self._merged(kr))]
        if kr.old is not None:
            values.append(Content.assemble(f"live (line {kr.old_line}): ",
                                           self._shown(kr, kr.old, absent="")))
        if kr.new is not None:
            values.append(Content.assemble("template: ", self._shown(kr, kr.new, absent="")))
        elif kr.new_commented is not None:
            values.append(Content.assemble("template, commented out: ",
                                           self._shown(kr, kr.new_commented, absent="")))
        # Each at most two rows: the pane does not scroll, and a value of
        # thousands of characters hid the others (diff trial); e shows it all.
        most = 2 * max(width - 4, 20)
        values = [value if value.cell_length <= most else Content.assemble(
            value.truncate(most - 30), ("… (cut here; e shows it whole)", "$text-muted"))
            for value in values]
        long = sum(value.cell_length + 3 for value in values) > width - 2
        lines.extend(values) if long else lines.append(Content("   ").join(values))
        # What the key must agree with outside this file first: cut below the
        # others at 80x24, it lost its reason (trial 53).
        notes: list[str] = self.review.notes(key)
        # Below 24 rows the summary's count of the keys left out takes a row
        # (trial 55): where a removed key sat in the live file gives it back.
        if kr.new_line is None and kr.section and self.app.size.height >= 24:
            notes.append(f"In the live file it sits under “{visible(kr.section)}”.")
        twin = self.review.case_twin(key)
        if twin is not None:
            other = "template" if kr.status is Status.REMOVED else "live file"
            notes.append(f"It differs only in case from {written_key(twin)}, which only the "
                         f"{other} has: Java reads them as two keys.")
        for where in self._duplicates.get(key, []):
            notes.append(f"Set more than once in {where}; Java uses the last one.")
        if kr.merged is not None and has_placeholder(kr.merged):
            notes.append("The merged value still holds a placeholder; the stream manager "
                         "would take it literally.")
        elif kr.sample:
            notes.append("Red5 publishes this value as an example; nobody should be running "
                         "with it unless they chose to.")
        if key == NEW_DATABASE_KEY and kr.status is not Status.OVERRIDDEN:
            notes.append(NEW_DATABASE_NOTE)
        # Trial 55: "ZÃ¼rich" with no word of why read as runbook's garbling.
        utf8 = read_as_latin1(kr, self._revealed == key, typed=kr.status is not Status.OVERRIDDEN)
        if utf8 is not None:
            notes.append(f"{utf8[:1].upper()}{utf8[1:]}.")
        if kr.secret:
            notes.append("Secret: v shows it on this row until the cursor moves."
                         if self._revealed != key else "Secret shown: move away to mask it.")
        if notes:
            lines.append(Content(" ".join(notes)))
        if slim:
            lines.append(hint)
        detail.update(Content("\n").join(lines))

    def _decision_parts(self, kr: KeyReview) -> tuple[Content, Content]:
        """Where the key stands, and the letters that act on it."""
        # Only the letters that act on this key (operator trial: "a take the
        # template's value" over a placeholder, which a then refused).
        a_says = f"a {_A_SAYS[_a_does(kr)].lower()}"
        hint = " · ".join(part for part in _HINT[kr.status].format(a=a_says).split(" · ")
                          if part[:2] not in _LETTER_ACTIONS
                          or not _why_not(_LETTER_ACTIONS[part[:2]], kr))
        if kr.status is Status.NEEDS_VALUE and kr.left_blank:
            # Left blank by the template, a is a decision too (operator trial).
            hint += f" · {a_says} (as in the template)"
        if kr.reopened:
            state = Content.styled(f"! Reopened: {kr.reopened}.", "bold $text-error")
        elif not kr.decided:
            state = Content.styled("! Needs a decision.", "bold $text-error")
        elif kr.sample and not kr.acknowledged:
            state = Content.styled("? Red5's sample value: o or a keeps it if it really is "
                                   "yours, e types the real one.", "bold $text-warning")
        elif not kr.acknowledged and kr.key in self.review.carried_from:
            # The live value under the key's old name (review 57d M2): a
            # would take the template's, so o is the letter that confirms.
            was = written_key(self.review.carried_from[kr.key])
            state = Content.styled(f"? The live value of {was}: keep it with o, or type "
                                   "another with e.", "bold $text-warning")
        elif kr.blank_over_placeholder:
            # Trial 57 F15: a would refuse the template's placeholder.
            state = Content.styled("? Blank in the live file, where the new template asks for "
                                   "a value: keep it blank with o, or type one with e.",
                                   "bold $text-warning")
        elif not kr.acknowledged:  # before is_open, which counts it too
            state = Content.styled("? New default: confirm it with a, or type another with e.",
                                   "bold $text-warning")
        elif kr.is_open:
            state = Content.styled("! Still a placeholder: e types the real value.",
                                   "bold $text-error")
        elif kr.choice is not None:
            state = Content.styled(f"✓ Decided: {_CHOICE_TEXT[kr.choice]}.", "$text-success")
        elif kr.status is Status.REMOVED:
            # "Nothing to decide" read as nothing lost (trial 55).
            state = Content.styled("· Left out by default: keep it if anything still reads it.",
                                   "$text-muted")
        else:
            state = Content.styled("· Nothing to decide: the default stands.", "$text-muted")
        return state, Content.styled(hint, "$text-muted")

    def _say(self, text: str, severity: Severity = "information") -> None:
        style = {"information": "", "warning": "bold $text-warning", "error": "bold $text-error",
                 "success": "$text-success"}[severity]
        self.query_one("#review-message", Static).update(Content.styled(visible(text), style))

    # -- state helpers ---------------------------------------------------------------

    @property
    def _keys(self) -> _KeyList:
        return self.query_one("#review-keys", _KeyList)

    def _bar_open(self) -> bool:
        try:
            return bool(
                self.query_one("#review-edit-bar").display
                or self.query_one("#review-filter-bar").display
            )
        except NoMatches:  # asked before compose
            return False

    def _current_key(self) -> str | None:
        try:
            option = self._keys.highlighted_option
        except NoMatches:  # asked before compose (bindings are checked early)
            return None
        return option.id if option is not None else None

    def _open(self) -> list[str]:
        return [kr.key for kr in self.review if needs_decision(kr)]

    def _targets(self) -> str:
        names = [str(p) for p in (self.decisions_path, self.merged_path) if p is not None]
        return " and ".join(names)

    @property
    def _narrow(self) -> bool:
        """Below 100 columns the message's three rows cut a host path."""
        return self.size.width < 100

    def _write_hint(self, *, brief: bool = False) -> str:
        """What w does; `brief` for the status rows, which stay up and would
        take three rows at 80 columns for the host's path."""
        targets = self._targets()
        said = f"w writes {targets}" if targets else "w ends the review"
        if self.host_file:
            said += ("; the step then writes the merged file on the host" if brief
                     else f"; the step then writes the merged file to {self.host_file}")
        return said

    def _opening_message(self) -> str:
        result = self.review.decision_result
        if result is None:
            if self.app.size.width < _SLIM:
                # One row in a split pane, where the summary may need two
                # (keys left out, trial 55).
                return "n next key to decide · / filter · v show a secret"
            return "n goes to the next key to decide; / filters; v shows the selected secret."
        parts = [f"The decisions file was applied to {len(result.applied)} keys."]
        if result.new_changed:
            parts.append("The new template changed since it was written; look again.")
        if result.reopened:
            parts.append("Live value changed, decide again: "
                         f"{', '.join(map(written_key, result.reopened))}.")
        if result.missing_env:
            names = ", ".join(f"{written_key(k)} (${v})" for k, v in result.missing_env.items())
            parts.append(f"Secret not in the environment, decide again: {names}.")
        if result.rejected:
            parts.append("No longer fits, decide again: "
                         f"{', '.join(map(written_key, result.rejected))}.")
        return " ".join(parts)

    # -- events ----------------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#review-keys")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        # Revealing is for the one row under the cursor: moving on masks it again.
        if self._revealed is not None and event.option.id != self._revealed:
            hidden, self._revealed = self._revealed, None
            self._refresh_row(hidden)
        self._leave_armed = False
        self._update_detail()
        self.refresh_bindings()
        # A longer detail shrinks the list under it: the row stays in sight
        # (re-trial 57b: a key with the bean's note scrolled out of view).
        self._keep_cursor_in_view()

    @on(Input.Submitted, "#review-edit")
    def _edit_submitted(self, event: Input.Submitted) -> None:
        key = self._editing
        if key is None:
            self._close_bars()
            return
        refused = self.query_one("#review-edit-refused", Static)
        if event.value == "" and self.review[key].status is Status.NEEDS_VALUE \
                and not self._blank_armed:
            self._blank_armed = True
            refused.update(Content.styled("Empty: the merged file would leave this key blank, "
                                          "though it needs a value. Enter again leaves it "
                                          "blank; or type its value, or Esc.",
                                          "bold $text-warning"))
            refused.display = True
            return
        self._blank_armed = False
        was_open = needs_decision(self.review[key])
        try:
            self.review.set_value(key, event.value)
        except DecisionError as exc:
            refused.update(Content.styled(visible(f"{exc}. Mend it, or Esc leaves the key as it "
                                                  "was."), "bold $text-warning"))
            refused.display = True
            return
        self._close_bars()
        shown = written_key(key)
        self._decided(key, f"{shown}: the merged file takes the value you typed." if event.value
                      else f"{shown}: the merged file leaves it blank.", was_open)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # Clicking back into the list abandons an edit (and keeps a filter), rather than
        # leaving a bar open that holds back every other key. Focus merely leaving the
        # input (the terminal losing focus while the operator copies a value) does not.
        if event.widget is self._keys and self._bar_open():
            self._close_bars()

    @on(Input.Changed, "#review-edit")
    def _edit_changed(self) -> None:
        self._blank_armed = False  # an Enter said of another line than this one

    @on(Input.Changed, "#review-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filter = event.value.strip()
        self._rebuild()

    @on(Input.Submitted, "#review-filter")
    def _filter_submitted(self) -> None:
        self._close_bars()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the row keys while a bar is open; grey out those that do not fit the key."""
        bar_open = self._bar_open()
        if action == "close_bar":
            return bar_open
        if action not in self._ROW_ACTIONS:
            return True
        if bar_open:
            return False
        key = self._current_key()
        kr = self.review[key] if key is not None else None
        # Greyed out where there is room; below 100 columns a key that does not
        # fit the row leaves the footer, or / Filter never showed (trial).
        not_here = None if self.size.width >= 100 else False
        if action in self._ROW_KEYS.values() and (kr is None or _why_not(action, kr)):
            return not_here
        return True

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, with a's label what a does on this row (_a_does, the
        rule action_accept_new acts by), and x and v in the footer only where
        there is room for them. Each stays one binding, its id the keymap's."""
        active = super().active_bindings
        key = self._current_key()
        does = _A_SAYS[_a_does(self.review[key] if key is not None else None)]
        wide = self.size.width >= _ROOM_FOR_EVERY_KEY
        roomy = self.size.width >= _SLIM
        for pressed, found in active.items():
            if found.node is not self:
                continue
            binding = found.binding
            if binding.action == "accept_new" and binding.description != does:
                active[pressed] = found._replace(binding=replace(binding, description=does))
            elif binding.action in ("toggle_removed", "reveal") and binding.show != wide:
                active[pressed] = found._replace(binding=replace(binding, show=wide))
            elif binding.action in ("next_open", "previous_open", "filter") \
                    and binding.show != roomy:
                # Slim, the row's own keys, w, q and ? fill the footer (trial
                # 55: "/ Fi" at 60): the summary says n, the opening message /.
                active[pressed] = found._replace(binding=replace(binding, show=roomy))
        return active

    def on_key(self, event: events.Key) -> None:
        """A row key the selected key does not take says why, where the operator
        looks: greyed out or left out of the footer, it did nothing (trial)."""
        action = self._ROW_KEYS.get(event.key)
        key = self._current_key()
        if action is None or key is None or self._bar_open():
            return
        why = _why_not(action, self.review[key])
        if why:
            event.stop()
            self._say(why, "warning")

    # -- actions ---------------------------------------------------------------------

    def _jump(self, direction: int) -> None:
        open_keys = self._open()
        if not open_keys:
            self._say(f"Nothing is left to decide; {self._write_hint(brief=self._narrow)}.",
                      "success")
            return
        order = [kr.key for kr in self.review]
        current = self._current_key()
        # Search the whole ring starting just past the cursor (or from the matching end
        # when no row is selected), so n and N always find an open key if there is one.
        start = order.index(current) if current in order else (-1 if direction > 0 else 0)
        wanted = set(open_keys)
        size = len(order)
        target = next(
            key
            for key in (order[(start + direction * step) % size] for step in range(1, size + 1))
            if key in wanted
        )
        keys = self._keys
        if self._index_of(target) is None:
            # The filter hides it; an operator asking for the next open key wants to see it.
            self._filter = ""
            self.query_one("#review-filter", Input).value = ""
            self._rebuild()
            self._say(f"The filter hid {written_key(target)}, so it was cleared.")
        else:
            self._say(f"{_count(len(open_keys), 'key')} left to decide.")
        keys.highlighted = keys.get_option_index(target)

    def action_next_open(self) -> None:
        self._jump(1)

    def action_previous_open(self) -> None:
        self._jump(-1)

    def _decide(self, key: str, decide: Callable[[], None], done: str) -> None:
        was_open = needs_decision(self.review[key])
        try:
            decide()
        except DecisionError as exc:
            self._say(str(exc), "warning")
            return
        self._decided(key, done, was_open)

    def _decided(self, key: str, done: str, was_open: bool) -> None:
        self._dirty = True
        self._unsaved.setdefault(key, was_open)
        self._leave_armed = False
        self._refresh_row(key)
        self._refresh_status()
        left = len(self._open())
        self._say(f"{done} {_count(left, 'key')} left to decide." if left
                  else f"{done} Every key is decided; {self._write_hint(brief=self._narrow)}.",
                  "success")

    def action_accept_new(self) -> None:
        """a, whatever it does on this row."""
        key = self._current_key()
        if key is None:
            return
        # What it does is what its footer label said (_a_does), one rule for both.
        does = _a_does(self.review[key])
        if does == "out":
            self._decide(key, lambda: self.review.drop_removed(key),
                         f"{written_key(key)} is left out of the merged file.")
            return
        said = {"commented": "stays commented out, as in the template",
                "blank": "is left blank, as in the template",
                "value": "takes the template's value"}[does]
        self._decide(key, lambda: self.review.accept_new(key), f"{written_key(key)} {said}.")

    def action_keep_old(self) -> None:
        key = self._current_key()
        if key is None:
            return
        self._decide(key, lambda: self.review.keep_old(key),
                     f"{written_key(key)} keeps the live value.")

    def action_toggle_removed(self) -> None:
        key = self._current_key()
        if key is None:
            return
        if self.review[key].merged is None:
            self._decide(key, lambda: self.review.keep_removed(key),
                         f"{written_key(key)} is kept, in a block at the end of the merged file.")
        else:
            self._decide(key, lambda: self.review.drop_removed(key),
                         f"{written_key(key)} is left out of the merged file.")

    def action_reveal(self) -> None:
        key = self._current_key()
        if key is None:
            return
        self._revealed = None if self._revealed == key else key
        self._refresh_row(key)
        self._update_detail()

    def action_edit(self) -> None:
        key = self._current_key()
        if key is None:
            return
        kr = self.review[key]
        self._editing = key
        field = self.query_one("#review-edit", Input)
        # A secret is typed blind unless the operator revealed this row first.
        field.password = kr.secret and self._revealed != key
        # Start from what the merged file would hold, unless that is only a placeholder.
        start = kr.merged if kr.merged is not None else (kr.old or "")
        # Nor from one holding control characters: raw in the field they act on
        # the terminal, and escaped they would be a different value once Enter
        # took them (the detail above shows it escaped). A no-break space or a
        # tab is no control: it stays (review).
        controls = any(unicodedata.category(c) == "Cc" and c != "\t" for c in start)
        field.value = "" if has_placeholder(start) or controls else start
        self.query_one("#review-edit-label", Label).update(f"{written_key(key)} =")
        self.query_one("#review-edit-bar").display = True
        field.focus()
        field.action_end()
        self._say(("The value holds control characters, shown escaped above: type the whole "
                   "new one. " if controls else "") +
                  "Enter puts this value in the merged file; Esc leaves the key as it was.")
        self.refresh_bindings()
        self._keep_cursor_in_view()

    def action_keys(self) -> None:
        """? shows Textual's keys panel, and hides it again."""
        if self.query(HelpPanel):
            self.app.action_hide_help_panel()
        else:
            self.app.action_show_help_panel()

    @on(_KeyList.Resized)
    def _fit_the_list(self) -> None:
        """The keys panel (?) takes a third of the width from the list, or gives
        it back: rows laid out for the other width ran on to a second line."""
        if self._set_widths(self._keys.outer_size.width):
            self._rebuild()

    def action_filter(self) -> None:
        self.query_one("#review-filter-bar").display = True
        self.query_one("#review-filter", Input).focus()
        self.refresh_bindings()
        self._keep_cursor_in_view()

    def action_close_bar(self) -> None:
        if self.query_one("#review-filter-bar").display:
            self._filter = ""
            self.query_one("#review-filter", Input).value = ""
            self._rebuild()
        self._close_bars()

    def _close_bars(self) -> None:
        self._editing = None
        self._blank_armed = False
        self.query_one("#review-edit-bar").display = False
        self.query_one("#review-edit-refused").display = False
        self.query_one("#review-filter-bar").display = False
        edit = self.query_one("#review-edit", Input)
        edit.value = ""  # a typed secret should not linger in a hidden widget
        self.query_one("#review-keys").focus()
        self.refresh_bindings()

    def action_write(self) -> None:
        """Write the decisions file and the merged file; with keys still open, save the
        decisions so far (open keys stay open in the file) and keep reviewing, so a
        review can be finished in another sitting. The merged file waits for the end."""
        # What w says takes the place of q's warning, so the next q warns
        # again (review: after a refused w, q left at once, unwarned).
        self._leave_armed = False
        open_keys = self._open()
        named = ", ".join(map(written_key, open_keys[:_SHOWN_IN_MESSAGE]))
        if len(open_keys) > _SHOWN_IN_MESSAGE:
            named += f" and {len(open_keys) - _SHOWN_IN_MESSAGE} more"
        if open_keys and self.decisions_path is None:
            self._say(f"Not written: {_count(len(open_keys), 'key')} still open; n goes to "
                      f"the next one, and {self._how_to_keep()} would save an unfinished "
                      f"review. Open: {named}.", "error")
            return
        written: list[str] = []
        if self._decisions_writer is not None:
            if not self._save_decisions(self._decisions_writer):
                return
            self._unsaved.clear()
            if open_keys:
                written.append(f"wrote the decisions so far to {self.decisions_path}; "
                               f"still open: {named}")
                self._keep_report(written)
                self._dirty = False
                # How to go on first: the message has three rows, and a long
                # path or the keys' names cut the rest (operator trial).
                if self.size.width < _SLIM:
                    # Three rows of 58 columns: the keys are the list's "!"
                    # rows, which n finds (trial 55: the path was cut).
                    self._say(f"{_count(len(open_keys), 'key')} still open (n goes to them); "
                              f"saved so far. {self._taken_up_again(slim=True)} Saved to "
                              f"{self.decisions_path}.", "warning")
                    return
                self._say(f"Saved the decisions so far; {_count(len(open_keys), 'key')} still "
                          f"open. {self._taken_up_again()} Saved to "
                          f"{self.decisions_path}; open: {named}.", "warning")
                return
            written.append(f"wrote the decisions to {self.decisions_path}")
            self._dirty = False
        merged = self._merged_writer.write() if self._merged_writer is not None else None
        if isinstance(merged, Refused):
            if merged.changed:
                # Merged from the file as it was read, it would undo the change
                # (diff trial: a rotated database password went back to the old).
                # The decisions are kept (second review: refused first, they were lost).
                kept = f"The decisions are saved to {self.decisions_path}; " \
                    if self.decisions_path is not None else ""
                self._say(f"Merged file not written: {merged.why}, so it would not hold what "
                          f"that says now. {kept}q q leaves, and the same command reviews the "
                          "files afresh.", "error")
            else:
                self._say(f"Not written: {merged.why}", "error")
            self._keep_report(written)  # the decisions file, if any, is written
            return
        if merged is not None:
            written.append(merged_written(self.review, merged.path))
        self._keep_report(written)
        self._dirty = False
        self._unsaved.clear()  # every one is in the merged file
        self.dismiss(True)

    def _how_to_keep(self) -> str:
        """Where a decisions file is named, to keep an unfinished review."""
        return "[properties] decisions in the config" if self.in_run else "--decisions FILE"

    def _taken_up_again(self, *, slim: bool = False) -> str:
        """How a review saved with keys open goes on: in a run, the step waits
        for it (trial 55: `runbook diff`'s words were said there)."""
        if self.in_run:
            if self.throwaway:
                return ("q leaves, and the step waits: trying it again takes the review up. "
                        "This rehearsal's sandbox goes as it ends: after that, rehearse again.")
            return ("q leaves, and the step waits: trying it again or a resumed run takes "
                    "the review up.")
        if slim:
            waits = "; the merged file waits" if self.merged_path else ""
            return f"q leaves, and the same command takes the review up again{waits}."
        merged = "The merged file is written once none is; " if self.merged_path else ""
        return f"{merged}q leaves, and the same command takes the review up again."

    def _save_decisions(self, writer: DecisionsWriter) -> bool:
        """Write the decisions file; what stopped it, if anything, is said."""
        result = writer.write()
        if not isinstance(result, Refused):
            return True
        if result.changed:
            # Another hand's edit made meanwhile (trial): w again writes over
            # the change it was told of, and only that one (the writer's rule).
            afresh = "trying the step again" if self.in_run else "the same command"
            self._say(f"Not written: {result.why} (another edit?). Every decision here would "
                      f"replace what it says now: w again writes over it; q q leaves, and "
                      f"{afresh} reads it afresh.", "warning")
        else:
            self._say(f"Not written: {result.why}", "error")
        return False

    def _keep_report(self, written: list[str]) -> None:
        """What was written, and each secret's variable, to say on stderr once
        the editor has closed."""
        for key, env in self.env_needed:
            written.append(f"{written_key(key)} is a secret, so the decisions file names ${env} "
                           f"instead of the value: export {env} before the runbook reads it")
        self.written = written

    def action_leave(self) -> None:
        """Leave; what leaving would drop is said first, and a second q leaves."""
        unwritten = self._what_leaving_drops()
        if unwritten is not None and not self._leave_armed:
            self._leave_armed = True
            self._say(unwritten, "warning")
            return
        if self._dirty and self.decisions_path is not None:
            self.left_unwritten = True
            self.written.append(f"left without writing the decisions taken since the last w "
                                f"to {self.decisions_path}")
        if self.merged_unwritten:
            self.written.append(f"the merged file {self.merged_path} was not written")
        self.dismiss(not self._open() and not self.merged_unwritten)

    def left_open(self) -> tuple[list[str], list[str]]:
        """The keys still to decide as leaving now leaves them, and of those,
        the ones decided here but written nowhere: the same command opens with
        them open again."""
        unwritten = [key for key, was_open in self._unsaved.items()
                     if was_open and not needs_decision(self.review[key])]
        return [*self._open(), *unwritten], unwritten

    def _what_leaving_drops(self) -> str | None:
        if self._dirty and (self.decisions_path or self.merged_path):
            return ("Your decisions are not written yet: q again leaves without writing them, "
                    "w writes them.")
        if self._dirty:
            # Nowhere to keep them (operator trial: a whole review gone in silence).
            started = "the config names no decisions file ([properties] decisions)" \
                if self.in_run else "it was started without --decisions FILE"
            return (f"This review keeps nothing: {started}. "
                    "q again leaves and drops the decisions taken.")
        if self.merged_unwritten and not self._open():
            # The decisions are written; the merged file is what is missing
            # (operator trial: this said the decisions were not written).
            return (f"The merged file {self.merged_path} is not written: w writes it, "
                    "q again leaves without it.")
        return None
