"""How engine facts look on screen: glyphs, words, colours, durations, rows.

Pure functions over engine data, no widgets, so the looks can be checked
without an app and every widget renders a state the same way. Every state
gets a glyph AND a word AND a colour: the glyph and the word must carry the
meaning alone on a terminal without colour or for a colour-blind operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeGuard

from rich.cells import cell_len
from textual.content import Content

from runbook.model import (
    UNDONE_WORD,
    Action,
    ApiCall,
    EditFile,
    Note,
    Shell,
    StepState,
    Upload,
    Wait,
    when_and_why,
)
from runbook.model import duration as said_duration

# The checklist's phase headings, as they read before the run says otherwise
# (screens.views.group_titles).
GROUPS = {
    "prepare": "PREPARE · the live system keeps running",
    "cutover": "CUTOVER · downtime from its first change",
    # Once the stream manager is down, also when the operator chooses it (r).
    "rollback": "ROLLBACK · if a step fails, or press r",
}
# Once the upgrade is done, its rows stay pending (none of them ran), which
# would read as work left.
NOT_NEEDED = "ROLLBACK · not needed: the upgrade is done"
# Once the way back is done: it no longer waits on a failure.
WENT_BACK = "ROLLBACK · done: the old release serves again"
# Once the run has ended after its cutover began, whichever way: the live
# system of the prepare heading is no longer the one it meant.
PREPARED = "PREPARE · before the cutover"
UPGRADED = "CUTOVER · done: the new release serves"
UNDONE_CUTOVER = "CUTOVER · undone by the way back"
# ... where a step it undoes only in part (recreate: rollback-nodegroups
# deletes its nodegroups, its launch configs and scale policies stay) ran: its
# row reads part undone (operator trial: the heading said all of it undone;
# trial 54: "undid all but recreate", beside the report's "partly undone").
UNDONE_BUT = "CUTOVER · the way back undid it, {steps} partly"
# ... or where it could not undo that step at all (rollback-nodegroups could
# not delete recreate's nodegroups: trial 54, F9).
UNDONE_ALL_BUT = "CUTOVER · the way back undid all but {steps}"

# A state the engine does not have: the executor is waiting for the operator
# to confirm this step. It is the answer to "where am I", so it gets a row look.
NEXT = "next"
# Nor this one: done, but the step said something the operator must read.
WARNED = "warned"
# Once the run has ended, a cutover step the way back undid, and a step the
# run will never come to: "done" and "pending" read as the host's state and
# as work left, both false by then (operator trial, stop 38).
UNDONE = "undone"
NOT_RUN = "not-run"
# ... and one the way back undoes only in part (it deletes recreate's
# nodegroups; the launch configs and scale policies recreate made stay in the
# new database), done or left in doubt: "in doubt" read as a step to try again
# (operator trial), "not undone" and "done" as if its nodegroups were still
# there (trial 54, F7). As the headless summary and the report say it.
PART_UNDONE = "part-undone"
# ... or none of it, where the way back could not (its first step could not
# delete recreate's nodegroups: trial 54, F9, as the summary and report say).
NOT_UNDONE = "not-undone"
# A step done that did nothing: its check found its outcome in place (operator
# trial 53: the way back's "Stop the new release" read done, having stopped
# nothing). Its glyph is done's, as the outcome is in place; muted, and its
# word says so, as the headless summary does.
ALREADY = "already"
# Once the way back has ended: a cutover step it found none of the work of to
# put back (service-unit, where it had not replaced the unit), as the summary
# and the report say it, not undone (review 58c, 4). Done's glyph, muted, as
# what it did is in place, and named by its word, as already done is.
NOTHING_TO_UNDO = "nothing-to-undo"


@dataclass(frozen=True)
class Look:
    """How a step state is drawn: its glyph, its word and its style."""
    glyph: str
    word: str
    style: str


LOOKS: dict[str, Look] = {
    StepState.PENDING.value: Look("·", StepState.PENDING.words, "$text-muted"),
    NEXT: Look("▶", "your turn", "bold $accent"),
    StepState.RUNNING.value: Look("●", StepState.RUNNING.words, "bold $warning"),
    StepState.DONE.value: Look("✓", StepState.DONE.words, "$success"),
    ALREADY: Look("✓", "already done", "$text-muted"),
    WARNED: Look("⚠", "warnings", "bold $warning"),
    StepState.FAILED.value: Look("✗", StepState.FAILED.words, "bold $error"),
    StepState.SKIPPED.value: Look("»", StepState.SKIPPED.words, "$text-muted italic"),
    StepState.NEEDS_REVIEW.value: Look("?", StepState.NEEDS_REVIEW.words, "bold $warning"),
    StepState.IN_DOUBT.value: Look("!", StepState.IN_DOUBT.words, "bold $error"),
    UNDONE: Look("↺", UNDONE_WORD, "$text-muted"),
    NOT_RUN: Look("–", "not run", "$text-muted"),
    PART_UNDONE: Look("◐", "part undone", "$warning"),
    NOT_UNDONE: Look("≠", "not undone", "$warning"),
    NOTHING_TO_UNDO: Look("✓", "none to undo", "$text-muted"),
}

TITLE_WIDTH = 34
WORD_WIDTH = max(len(look.word) for look in LOOKS.values())
ELAPSED_WIDTH = 6


def look(state: str, undone_word: str = LOOKS[UNDONE].word) -> Look:
    """How a state is drawn; `undone_word`: what the step's card says the way
    back did with its work, where not simply undo it (delete-nodegroups':
    "recreated", operator trial)."""
    shown = LOOKS.get(state, LOOKS[StepState.PENDING.value])
    return replace(shown, word=undone_word) if state == UNDONE else shown


def duration(seconds: float | None) -> str:
    """A row's time (runbook.model.duration); nothing before it has one."""
    return "" if seconds is None else said_duration(seconds)


def clock(seconds: float | None) -> str:
    """HH:MM:SS for the header clocks; a dash before the clock has started."""
    if seconds is None:
        return "--:--:--"
    whole = max(0, int(seconds))
    return f"{whole // 3600:02d}:{(whole % 3600) // 60:02d}:{whole % 60:02d}"


def fit(text: str, width: int) -> str:
    """Pad or cut to exactly `width` cells, with an ellipsis when cut."""
    if cell_len(text) <= width:
        return text + " " * (width - cell_len(text))
    cut = text
    while cell_len(cut) > width - 1:
        cut = cut[:-1]
    return cut + "…"


def title_lines(title: str, width: int = TITLE_WIDTH) -> tuple[str, str]:
    """A step's title as its row's first line and what goes on under it: cut
    at the last space that leaves the first line within `width` (operator
    trial: "Recreate nodegroups on the old da…" at 120 columns)."""
    if cell_len(title) <= width:
        return title, ""
    cut = title.rfind(" ", 0, width + 1)
    if cut <= 0:
        return title, ""  # one word: fit() cuts it
    return title[:cut], title[cut + 1:]


def step_row(number: int, title: str, state: str, elapsed: float | None, *,
             word: bool = True, time: bool = True,
             undone_word: str = LOOKS[UNDONE].word) -> Content:
    """A checklist row; without `word`, the state shows by its glyph alone;
    without `time`, the row leaves out how long the step took (a checklist
    too narrow for it). A title longer than its column goes on under itself,
    the row two lines."""
    shown = look(state, undone_word)
    title_style = "bold" if state in (NEXT, StepState.RUNNING.value) else ""
    said: list[str | tuple[str, str]] = [(fit(shown.word, WORD_WIDTH), shown.style)] \
        if word else []
    if word and time:
        said.append(" ")
    first, rest = title_lines(title)
    row = Content.assemble(
        (f"{number:>2} ", "$text-muted"),
        (f"{shown.glyph} ", shown.style),
        (fit(first, TITLE_WIDTH), title_style),
        " ",
        *said,
        (f"{duration(elapsed):>{ELAPSED_WIDTH}}", "$text-muted") if time else "",
    )
    if not rest:
        return row
    return Content.assemble(row, "\n", " " * 5, (fit(rest, TITLE_WIDTH).rstrip(), title_style))


def row_width(*, word: bool = True, time: bool = True) -> int:
    """The cells a checklist row's first line takes (every row the same)."""
    return step_row(0, "", StepState.PENDING.value, None, word=word, time=time).cell_length


# The looks only a run under way gives a row, and those only a run that ended
# upgraded or back gives (screens.run_state.RunState.shown_state). A step in
# doubt at such an end is undone, or not undone, by then.
_WHILE_RUNNING = (NEXT, StepState.RUNNING.value, StepState.IN_DOUBT.value)
_ONCE_ENDED = (UNDONE, NOT_RUN, PART_UNDONE, NOT_UNDONE, NOTHING_TO_UNDO)


def legend(per_row: int = 5, *, ended: bool = False,
           undone_words: Sequence[str] = (), not_undone: bool = False) -> Content:
    """Every look a row can have now in one place, for the operator who has
    not learnt them yet: `per_row` of them to a row (3 where the checklist is
    narrow); `ended`: the run ended upgraded or back. As many looks either
    way, so the legend keeps its height at the end. `undone_words`: what
    rows drawn undone say the way back did besides undo (recreated): a row
    of its glyph alone is named by this (second review). `not_undone`: a row
    reads not undone."""
    left_out = _WHILE_RUNNING if ended else _ONCE_ENDED
    parts: list[Content | str | tuple[str, str]] = []
    undone = "/".join(dict.fromkeys([LOOKS[UNDONE].word, *undone_words]))
    # Already done is done's glyph, named by the row's word and the step's
    # detail: the legend keeps its height (a row more at 100x30 hid one).
    # Not undone is rare (the way back's first step failed): named where a
    # row shows it (trial 58, L1: its glyph alone was not), in part undone's
    # place, as only recreate is undone in part or not at all.
    dropped = PART_UNDONE if not_undone else NOT_UNDONE
    shown_looks = [replace(shown, word=undone) if state == UNDONE else shown
                   for state, shown in LOOKS.items()
                   if state not in left_out
                   and state not in (ALREADY, NOTHING_TO_UNDO, dropped)]
    for number, shown in enumerate(shown_looks, start=1):
        parts += [(shown.glyph, shown.style), " ", (shown.word, shown.style)]
        parts.append("\n" if number % per_row == 0 else "   ")
    return Content.assemble(*parts).rstrip()


# --- plans -------------------------------------------------------------------------

_KIND = {
    Shell: ("shell", "$text-muted"),
    Upload: ("upload", "$text-accent"),
    ApiCall: ("api", "$text-primary"),
    EditFile: ("edit", "$text-warning"),
    Wait: ("wait", "$text-muted"),
    Note: ("note", "$text-muted"),
}


# A unified diff's lines by their first character, as diff tools colour them:
# what goes, what comes, and where in the file (muted: it is not content).
_DIFF_STYLES = {"-": "$text-error", "+": "$text-success", "@": "$text-muted"}
# The markers a wrapped diff line keeps on its continuation rows (screens.wrap).
DIFF_MARKS = "-+"


def is_diff(action: Action) -> TypeGuard[EditFile]:
    """A file edit whose detail is a unified diff (carry-over's), not a summary
    (the properties step's review): only a diff's lines are told by a marker."""
    return isinstance(action, EditFile) and action.detail.startswith("--- ") \
        and "\n+++ " in action.detail


def diff_content(diff: str) -> Content:
    """A unified diff with each line in its marker's colour; the two file
    names at the top in bold, as headings rather than a removal and an addition."""
    lines = diff.split("\n")
    return Content("\n").join(
        Content.styled(line, "bold" if number < 2 and line.startswith(("--- ", "+++ "))
                       else _DIFF_STYLES.get(line[:1], ""))
        for number, line in enumerate(lines))


def action_content(action: Action) -> Content:
    """One action exactly as the engine renders it (already masked), with a small
    label saying what kind of thing it is."""
    kind, style = _KIND.get(type(action), ("", "$text-muted"))
    if is_diff(action):
        # The same text as render(): what is shown is what runs.
        head = action.render().partition("\n")[0]
        return Content.assemble((f"[{kind}] ", style), head, "\n", diff_content(action.detail))
    # A note's label says it is one ("[note] note: ..." said it twice).
    shown = action.text if isinstance(action, Note) else action.render()
    # Only the label is coloured: the command itself must read clearly. What
    # it is for, and when it runs if not always, goes above it (trial: a
    # restart "only if the API never answered" read as one that always ran).
    line = Content.assemble((f"[{kind}] ", style), shown)
    why = when_and_why(action)
    return Content.assemble((f"# {why}", "$text-muted italic"), "\n", line) if why else line


def copyable(plan: list[Action]) -> str:
    """A plan as lines to paste into a shell: commands and curl lines as they
    are (secrets masked: the token is read from its variable), the rest as
    comments, so pasting the whole block runs nothing it did not show."""
    lines: list[str] = []
    for action in plan:
        if why := when_and_why(action):
            lines.append(f"# {why}")
        if isinstance(action, Shell):
            lines.append(action.command)
        elif isinstance(action, ApiCall):
            lines.append(action.curl)
        else:
            lines += [f"# {line}" for line in action.render().splitlines()]
    return "\n".join(lines)


# --- output ------------------------------------------------------------------------

# A two-cell gutter tells the streams apart in the text itself (copyable, and
# readable without colour); the output pane colours lines by the same gutter.
GUTTER = {"cmd": "$ ", "out": "  ", "err": "! ", "info": "* "}
STREAM_OF_GUTTER = {mark: stream for stream, mark in GUTTER.items()}


def output_lines(stream: str, line: str) -> list[str]:
    mark = GUTTER.get(stream, "  ")
    # Shell actions already render as "$ command": keep one dollar, not two.
    if stream == "cmd" and line.startswith("$ "):
        line = line[2:]
    return [mark + part for part in line.splitlines() or [""]]
