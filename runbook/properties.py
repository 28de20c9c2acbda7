"""Key-aware review and merge of red5-web.properties: the live file against a new template.

A text diff sees lines; an upgrade goes wrong on keys. This module classifies every key
of the live file (``old``) and of the new distribution's template (``new``) with exactly
one :class:`Status`, lets a front end or a decisions file decide each one, and writes a
merged file that is the new template with as few lines changed as the decisions allow.

Parsing is javaproperties' job; this module only looks at the elements it yields
(``KeyValue``, ``Comment``, ``Whitespace``, each with its exact source text), so the
merged file can reuse every untouched line byte for byte.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import javaproperties
from javaproperties import Comment, InvalidUEscapeError, KeyValue, PropertiesElement

# The parser's own patterns (javaproperties is pinned below 0.9 in pyproject.toml). Using
# them to split an already-parsed entry into key text and separator guarantees the split
# agrees with how javaproperties read that entry, which a regex of our own would not.
from javaproperties.reading import SEPARATOR_RGX
from javaproperties.util import CONTINUED_RGX, ascii_splitlines

from runbook.redact import is_secret_key, mask_value

if TYPE_CHECKING:
    from runbook.decisions import ApplyResult, Decisions

__all__ = [
    "Choice",
    "DecisionError",
    "Duplicate",
    "KeyReview",
    "PropertiesError",
    "Review",
    "Status",
    "decode_properties",
    "encode_properties",
    "has_placeholder",
    "is_placeholder",
    "read_properties",
    "review",
    "review_files",
    "sha256_text",
]


class PropertiesError(ValueError):
    """A properties file the review cannot trust. ``str()`` is one line: file, line, remedy."""


class DecisionError(ValueError):
    """A decision that does not fit the key it was made on (e.g. keep-old with no old value)."""


class Status(StrEnum):
    UNCHANGED = "unchanged"
    CARRIED = "carried"
    UNCOMMENTED = "uncommented"
    NEEDS_VALUE = "needs-value"
    NEW_DEFAULT = "new-default"
    REMOVED = "removed"
    OVERRIDDEN = "overridden"

    @property
    def meaning(self) -> str:
        """One line that says what the status means, for every front end to share."""
        return _MEANING[self]


_MEANING = {
    Status.UNCHANGED: "same value in the live file and the new template",
    Status.CARRIED: "both files set it differently; the live value is kept",
    Status.UNCOMMENTED: "commented out in the new template but set in the live file; "
    "the line is uncommented with the live value",
    Status.NEEDS_VALUE: "only the new template has it, as a placeholder or blank; "
    "someone has to give it a value",
    Status.NEW_DEFAULT: "only the new template has it, with a default that goes in "
    "unless someone changes it",
    Status.REMOVED: "only the live file has it; left out unless someone keeps it",
    Status.OVERRIDDEN: "set by the runbook itself or by --set",
}


class Choice(StrEnum):
    """An explicit decision on one key; the same words are used in the decisions file."""

    KEEP_OLD = "keep-old"
    ACCEPT_NEW = "accept-new"
    SET = "set"
    KEEP = "keep"
    DROP = "drop"


# `{host}`, `{node api security token}`: the shipped templates mark values nobody has
# filled in with braces. `${...}` is excluded on purpose: that is a Spring placeholder the
# stream manager resolves at runtime, so it is a deliberate value, not a blank to fill.
_PLACEHOLDER = re.compile(r"(?<!\$)\{[^{}]+\}")


def has_placeholder(value: str) -> bool:
    """True when a value still contains a template placeholder such as ``{host}``."""
    return _PLACEHOLDER.search(value) is not None


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
    """
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


def read_properties(path: Path | str, name: str | None = None) -> str:
    """Read a .properties file for :func:`review`; every failure is one PropertiesError line."""
    p = Path(path)
    label = name or str(p)
    try:
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
class _Parsed:
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


def _parse(text: str, name: str) -> _Parsed:
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
    return _Parsed(
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


def _line_end(source: str) -> str:
    for ending in ("\r\n", "\n", "\r"):
        if source.endswith(ending):
            return ending
    return ""


def _rewrite_entry(source: str, value: str) -> str:
    """The same entry with another value: indentation, key text and separator kept."""
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
    return f"{indent}{key_text}{separator}{_escape_value(value)}{_line_end(source)}"


def _uncomment(element: PropertiesElement, value: str) -> str:
    parts = _split_comment(element)
    assert parts is not None
    indent, key_text, separator, _ = parts
    return f"{indent}{key_text}{separator}{_escape_value(value)}{_line_end(element.source)}"


# ---------------------------------------------------------------------------------------
# The review


class KeyReview(NamedTuple):
    """Everything a front end shows for one key. Values are raw: mask with :meth:`show`.

    Immutable, so a front end cannot change a review behind its back; decisions go through
    :class:`Review`. A NamedTuple rather than a frozen dataclass because a review builds
    one per key and a frozen dataclass is about seven times slower to construct.
    """

    key: str
    status: Status
    old: str | None  # value in the live file (last occurrence), None when not active there
    new: str | None  # value in the template (last occurrence), None when not active there
    merged: str | None  # value in the merged file, None when the key is not in it
    secret: bool
    decided: bool  # False: the merged file cannot be written until someone decides
    section: str | None  # nearest `## ...` heading (template; live file for removed keys)
    old_line: int | None
    new_line: int | None  # the template line that carries this key (or its comment)
    acknowledged: bool = True  # False for a new default nobody has looked at yet
    choice: Choice | None = None  # the explicit decision; None = the built-in default
    new_commented: str | None = None  # the template's commented-out value, if any
    reopened: bool = False  # an earlier decision no longer holds (the live file changed)

    def show(self, value: str | None, *, reveal: bool = False) -> str | None:
        """A value as it may be shown to a person: secrets masked unless revealed."""
        if value is None or reveal or not self.secret:
            return value
        return mask_value(value)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A key set more than once in one file; Java uses the last line."""

    file: str
    key: str
    lines: tuple[int, ...]


# Where a key lives in the merged file: its active template line, the template comment it
# replaces, or the block appended at the end.
_ACTIVE, _COMMENT, _APPEND = "active", "comment", "append"

_KEPT_BLOCK = (
    "# ---- Added by runbook ----",
    "# The keys below are not part of this version's template. They come from the live",
    "# file (kept on purpose during the properties review) or were set with --set.",
    "# Check after the upgrade that this version of the stream manager still reads them.",
)


class Review:
    """The classification of every key plus the decisions taken so far.

    Built by :func:`review`. Decision methods raise :class:`DecisionError` when a decision
    does not fit the key; they never raise for a decision that merely repeats the default.
    """

    def __init__(self, old: _Parsed, new: _Parsed, overrides: Mapping[str, str]) -> None:
        self.old_name = old.name
        self.new_name = new.name
        self._old = old
        self._new = new
        self._targets: dict[str, tuple[str, int]] = {}
        self._base: dict[str, KeyReview] = {}
        self._current: dict[str, KeyReview] = {}
        self._values: dict[str, str] = {}  # the value behind each Choice.SET
        #: What the last Decisions.apply did, for front ends to report.
        self.decision_result: ApplyResult | None = None
        self._classify(dict(overrides))
        self._order = self._display_order()
        self._current = {key: self._base[key] for key in self._order}

    # -- construction ------------------------------------------------------------------

    def _classify(self, overrides: dict[str, str]) -> None:
        old, new = self._old, self._new
        old_active, new_active, commented = old.active, new.active, new.commented
        targets, base = self._targets, self._base
        unchanged, carried = Status.UNCHANGED, Status.CARRIED

        for key, (at, value) in new_active.items():
            targets[key] = (_ACTIVE, at)
            found = old_active.get(key)
            old_value, old_line = (found[1], old.starts[found[0]]) if found else (None, None)
            decided = acknowledged = True
            if key in overrides:
                status, merged = Status.OVERRIDDEN, overrides[key]
            elif found is not None:
                merged = old_value
                status = unchanged if old_value == value else carried
            elif is_placeholder(value):
                status, merged = Status.NEEDS_VALUE, value
                decided = acknowledged = False
            else:
                status, merged, acknowledged = Status.NEW_DEFAULT, value, False
            base[key] = KeyReview(
                key, status, old_value, value, merged, is_secret_key(key), decided,
                new.section(at), old_line, new.starts[at], acknowledged,
            )  # fmt: skip

        # Keys the template does not set: from the live file, or from --set alone.
        elsewhere = [k for k in old_active if k not in new_active]
        elsewhere += [k for k in overrides if k not in new_active and k not in old_active]
        for key in elsewhere:
            found = old_active.get(key)
            old_value, old_line = (found[1], old.starts[found[0]]) if found else (None, None)
            if key in overrides:
                status, merged = Status.OVERRIDDEN, overrides[key]
            elif key in commented:
                status, merged = Status.UNCOMMENTED, old_value
            else:
                status, merged = Status.REMOVED, None
            if key in commented:
                at, commented_value = commented[key]
                targets[key] = (_COMMENT, at)
                section, new_line = new.section(at), new.starts[at]
            else:
                commented_value, new_line = None, None
                targets[key] = (_APPEND, -1)
                section = old.section(found[0]) if found else None
            base[key] = KeyReview(
                key, status, old_value, None, merged, is_secret_key(key), True,
                section, old_line, new_line, new_commented=commented_value,
            )  # fmt: skip

    def _display_order(self) -> list[str]:
        """Template order; a key only the live file has goes where it stood there."""
        in_template = sorted(
            (at, key) for key, (kind, at) in self._targets.items() if kind != _APPEND
        )
        placed = {key for _, key in in_template}
        after: dict[str | None, list[str]] = {}
        anchor: str | None = None
        old_active = self._old.active
        old_order = sorted(old_active, key=lambda k: old_active[k][0])
        for key in old_order:
            if key in placed:
                anchor = key
            else:
                after.setdefault(anchor, []).append(key)
        order = list(after.get(None, []))
        for _, key in in_template:
            order.append(key)
            order.extend(after.get(key, ()))
        seen = set(order)
        order.extend(k for k in self._targets if k not in seen)  # --set keys found nowhere
        return order

    # -- reading -----------------------------------------------------------------------

    @property
    def keys(self) -> list[KeyReview]:
        """Every key, in display order."""
        return list(self._current.values())

    def __getitem__(self, key: str) -> KeyReview:
        return self._current[key]

    def __contains__(self, key: object) -> bool:
        return key in self._current

    def __iter__(self) -> Iterator[KeyReview]:
        return iter(self._current.values())

    def __len__(self) -> int:
        return len(self._current)

    @property
    def undecided(self) -> list[str]:
        """Keys that still need a decision before the merged file may be written."""
        return [k for k, kr in self._current.items() if not kr.decided]

    @property
    def unacknowledged(self) -> list[str]:
        """Keys a front end should highlight until someone has looked at them."""
        return [k for k, kr in self._current.items() if not kr.acknowledged]

    @property
    def summary(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        for kr in self._current.values():
            counts[kr.status] += 1
        return counts

    @property
    def duplicates(self) -> list[Duplicate]:
        return [
            Duplicate(parsed.name, key, tuple(parsed.starts[i] for i in indexes))
            for parsed in (self._old, self._new)
            for key, indexes in parsed.repeated.items()
        ]

    @property
    def leftover_placeholders(self) -> list[str]:
        """Keys whose value in the merged file still holds a template placeholder."""
        return [
            k
            for k, kr in self._current.items()
            if kr.merged is not None and has_placeholder(kr.merged)
        ]

    @property
    def old_sha256(self) -> str:
        return sha256_text(self._old.text)

    @property
    def new_sha256(self) -> str:
        return sha256_text(self._new.text)

    @property
    def choices(self) -> dict[str, tuple[Choice, str | None]]:
        """The explicit decisions taken so far (a SET carries its value)."""
        return {
            k: (kr.choice, self._values.get(k))
            for k, kr in self._current.items()
            if kr.choice is not None
        }

    # -- deciding ----------------------------------------------------------------------

    def _decidable(self, key: str) -> KeyReview:
        if key not in self._current:
            raise DecisionError(f"{key}: not a key of either file")
        kr = self._current[key]
        if kr.status is Status.OVERRIDDEN:
            raise DecisionError(
                f"{key}: its value is set by the runbook or by --set; change it there"
            )
        return kr

    def _decide(self, key: str, choice: Choice, value: str | None = None) -> None:
        base = self._base[key]
        merged = {
            Choice.KEEP_OLD: base.old,
            Choice.KEEP: base.old,
            Choice.ACCEPT_NEW: base.new,
            Choice.DROP: None,
            Choice.SET: value,
        }[choice]
        if choice is Choice.SET:
            assert value is not None
            self._values[key] = value
        else:
            self._values.pop(key, None)
        self._current[key] = base._replace(
            merged=merged, decided=True, acknowledged=True, choice=choice, reopened=False
        )

    def keep_old(self, key: str) -> None:
        """Use the live file's value (for a removed key: keep it)."""
        kr = self._decidable(key)
        if kr.old is None:
            raise DecisionError(f"{key}: not in the old file, so there is no old value to keep")
        self._decide(key, Choice.KEEP if kr.status is Status.REMOVED else Choice.KEEP_OLD)

    def accept_new(self, key: str) -> None:
        """Take the template as it stands: its value, its commented line, or no line at all."""
        kr = self._decidable(key)
        if kr.status is Status.REMOVED:
            self._decide(key, Choice.DROP)
            return
        if kr.new is not None and has_placeholder(kr.new):
            raise DecisionError(
                f"{key}: the new template has only a placeholder here; set a real value"
            )
        self._decide(key, Choice.ACCEPT_NEW)

    def set_value(self, key: str, value: str) -> None:
        """Use this exact value (for a commented key: uncomment it; removed: keep it)."""
        self._decidable(key)
        if not isinstance(value, str):
            raise DecisionError(f"{key}: a value must be text")
        self._decide(key, Choice.SET, value)

    def keep_removed(self, key: str) -> None:
        kr = self._decidable(key)
        if kr.status is not Status.REMOVED:
            raise DecisionError(f"{key}: only a removed key can be kept; this one is {kr.status}")
        self._decide(key, Choice.KEEP)

    def drop_removed(self, key: str) -> None:
        kr = self._decidable(key)
        if kr.status is not Status.REMOVED:
            raise DecisionError(
                f"{key}: only a removed key can be dropped; this one is {kr.status}"
            )
        self._decide(key, Choice.DROP)

    def reset(self, key: str) -> None:
        """Forget any decision on this key: back to the built-in default."""
        self._decidable(key)
        self._values.pop(key, None)
        self._current[key] = self._base[key]

    def reopen(self, key: str) -> None:
        """Mark a key as needing a fresh look; the default stays in the merged file meanwhile."""
        if key not in self._current:
            raise DecisionError(f"{key}: not a key of either file")
        self._values.pop(key, None)
        self._current[key] = self._base[key]._replace(
            decided=False, acknowledged=False, reopened=True
        )

    # -- the merged file ---------------------------------------------------------------

    def merged_text(self) -> str:
        """The new template with the decided values in it; untouched lines byte for byte."""
        new = self._new
        changed: dict[int, str] = {}
        appended: list[tuple[str, str]] = []
        for key, kr in self._current.items():
            kind, at = self._targets[key]
            if kind == _ACTIVE:
                assert kr.merged is not None and kr.new is not None
                if kr.merged != kr.new:
                    changed[at] = _rewrite_entry(new.elements[at].source, kr.merged)
            elif kr.merged is None:
                continue
            elif kind == _COMMENT:
                changed[at] = _uncomment(new.elements[at], kr.merged)
            else:
                appended.append((key, kr.merged))
        if not changed and not appended:
            return new.text
        parts = [changed.get(i, el.source) for i, el in enumerate(new.elements)]
        if appended:
            # Continue with the last line's own break: a file that mixes endings and
            # ends in CR would otherwise gain an LF that turns it into one CRLF.
            eol = _line_end(parts[-1]) if parts else ""
            if not eol:
                eol = new.eol
                if parts:
                    parts.append(eol)
            parts.append(eol)
            parts.extend(line + eol for line in _KEPT_BLOCK)
            parts.extend(f"{javaproperties.join_key_value(k, v)}{eol}" for k, v in appended)
        return "".join(parts)


# Keys every shipped red5-web.properties has (5.1.1.236, 6.2.0.b406, 14.2.0.b1105): where
# the database is, from the top of the file, and proxy.enabled from near its end, so a
# file cut off anywhere before its last lines misses at least one.
_RED5_KEYS = ("config.dbHost", "config.dbPort", "config.dbUser", "config.dbPass", "proxy.enabled")


def _refuse_cut_short(file: _Parsed, other: _Parsed, remedy: str) -> None:
    """A file with no keys, or without the Red5 keys the other file has, was cut short
    (issue 7): merged, it would replace a working configuration with a few lines."""
    if not file.active:
        empty = " (the file is empty)" if not file.text.strip() else ""
        problem = f"has no keys{empty}"
    else:
        missing = [key for key in _RED5_KEYS if key not in file.active]
        # Checked against the other file, so two files that are not red5-web.properties
        # at all can still be compared.
        if not missing or not all(key in other.active for key in _RED5_KEYS):
            return
        problem = (f"lacks {', '.join(missing)}, which every Red5 red5-web.properties "
                   f"has ({other.name} has them)")
    raise PropertiesError(
        f"{file.name}: {problem}; it may have been cut short, and nothing is merged into "
        f"or from it: {remedy}, then review again"
    )


def review(
    old_text: str,
    new_text: str,
    *,
    old_name: str = "old",
    new_name: str = "new",
    overrides: dict[str, str] | None = None,
    decisions: Decisions | None = None,
) -> Review:
    """Classify every key of ``old`` (the live file) against ``new`` (the new template).

    ``overrides`` are values the runbook sets itself (config.dbHost and config.dbPort for
    the new database) or that came from ``--set``; they beat any decision. ``decisions``
    (a loaded decisions file) is applied last; what it did is in ``decision_result``.
    Raises :class:`PropertiesError` for a file Java would not read the same way, and for
    one that looks cut short: no keys, or without the Red5 keys the other file has.
    """
    old, new = _parse(old_text, old_name), _parse(new_text, new_name)
    _refuse_cut_short(old, new, "restore the live red5-web.properties from a backup")
    _refuse_cut_short(new, old, "take red5-web.properties again from the new release's zip")
    result = Review(old, new, overrides or {})
    if decisions is not None:
        result.decision_result = decisions.apply(result)
    return result


def review_files(old: Path | str, new: Path | str, **options: Any) -> Review:
    """:func:`review` on two files, named by their paths in every message."""
    old_text = read_properties(old)
    new_text = read_properties(new)
    return review(old_text, new_text, old_name=str(old), new_name=str(new), **options)
