"""Where a line may break on screen: between words, and in a long command or URL
after a path or query separator; never inside a word if a row can hold it, and
never inside a secret mask (``•••••• [0a1b2c3d]`` has a space in it, and half of
one on each row reads like two different things).

Pure functions over plain text and Content; the widgets that wrap (plan rows,
the output pane, the full log) all break lines here, so they all agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from rich.cells import cell_len, get_character_cell_size
from textual.content import Content

from runbook.redact import MASK

# A mask with its fingerprint, or a bare one (an empty value's, a plan's).
_MASKED = re.compile(re.escape(MASK) + r"(?: \[[0-9a-f]{8}\])?")
# A row may end after: a run of spaces; a path, query or list separator; a
# hyphen inside a name (a-long-nodegroup-name), not an option's (-sS, --to).
_BREAK_AFTER = re.compile(r"\s+|[/?&=,;|](?=[^\s/?&=,;|])|(?<=[A-Za-z0-9])-(?=[A-Za-z0-9])")


def breaks(text: str, width: int, *, indent: int = 0, whole: Sequence[str] = ()) -> list[int]:
    """Offsets in `text` where a new row starts so that every row fits `width`
    cells, continuation rows being `indent` cells narrower (they are indented).
    Each of `whole` (a file's name, say) is kept on one row where a row holds it."""
    width = max(1, width)
    if (len(text) <= width and text.isascii()) or cell_len(text) <= width:
        return []
    return list(_breaks(text, width, max(1, width - indent), whole))


def _breaks(text: str, first: int, rest: int, whole: Sequence[str] = ()) -> list[int]:
    masks = [m.span() for m in _MASKED.finditer(text)] if MASK[0] in text else []
    # A name kept whole is no place to break, like a mask (operator trial 57,
    # F4: the journal's name broken mid-timestamp, "...T18" / "0751Z.jsonl").
    masks += [m.span() for word in whole if word and cell_len(word) <= rest
              for m in re.finditer(re.escape(word), text)]
    allowed = [m.end() for m in _BREAK_AFTER.finditer(text)
               if m.end() < len(text) and not any(a < m.end() < b for a, b in masks)]
    pieces = zip([0, *allowed], [*allowed, len(text)], strict=True)
    cuts: list[int] = []
    room, used = first, 0
    for start, end in pieces:
        piece = text[start:end]
        size = cell_len(piece)
        # Spaces at the end of a row take no room: they are not drawn.
        if used + cell_len(piece.rstrip()) <= room:
            used += size
            continue
        if used:
            cuts.append(start)
            room, used = rest, 0
        if cell_len(piece.rstrip()) <= room:
            used = size
            continue
        # One piece wider than a row (a hash, a long token): folded, as a last
        # resort, and still not inside a mask (that row runs over instead). A
        # dotted name (a Java class) folds after its last dot on the row when
        # that keeps at least half the row: `...sample.` / `component.Dummy...`,
        # not `...sample.c` / `omponent...`.
        offset, row_start, after_dot = start, start, None
        body = piece.rstrip()  # its trailing spaces take no room at a row's end
        for char in body:
            step = get_character_cell_size(char)
            if used + step > room and used and not any(a < offset < b for a, b in masks):
                cut = offset
                if after_dot is not None and after_dot > row_start \
                        and cell_len(text[row_start:after_dot]) * 2 >= room \
                        and cell_len(text[after_dot:offset]) < rest:
                    cut = after_dot
                cuts.append(cut)
                room, used, row_start, after_dot = rest, cell_len(text[cut:offset]), cut, None
            used += step
            offset += 1
            if char == ".":
                after_dot = offset
        used += size - cell_len(body)
    return cuts


def wrap_text(text: str, width: int, *, indent: int = 0) -> list[str]:
    """`text` as rows of at most `width` cells; continuation rows start with
    `indent` spaces."""
    cuts = breaks(text, width, indent=indent)
    if not cuts:
        return [text]
    edges = [0, *cuts, len(text)]
    pad = " " * indent
    rows = [text[a:b].rstrip() for a, b in pairwise(edges)]
    return [rows[0], *(pad + row for row in rows[1:])]


# Where Textual puts a tab stop when it draws a row.
TAB = 8


def wrap_content(content: Content, width: int, *, indent: int = 0,
                 hang: bool = False, marks: str = "", whole: Sequence[str] = ()
                 ) -> list[Content]:
    """Styled text as rows, broken where `wrap_text` breaks the plain text. A
    line after a newline starts a paragraph at the left, or, with `hang`, is
    indented like a continuation (a file edit's diff under its action).

    With `marks` (a diff's ``-+``) the hung lines are a diff's: each begins
    with its marker, and its continuation rows repeat a marker in `marks`, in
    its style, then start past the line's own indentation and two more. A
    removed line's tail with only spaces before it read as context; under the
    line's text it would read as a line of its own."""
    pad = Content(" " * indent)
    rows: list[Content] = []
    for number, line in enumerate(content.split("\n", allow_blank=True)):
        hung = bool(number and hang)
        line = pad + line if hung else line
        if "\t" in line.plain:
            # As wide as Textual draws it: cell_len counts a tab as no cell, so
            # a row of XML indented with tabs ran over, and Textual broke it
            # again at the widget's left edge, before any indent or marker.
            line = line.expand_tabs(TAB)
        if hung and marks and len(line.plain) > indent:
            marker = line[indent:indent + 1] if line.plain[indent] in marks else Content(" ")
            body = line.plain[indent + 1:]
            own = len(body) - len(body.lstrip(" "))
            # Never more than half the room past the marker: a deep line must
            # keep room for its text.
            under = min(own + 2, (width - indent - 1) // 2)
            lead = pad + marker + " " * max(0, under)
            # Broken in its text only: a break in the pad or the line's own
            # indentation left the line's row empty and its text on the next,
            # behind the marker twice (`-  -AAA…`).
            head = indent + 1 + own
            first = width - head
            cuts = [head + cut for cut in
                    breaks(line.plain[head:], first, indent=first - (width - lead.cell_length),
                           whole=whole)
                    ] if first > 0 else breaks(line.plain, width, indent=lead.cell_length,
                                               whole=whole)
        else:
            lead = pad
            cuts = breaks(line.plain, width, indent=indent, whole=whole)
        pieces = [piece.rstrip() for piece in line.divide(cuts)] if cuts else [line]
        rows += [pieces[0], *(lead + piece for piece in pieces[1:])]
    return rows
