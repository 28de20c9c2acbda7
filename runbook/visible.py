"""Text from a host or a file as a terminal can show it without acting on it."""

from __future__ import annotations


def visible(text: str, keep: str = "") -> str:
    """`text` with every character that is not printable, except those in
    `keep`, as a \\uXXXX escape: C0 and C1 controls, DEL, the line and
    paragraph separators, zero-width ones. Raw, ESC [2J clears the screen,
    OSC 52 sets the clipboard, and U+009B starts an escape sequence on some
    terminals; a UTF-8 file read as Latin-1, as Java reads it, holds C1
    characters (the euro sign's 0x82)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else f"\\u{ord(c):04x}" for c in text)
