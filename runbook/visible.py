"""Text from a host or a file as a terminal can show it without acting on it."""

from __future__ import annotations


def visible(text: str, keep: str = "") -> str:
    """`text` with every character that is not printable, except those in
    `keep`, as a Python-style escape (\\uXXXX, \\UXXXXXXXX beyond the basic
    plane): C0 and C1 controls, DEL, the line and paragraph separators,
    zero-width and direction marks. Raw, ESC [2J clears the screen, OSC 52
    sets the clipboard, U+009B starts an escape sequence on some terminals,
    and U+202E turns the rest of the line around; a UTF-8 file read as
    Latin-1, as Java reads it, holds C1 characters (the euro sign's 0x82)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else _escape(c) for c in text)


def visible_json(document: str) -> str:
    """A JSON document with the same characters escaped the JSON way (a pair
    of surrogates beyond the basic plane): it means the same, and shows safely."""
    return "\n".join(line if line.isprintable() else "".join(
        c if c.isprintable() else _json_escape(c) for c in line)
        for line in document.split("\n"))


def _escape(c: str) -> str:
    n = ord(c)
    return f"\\U{n:08x}" if n > 0xFFFF else f"\\u{n:04x}"


def _json_escape(c: str) -> str:
    n = ord(c)
    if n <= 0xFFFF:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"


def printable(text: str) -> str:
    """What the host said as a reader's terminal can show it: its tabs and
    line breaks kept, every other control character (a terminal escape) as
    an escape."""
    return visible(text, keep="\t\n")
