"""Colour in plain-text output (headless runs, ``runbook diff --check``), only where it helps.

Colour goes to a terminal and nowhere else: a file, a pipe or a CI log gets plain text.
``NO_COLOR`` set to anything (https://no-color.org) and ``TERM=dumb`` turn it off too.
Colour never carries meaning alone; every coloured word is readable without it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, TextIO

Style = Literal["bold", "dim", "red", "green", "yellow"]
_CODES: dict[Style, str] = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33"}


def wanted(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether text written to ``stream`` may be coloured."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", "") != "" or env.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # no fileno, or closed
        return False


class Painter:
    """``paint(text, "bold", "red")``: the text in those styles, or as it is when off."""

    def __init__(self, on: bool) -> None:
        self.on = on

    @classmethod
    def for_stream(cls, stream: TextIO) -> Painter:
        return cls(wanted(stream))

    def __call__(self, text: str, *styles: Style) -> str:
        if not self.on or not styles or not text:
            return text
        return f"\x1b[{';'.join(_CODES[s] for s in styles)}m{text}\x1b[0m"


PLAIN = Painter(False)
