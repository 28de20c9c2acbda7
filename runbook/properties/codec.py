"""red5-web.properties as bytes, text and parsed lines: reading, parsing, writing back.

Everything here is about the file itself, not about what a key's change means: decoding
the bytes the way Java does, refusing files Java would read differently than we would,
parsing (on javaproperties) into the elements and key positions the review needs,
rewriting one entry's value without touching the rest of its line, and replacing a file
atomically. It sits at the bottom of :mod:`runbook.properties` and imports nothing else
from it, so the review model, the decisions file and the report can all build on it.

Parsing is javaproperties' job; this module only looks at the elements it yields
(``KeyValue``, ``Comment``, ``Whitespace``, each with its exact source text), so the
merged file can reuse every untouched line byte for byte.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

import javaproperties
from javaproperties import Comment, InvalidUEscapeError, KeyValue, PropertiesElement

# The parser's own patterns (javaproperties is pinned below 0.9 in pyproject.toml). Using
# them to split an already-parsed entry into key text and separator guarantees the split
# agrees with how javaproperties read that entry, which a regex of our own would not.
from javaproperties.reading import ESCAPE_RGX, SEPARATOR_RGX
from javaproperties.util import CONTINUED_RGX, ascii_splitlines

from runbook.visible import visible
from runbook.wholefile import atomic_write, special_file

__all__ = [
    "Parsed",
    "PropertiesError",
    "atomic_write",
    "decode_properties",
    "dropped_escapes",
    "encode_properties",
    "has_placeholder",
    "is_placeholder",
    "line_end",
    "parse",
    "read_properties",
    "rewrite_entry",
    "sha256_text",
    "spelled_as",
    "spelled_key",
    "uncomment",
    "utf8_meant",
    "written_key",
]


def written_key(key: str) -> str:
    """A key to show, as a file spells it: its separators, spaces and backslashes
    escaped (`weird\\=key`, `my\\ odd\\:key`), or where it ends is a guess
    (operator trial: "weird=key = x"); anything a terminal cannot show, as
    visible() shows it. Keys are still matched as Java reads them, unescaped."""
    return visible(javaproperties.escape(key, ensure_ascii=False))


def spelled_key(spelling: str) -> str:
    """The key a file's spelling of it names, as Java reads it (written_key
    the other way): `weird\\=key` is weird=key, `my\\ odd\\:key` my odd:key;
    a key with no backslash is itself. Raises ValueError for a bad \\u escape."""
    return javaproperties.unescape(spelling) if "\\" in spelling else spelling


# What follows a backslash that means something in a file: an escape unescape
# decodes (\t \n \f \r \uXXXX \\), or a character escape() writes so that it
# is the key's own (space : = # !). Before any other, the backslash is dropped.
_MEANT_ESCAPES = frozenset("tnfru\\ :=#!")


def dropped_escapes(spelling: str) -> list[str]:
    """The characters of a key's spelling whose backslash a properties file
    drops, as Java reads an escape it does not know (`a\\b` is the key ab):
    most likely a backslash meant (review), so a spelling is refused with them."""
    return [found.group(1)[0] for found in ESCAPE_RGX.finditer(spelling)
            if found.group(1)[0] not in _MEANT_ESCAPES]


def spelled_as(spelling: str, dropped: str) -> str:
    """`spelling` with the escapes dropped_escapes names written `dropped`
    and the character (`\\` keeps the backslash, "" lets it go); the others as
    they are."""
    return ESCAPE_RGX.sub(lambda found: found.group(0) if found.group(1)[0] in _MEANT_ESCAPES
                          else dropped + found.group(1), spelling)


class PropertiesError(ValueError):
    """A properties file the review cannot trust. ``str()`` is one line: file, line, remedy."""


# `{host}`, `{node api security token}`: the shipped templates mark values nobody has
# filled in with braces, around words alone. `${...}` and `#{...}` are excluded on
# purpose: Spring resolves them at runtime, so they are deliberate values, not blanks to
# fill; so is a JSON object, whose braces hold quotes and colons (diff trial).
_PLACEHOLDER = re.compile(r"(?<![$#])\{[^{}\"':=,]+\}")


def has_placeholder(value: str) -> bool:
    """True when a value still contains a template placeholder such as ``{host}``."""
    return _PLACEHOLDER.search(value) is not None


def is_only_placeholder(value: str) -> bool:
    """True when a value is one template placeholder and nothing else: a
    template's word for "to decide", which hides nothing even in a secret key."""
    return _PLACEHOLDER.fullmatch(value) is not None


def is_placeholder(value: str) -> bool:
    """True when nobody has decided this value: empty, or containing a placeholder."""
    return value == "" or has_placeholder(value)


# ---------------------------------------------------------------------------------------
# Reading


# Control bytes that never occur in a hand-edited text file. Tab, LF, VT, FF, CR and ESC are
# allowed; NUL (binary or UTF-16) and the rest mean somebody pointed us at the wrong file.
_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def decode_properties(data: bytes, name: str) -> str:
    """Bytes of a .properties file -> the text Java would see.

    Java's ``Properties.load(InputStream)``, which the stream manager's Spring placeholder
    configurer uses when no file encoding is set, reads every byte as ISO-8859-1. So we
    decode as Latin-1 too: for the ASCII files Red5 ships this is identical to UTF-8, and
    for anything else the values we carry over are exactly the ones the live stream
    manager runs with (a UTF-8 "é" shows up as the two characters Java sees, which is
    the truth an operator needs). Latin-1 also maps every byte to one character, so
    :func:`encode_properties` gives back the same bytes for every line we leave alone.
    Binary content is refused rather than decoded, because Latin-1 would accept it.
    So is a leading UTF-8 byte order mark: Java reads it as the three characters
    "\u00ef\u00bb\u00bf" at the start of the first line, which then is not the key
    (or comment) the operator sees in an editor that hides the mark.
    """
    if data.startswith(codecs.BOM_UTF8):
        raise PropertiesError(
            f"{name}: line 1: starts with a UTF-8 byte order mark, which Java reads as part "
            "of the first line; save the file without it (as plain UTF-8 or ASCII)"
        )
    bad = _BINARY.search(data)
    if bad is not None:
        line = _line_of_offset(data, bad.start())
        what = "a NUL byte" if data[bad.start()] == 0 else f"control byte 0x{data[bad.start()]:02x}"
        hint = " (binary data or UTF-16 text)" if data[bad.start()] == 0 else ""
        raise PropertiesError(
            f"{name}: line {line}: contains {what}{hint}, so it is not a text .properties "
            "file; point at red5-web.properties itself (save it as plain ASCII or UTF-8)"
        )
    return data.decode("latin-1")


def utf8_meant(value: str) -> tuple[str, str] | None:
    """(what `value` spells in UTF-8, how the file says that to Java) when its
    bytes beyond ASCII are UTF-8: an editor saved them so, and Java reads each
    byte as a character of its own (see :func:`decode_properties`). None for
    ASCII and for bytes that are not UTF-8."""
    if value.isascii():
        return None
    try:
        meant = value.encode("latin-1").decode("utf-8")
    except UnicodeError:  # beyond Latin-1 (a \\u escape), or not UTF-8: as Java reads it
        return None
    return meant, _escape_value(meant)


def encode_properties(text: str) -> bytes:
    """The inverse of :func:`decode_properties`.

    Text read from a file always encodes back to Latin-1. Text handed to :func:`review`
    directly may hold characters beyond Latin-1; those are written as UTF-8 rather than
    lost (values we write ourselves are always \\u-escaped ASCII, see ``_escape_value``).
    """
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def sha256_text(text: str) -> str:
    """sha256 of the file bytes this text was decoded from (see :func:`encode_properties`)."""
    return hashlib.sha256(encode_properties(text)).hexdigest()


# Red5's templates are 3 to 4 KB; a file past this is not one, and reviewing it would
# take minutes and gigabytes.
LARGEST_PROPERTIES = 1 << 20


def read_properties(path: Path | str, name: str | None = None) -> str:
    """Read a .properties file for :func:`review`; every failure is one PropertiesError line."""
    p = Path(path)
    label = name or str(p)
    if special_file(p):
        raise PropertiesError(f"{label}: is not a regular file; give the path of a "
                              "red5-web.properties file")
    try:
        size = p.stat().st_size
        if size > LARGEST_PROPERTIES:
            # Bad-input trial: 64 MB took 17 s and 1.7 GB before any word.
            mib = f"{size / (1 << 20):.1f}".removesuffix(".0") + " MiB"  # 1.5: not 1 for 1.5
            mib = f"{size:,} bytes" if mib == "1 MiB" else mib  # just over: said exactly
            # The limit said (diff trial: "is 1 MiB" read as if 1 MiB were too much).
            raise PropertiesError(f"{label}: is {mib}, over the 1 MiB runbook reads, and "
                                  "a red5-web.properties is a few KB; give the path of that file")
        data = p.read_bytes()
    except FileNotFoundError:
        raise PropertiesError(f"{label}: no such file; check the path") from None
    except IsADirectoryError:
        raise PropertiesError(
            f"{label}: is a directory; give the path of the red5-web.properties file inside it"
        ) from None
    except PermissionError:
        raise PropertiesError(
            f"{label}: permission denied; run as a user who can read it, or copy it first"
        ) from None
    except OSError as exc:
        raise PropertiesError(f"{label}: cannot be read ({exc.strerror}); check the path") from None
    return decode_properties(data, label)


def _line_breaks(text: str) -> int:
    # LF, CRLF and CR each end a line, as in javaproperties' ascii_splitlines.
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _line_of_offset(data: bytes, offset: int) -> int:
    prefix = data[:offset]
    return prefix.count(b"\n") + prefix.count(b"\r") - prefix.count(b"\r\n") + 1


# ---------------------------------------------------------------------------------------
# Parsing (on javaproperties) into what the review needs


@dataclass(slots=True)
class Parsed:
    """One file as the review sees it: its elements, and where each key stands among them."""

    name: str
    text: str
    elements: list[PropertiesElement]
    starts: list[int]  # first physical line (1-based) of each element
    # key -> (index of its last entry, its value). Java keeps the last of duplicate keys,
    # so that is the line the service reads and the line a merge changes.
    active: dict[str, tuple[int, str]]
    repeated: dict[str, list[int]]  # key -> indexes of every entry, for keys set twice or more
    commented: dict[str, tuple[int, str]]  # key -> (index, value) of its first commented line
    heading_at: list[int]  # indexes of `## ...` heading comments, ascending
    heading_text: list[str]
    eol: str

    def section(self, index: int) -> str | None:
        at = bisect_right(self.heading_at, index) - 1
        return self.heading_text[at] if at >= 0 else None


def parse(text: str, name: str) -> Parsed:
    """Parse a file's text; PropertiesError for a bad escape or a file that ends mid-entry."""
    elements: list[PropertiesElement] = []
    starts: list[int] = []
    line = 1
    lf_only = "\r" not in text  # the common case; counting one character is enough then
    try:
        for element in javaproperties.parse(text):
            elements.append(element)
            starts.append(line)
            source = element.source
            line += source.count("\n") if lf_only else _line_breaks(source)
    except InvalidUEscapeError as exc:
        # The generator fails on the entry that starts at `line`; a continued entry may
        # span several lines, so point at the one that holds the bad escape.
        bad = _find_line(text, line, exc.escape)
        raise PropertiesError(
            f"{name}: line {bad}: {exc.escape!r} is not a valid \\uXXXX escape (Java refuses "
            "the whole file); write four hex digits, or \\\\u for a literal backslash-u"
        ) from None

    if elements and not isinstance(elements[-1], Comment):
        last = elements[-1].source
        if CONTINUED_RGX.search(last):
            end = line - 1 if last.endswith(("\n", "\r")) else line
            raise PropertiesError(
                f"{name}: line {end}: the last line ends with a backslash, which continues "
                "the value onto a line that does not exist; the file may be cut short: "
                "restore it or remove that backslash"
            )

    active: dict[str, tuple[int, str]] = {}
    repeated: dict[str, list[int]] = {}
    commented: dict[str, tuple[int, str]] = {}
    heading_at: list[int] = []
    heading_text: list[str] = []
    for index, element in enumerate(elements):
        kind = type(element)
        if kind is KeyValue:
            assert isinstance(element, KeyValue)
            key = element.key
            if key in active:
                repeated.setdefault(key, [active[key][0]]).append(index)
            active[key] = (index, element.value)
        elif kind is Comment:
            body = element.source.lstrip(" \t\f")
            if body.startswith("##"):
                heading = body.strip("# \t\f\r\n")
                if heading:
                    heading_at.append(index)
                    heading_text.append(heading)
                continue
            found = _commented_entry(element)
            if found is not None and found[0] not in commented:
                commented[found[0]] = (index, found[1])
    first_break = re.search(r"\r\n|\r|\n", text)
    return Parsed(
        name=name,
        text=text,
        elements=elements,
        starts=starts,
        active=active,
        repeated=repeated,
        commented=commented,
        heading_at=heading_at,
        heading_text=heading_text,
        eol=first_break.group() if first_break else "\n",
    )


def _find_line(text: str, start: int, needle: str) -> int:
    for offset, physical in enumerate(ascii_splitlines(text)[start - 1 :]):
        if needle in physical:
            return start + offset
    return start


def _split_comment(element: PropertiesElement) -> tuple[str, str, str, str] | None:
    """A comment holding one `key=value` -> (indent, key text, separator, value text).

    Templates ship optional keys commented out (``#aws.accessKey={account-accessKey}``).
    Only comments with an explicit ``=`` or ``:`` count, so prose such as
    ``# Set this when ...`` is never mistaken for a key called "Set".
    """
    source = element.source
    indent = source[: len(source) - len(source.lstrip(" \t\f"))]
    body = source[len(indent) + 1 :].rstrip("\r\n").lstrip(" \t\f")
    if not body or body[0] in "#!":
        return None
    match = SEPARATOR_RGX.search(body)
    if match is None or not match.group(1).strip(" \t\f"):
        return None
    return indent, body[: match.start(1)], body[match.start(1) : match.end()], body[match.end() :]


def _commented_entry(element: PropertiesElement) -> tuple[str, str] | None:
    parts = _split_comment(element)
    if parts is None:
        return None
    try:
        key = javaproperties.unescape(parts[1])
        value = javaproperties.unescape(parts[3])
    except InvalidUEscapeError:
        return None  # a comment Java never reads; not worth refusing the file over
    return (key, value) if key else None


# ---------------------------------------------------------------------------------------
# Writing changed lines


def _escape_value(value: str) -> str:
    # join_key_value with an empty key and separator is javaproperties' value escaping:
    # non-ASCII becomes \uXXXX (Java reads the file as Latin-1), a leading space is kept.
    return javaproperties.join_key_value("", value, "")


def line_end(source: str) -> str:
    """The line break ``source`` ends with ("" for none), so an edit keeps the file's own."""
    for ending in ("\r\n", "\n", "\r"):
        if source.endswith(ending):
            return ending
    return ""


def spelled_value(source: str) -> str | None:
    """How a one-line entry writes its value, its escapes as they are; None
    for an entry continued over lines."""
    body = source.rstrip("\r\n")
    logical = body.lstrip(" \t\f")
    if "\n" in body or "\r" in body or CONTINUED_RGX.search(logical):
        return None
    match = SEPARATOR_RGX.search(logical)
    return "" if match is None else logical[match.end():]


def _value_text(value: str, spelled: str | None, separator: str = "=") -> str:
    """`value` as the line writes it: as `spelled` (the live file's own text
    for it) where that reads back as `value`, else escaped (diff trial: a
    carried Xk9#pass written Xk9\\#pass read as a changed password to a
    diff, and as another one to a grep). Read back after the line's own
    `separator`: after a space, a live `==start` would read as `start`."""
    if spelled is not None:
        with contextlib.suppress(InvalidUEscapeError):
            if dict(javaproperties.loads(f"k{separator}{spelled}")) == {"k": value}:
                return spelled
    return _escape_value(value)


def spelled_alike(one: str, other: str) -> bool:
    """Whether two files are the same line for line but for how some one-line
    entries escape their values: the same comments and layout, the same
    indentation, key text and separator, values that Java reads the same. A
    merge written before runbook kept the live file's spelling (stop 50)
    escaped each value it rewrote (Xk9\\#pass for Xk9#pass), and read as a
    file changed since it was written. Any other difference counts."""
    if one == other:
        return True
    try:
        pairs = list(zip(javaproperties.parse(one), javaproperties.parse(other), strict=True))
    except (InvalidUEscapeError, ValueError):
        return False
    for mine, theirs in pairs:
        if mine.source == theirs.source:
            continue
        if not (isinstance(mine, KeyValue) and isinstance(theirs, KeyValue)):
            return False
        spelled, spelled_there = spelled_value(mine.source), spelled_value(theirs.source)
        if spelled is None or spelled_there is None or mine.value != theirs.value:
            return False
        body, body_there = mine.source.rstrip("\r\n"), theirs.source.rstrip("\r\n")
        if (body.removesuffix(spelled) != body_there.removesuffix(spelled_there)
                or line_end(mine.source) != line_end(theirs.source)):
            return False
    return True


def rewrite_entry(source: str, value: str, spelled: str | None = None) -> str:
    """The same entry with another value: indentation, key text and separator
    kept; the value as `spelled` where that reads as it (see _value_text)."""
    body = source.rstrip("\r\n")
    # Most entries are one line; only a continued entry needs splitting into lines.
    physical = [source] if "\n" not in body and "\r" not in body else ascii_splitlines(source)
    indent = physical[0][: len(physical[0]) - len(physical[0].lstrip(" \t\f"))]
    # Join continuation lines exactly as the parser did, to find the key and separator.
    logical = physical[0].lstrip(" \t\f").rstrip("\r\n")
    for more in physical[1:]:
        if not CONTINUED_RGX.search(logical):
            break
        logical = logical[:-1] + more.lstrip(" \t\f").rstrip("\r\n")
    match = SEPARATOR_RGX.search(logical)
    if match is None:
        key_text, separator = logical, "="
    else:
        key_text, separator = logical[: match.start(1)], logical[match.start(1) : match.end()]
    return (f"{indent}{key_text}{separator}{_value_text(value, spelled, separator)}"
            f"{line_end(source)}")


def uncomment(element: PropertiesElement, value: str, spelled: str | None = None) -> str:
    """A commented-out ``#key=value`` line made active with ``value``, its layout kept."""
    parts = _split_comment(element)
    assert parts is not None
    indent, key_text, separator, _ = parts
    return (f"{indent}{key_text}{separator}{_value_text(value, spelled, separator)}"
            f"{line_end(element.source)}")


# ---------------------------------------------------------------------------------------
# Writing the file


def cannot_write_to(path: Path) -> str | None:
    """Why a file cannot be written at `path`, said before any work that
    would be lost if it cannot (the editor's review, --check's output); None
    if it can be tried."""
    if path.is_dir():
        return "is a directory; name the file to write"
    if special_file(path):
        # Replaced, /dev/null became a file of secrets anyone could read (operator trial).
        return "is not a regular file (a device or a pipe); name a file to write"
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist"
    return None
