"""The decisions file: what was decided about each properties key, kept in TOML.

It is written days before the window (``runbook diff`` or the editor) and read by the
runbook's ``properties`` step during it. It records the sha256 of both inputs and, per
key, the action plus a fingerprint of the live value it was decided against, so the step
can tell which decisions still hold if the live file changed in the meantime.

Secret values are never written here. A secret the operator set by hand is stored as
``value_env = "NAME"``: the step reads it from that environment variable. (Refusing
outright would leave no headless way to set a secret; a fingerprint alone could not be
turned back into the value.) A plain ``value`` on a secret key is refused on load, so a
hand-edited file cannot smuggle one in either.

Reading uses the standard library's tomllib; tomlkit is only used to rewrite the file in
place (so an operator's comments survive), because tomlkit's parser slows down
quadratically with the number of ``[keys."..."]`` tables and the runbook reads this file
during the maintenance window.

This module builds on the review model (:mod:`runbook.properties.model`): it replays
decisions through :class:`~runbook.properties.model.Review`'s decision methods and records
them from its :class:`~runbook.properties.model.KeyReview` rows. The model never imports
it back; :func:`~runbook.properties.model.review` only needs its ``apply`` method.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.properties.codec import atomic_write, written_key
from runbook.properties.model import (
    ADDED_SINCE_DECIDED,
    CHANGED_SINCE_DECIDED,
    GONE_SINCE_DECIDED,
    NEW_DATABASE_KEY,
    TEMPLATE_CHANGED_SINCE_ACCEPTED,
    ApplyResult,
    Choice,
    DecisionError,
    KeyReview,
    Review,
    Status,
    closest,
)
from runbook.redact import is_secret_key
from runbook.wholefile import special_file

if TYPE_CHECKING:
    from tomlkit.items import Table
    from tomlkit.toml_document import TOMLDocument

__all__ = ["Decisions", "DecisionsError", "Entry"]

HEADER = "written by runbook; edit freely, comments are kept"
_FIELDS = ("action", "value", "value_env", "old_fingerprint", "new_fingerprint")
_ACTIONS = ", ".join(c.value for c in Choice)


class DecisionsError(ValueError):
    """A decisions file that cannot be used. ``str()`` is one line: file, line, key, remedy."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One key's record in the file. ``action`` None: a hint table nobody has filled in."""

    key: str
    action: Choice | None
    value: str | None
    value_env: str | None
    old_fingerprint: str | None
    # The template's value an accept-new took, so a changed template reopens it.
    new_fingerprint: str | None = None


def env_name_for(key: str) -> str:
    """The environment variable a secret key's value is read from, unless the file says."""
    return "RUNBOOK_" + re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").upper()


class Decisions:
    """A decisions document plus a validated view of its entries."""

    def __init__(self, text: str | None = None, *, name: str = "decisions") -> None:
        """``text`` is the file's TOML (None: a new, empty file)."""
        self.name = name
        self._text = text
        self._doc: TOMLDocument | None = None  # parsed by tomlkit only to rewrite
        if text is None:
            self._doc = _new_document()
            data: dict[str, Any] = {}
        else:
            data = _read_toml(text, name)
        self._entries, self._inputs = _validate(data, lambda: text or "", name)
        #: (key, environment variable) for every secret the last record() stored by name.
        self.env_needed: list[tuple[str, str]] = []

    # -- reading -----------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str) -> Decisions:
        label = str(path)
        if special_file(Path(path)):
            raise DecisionsError(f"{label}: is not a regular file; give the path of a "
                                 "decisions file")
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise DecisionsError(f"{label}: no such file; check the path") from None
        except IsADirectoryError:
            raise DecisionsError(f"{label}: is a directory, not a decisions file") from None
        except OSError as exc:
            raise DecisionsError(f"{label}: cannot be read ({exc.strerror})") from None
        try:
            # utf-8-sig: an editor's byte order mark is no part of the TOML (operator trial).
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise DecisionsError(
                f"{label}: line {line}: not UTF-8 text (TOML must be UTF-8); save it as UTF-8"
            ) from None
        return cls.loads(text, name=label)

    @classmethod
    def loads(cls, text: str, *, name: str = "decisions") -> Decisions:
        return cls(text, name=name)

    @property
    def digest(self) -> str:
        """The sha256 of the text read: whether the file, read again, says the same."""
        return hashlib.sha256((self._text or "").encode()).hexdigest()

    def secret_sources(self) -> list[tuple[str, str]]:
        """(key, environment variable) for each value the file takes from one."""
        return [(key, entry.value_env) for key, entry in self._entries.items()
                if entry.value_env is not None]

    def _document(self) -> TOMLDocument:
        # tomlkit loads only to rewrite a file: a plain review (runbook diff
        # --json) never pays for it.
        import tomlkit
        from tomlkit.exceptions import ParseError

        if self._doc is None:
            try:
                self._doc = tomlkit.parse(self._text or "")
            except ParseError as exc:  # tomllib accepted it; tomlkit is stricter in corners
                raise DecisionsError(
                    f"{self.name}: line {exc.line}: cannot be rewritten ({exc}); simplify that line"
                ) from None
        return self._doc

    @property
    def entries(self) -> dict[str, Entry]:
        return dict(self._entries)

    @property
    def old_sha256(self) -> str | None:
        return self._inputs.get("old_sha256")

    @property
    def new_sha256(self) -> str | None:
        return self._inputs.get("new_sha256")

    def dumps(self) -> str:
        if self._doc is None:
            return self._text or ""
        import tomlkit

        return tomlkit.dumps(self._doc)

    def save(self, path: Path | str) -> None:
        """Write atomically: a crash leaves the previous file or the new one, never half."""
        atomic_write(path, self.dumps().encode("utf-8"))

    # -- applying ----------------------------------------------------------------------

    def apply(self, review: Review, env: Mapping[str, str] | None = None) -> ApplyResult:
        """Replay the recorded decisions onto a fresh review.

        When the live file still has the recorded sha256, every decision applies as is.
        When it changed, a key whose live value no longer matches the recorded fingerprint
        (including a key that appeared or vanished) is reopened instead: its default stays
        in the merged file, but it counts as undecided until someone looks again. A
        recorded fingerprint is checked even when the hashes match, because a reopened key
        saved without a new decision keeps the fingerprint it was last reviewed against.
        """
        environment = os.environ if env is None else env
        result = ApplyResult(
            old_changed=self.old_sha256 is not None and self.old_sha256 != review.old_sha256,
            new_changed=self.new_sha256 is not None and self.new_sha256 != review.new_sha256,
        )
        result.stale = [key for key in self._entries if key not in review]
        for kr in review:
            key = kr.key
            entry = self._entries.get(key)
            if kr.status is Status.OVERRIDDEN:
                if entry is not None and entry.action is not None:
                    result.skipped.append(key)
                continue
            recorded = entry.old_fingerprint if entry is not None else None
            if ((result.old_changed or recorded is not None)
                    and not _same_old_value(recorded, kr)):
                review.reopen(key, _why_reopened(entry, recorded, kr))
                result.reopened.append(key)
                continue
            if entry is None or entry.action is None:
                continue
            if entry.action is Choice.ACCEPT_NEW and _template_moved(entry, kr,
                                                                      result.new_changed):
                # It took the template's value, and that value is another now
                # (operator trial: a new default nobody saw passed --check).
                review.reopen(key, TEMPLATE_CHANGED_SINCE_ACCEPTED)
                result.reopened_new.append(key)
                continue
            value = entry.value
            if entry.value_env is not None:
                value = environment.get(entry.value_env)
                if not value:
                    # Empty is not a secret's value: an `export X=$(...)` whose
                    # command failed (operator trial: taken as a blank token).
                    state = "not set" if value is None else "empty"
                    review.reopen(key, f"its value comes from ${entry.value_env}, which is "
                                       f"{state} here")
                    result.missing_env[key] = entry.value_env
                    continue
            try:
                _apply_one(review, key, entry.action, value)
            except DecisionError as exc:
                # Said beside the key: its name, which the refusal begins
                # with (as a file spells it), once is enough (operator trial).
                why = str(exc).removeprefix(f"{written_key(key)}: ")
                review.reopen(key, f"the recorded decision does not apply: {why}")
                result.rejected[key] = why
                continue
            result.applied.append(key)
        return result

    # -- recording ---------------------------------------------------------------------

    @classmethod
    def from_review(
        cls, review: Review, old_sha: str | None = None, new_sha: str | None = None
    ) -> Decisions:
        decisions = cls()
        decisions.record(review, old_sha, new_sha)
        return decisions

    def record(
        self, review: Review, old_sha: str | None = None, new_sha: str | None = None
    ) -> list[tuple[str, str]]:
        """Write the review's current decisions into this document, keeping its comments.

        Every key gets a table, defaults included, so a later run can tell which live
        values changed. Undecided keys get a commented hint instead of an action.
        Returns (key, environment variable) for each secret stored by name.
        """
        import tomlkit
        from tomlkit.items import Table

        doc = self._document()
        inputs = doc.get("inputs")
        if not isinstance(inputs, Table):
            inputs = tomlkit.table()
            doc["inputs"] = inputs
        inputs["old_sha256"] = old_sha or review.old_sha256
        inputs["new_sha256"] = new_sha or review.new_sha256
        keys = doc.get("keys")
        if not isinstance(keys, Table):
            keys = tomlkit.table(is_super_table=True)
            doc["keys"] = keys
        self.env_needed = []
        for kr in review:
            # What --set decided (in either file) is kept as decided; what the
            # runbook overrides, it decides again every time (operator trial).
            asked = kr.key in review.asked and kr.key != NEW_DATABASE_KEY \
                and (kr.old is not None or kr.new is not None)
            if kr.status is Status.OVERRIDDEN and not asked:
                continue
            table = keys.get(kr.key)
            fresh = not isinstance(table, Table)
            if fresh:
                table = tomlkit.table()
            assert isinstance(table, Table)
            choice = Choice.SET if asked else _recorded_choice(kr)
            if fresh:
                for line in _hint(kr, choice):
                    table.add(tomlkit.comment(line))
            elif _hinted(table) != (choice is None):
                # Decided since, or open again: a stale "to decide" above an
                # action read as still open (trial). Other comments stay.
                table = _rehinted(table, _hint(kr, choice)[1:])
                keys[kr.key] = table
            if kr.reopened:
                # Nobody has decided it again: leave its record exactly as it was, so the
                # next run reopens it again instead of applying the default unseen. With no
                # record yet, an empty fingerprint matches no live value and does the same.
                if fresh:
                    table["old_fingerprint"] = ""
                    keys[kr.key] = table
                continue
            if choice is None:
                for name in ("action", "value", "value_env"):
                    table.pop(name, None)
            else:
                table["action"] = choice.value
                if choice is Choice.SET and kr.secret:
                    previous = self._entries.get(kr.key)
                    env = (previous.value_env if previous else None) or env_name_for(kr.key)
                    table.pop("value", None)
                    table["value_env"] = env
                    self.env_needed.append((kr.key, env))
                elif choice is Choice.SET:
                    table.pop("value_env", None)
                    table["value"] = kr.merged if kr.merged is not None else ""
                else:
                    table.pop("value", None)
                    table.pop("value_env", None)
            if choice is Choice.ACCEPT_NEW and kr.new is not None:
                kept_new = table.get("new_fingerprint")
                if not (isinstance(kept_new, str) and _same_value(kept_new, kr.new)):
                    table["new_fingerprint"] = _value_tag(kr.new, kr.secret)
            else:
                table.pop("new_fingerprint", None)
            if kr.old is not None:
                kept = table.get("old_fingerprint")
                if not (isinstance(kept, str) and kept.startswith(_SALTED)
                        and _same_old_value(kept, kr)):
                    table["old_fingerprint"] = _old_value_tag(kr)
            else:
                table.pop("old_fingerprint", None)
            if fresh:
                keys[kr.key] = table
        self._entries, self._inputs = _validate(doc.unwrap(), doc.as_string, self.name)
        return list(self.env_needed)


# ---------------------------------------------------------------------------------------

# A live value's tag. The file travels between engineers and may sit in version
# control, so a secret's tag is salted and slow to compute: scrypt at the cost
# its paper gives for interactive logins (N=2**14, 16 MiB, some 50 ms here), paid
# once per secret key when the file is read. A plain hash would confirm a
# guessed password to anyone holding the file; this makes each guess costly, not
# impossible (a weak password stays weak). Other values are in the live file
# for anyone to read; a plain hash does. Tags written before secrets were salted
# (sha256, 8 hex digits) are still read.
_SALTED = "scrypt:"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 8, "maxmem": 64 * 2**20}


def _old_value_tag(kr: KeyReview) -> str:
    assert kr.old is not None
    return _value_tag(kr.old, kr.secret)


def _value_tag(value: str, secret: bool) -> str:
    if not secret:
        return _plain_tag(value)
    salt = os.urandom(8)
    return f"{_SALTED}{salt.hex()}:{_scrypt(value, salt).hex()}"


def _why_reopened(entry: Entry | None, recorded: str | None, kr: KeyReview) -> str:
    """What moved in the live file, as far as the record can tell: a key it
    had no word of (a review writes every key of both files), a key it
    recorded a live value for and the live file no longer has, or else the
    value. An empty tag (reopened before, saved undecided) tells nothing."""
    if entry is None and kr.old is not None:
        return ADDED_SINCE_DECIDED
    if recorded and kr.old is None:
        return GONE_SINCE_DECIDED
    return CHANGED_SINCE_DECIDED


def _same_old_value(recorded: str | None, kr: KeyReview) -> bool:
    """Whether the tag recorded for a key still matches its live value."""
    if kr.old is None or recorded is None:
        return kr.old is None and recorded is None
    return _same_value(recorded, kr.old)


def _template_moved(entry: Entry, kr: KeyReview, template_changed: bool) -> bool:
    """Whether the template's value an accept-new took is another now. A file
    written before the template's value was recorded cannot tell which
    value changed: once the template has, each of its accept-new is asked again."""
    if entry.new_fingerprint is None:
        return template_changed
    return kr.new is None or not _same_value(entry.new_fingerprint, kr.new)


def _same_value(recorded: str, value: str) -> bool:
    """Whether a recorded tag matches `value`. The tag's own form says how it
    was made; one that is neither form (a hand edit) matches nothing, so its
    key is looked at again."""
    import hmac  # here: `diff` without a decisions file never compares a tag

    expected = recorded.encode("utf-8")
    if recorded.startswith(_SALTED):
        salt, _, _ = recorded[len(_SALTED):].partition(":")
        try:
            current = f"{_SALTED}{salt}:{_scrypt(value, bytes.fromhex(salt)).hex()}"
        except ValueError:
            return False
        return hmac.compare_digest(expected, current.encode("utf-8"))
    return hmac.compare_digest(expected, _plain_tag(value).encode("utf-8"))


def _plain_tag(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]


@functools.lru_cache(maxsize=256)
def _scrypt(value: str, salt: bytes) -> bytes:
    # Cached: the editor records the whole review on every save.
    return hashlib.scrypt(value.encode("utf-8"), salt=salt, **_SCRYPT)


def _new_document() -> TOMLDocument:
    import tomlkit

    document = tomlkit.document()
    document.add(tomlkit.comment(HEADER))
    return document


def _apply_one(review: Review, key: str, action: Choice, value: str | None) -> None:
    status = review[key].status
    if action is Choice.SET:
        assert value is not None
        review.set_value(key, value)
    elif action is Choice.KEEP_OLD or action is Choice.KEEP:
        # "keep" was recorded on a removed key; if a later template (or a re-review of
        # the merged file) has the key again, keeping the live value is still the intent.
        review.keep_old(key)
    elif action is Choice.ACCEPT_NEW:
        review.accept_new(key)
    elif status is Status.UNCOMMENTED:
        review.accept_new(key)  # "drop" on a key the template has commented: leave it so
    else:
        review.drop_removed(key)


_DEFAULT_CHOICE = {
    Status.UNCHANGED: Choice.KEEP_OLD,
    Status.CARRIED: Choice.KEEP_OLD,
    Status.UNCOMMENTED: Choice.KEEP_OLD,
    Status.REMOVED: Choice.DROP,
    Status.NEW_DEFAULT: Choice.ACCEPT_NEW,
}


def _recorded_choice(kr: KeyReview) -> Choice | None:
    if not kr.decided or not kr.acknowledged:
        return None  # nobody has decided or looked yet: leave a hint, not an action
    return kr.choice or _DEFAULT_CHOICE.get(kr.status)


def _hint(kr: KeyReview, choice: Choice | None) -> list[str]:
    lines = [f"{kr.status}: {kr.status.meaning}"]
    if choice is not None:
        return lines
    if kr.reopened:
        lines.append(f"reopened: {kr.reopened}")
    if kr.status is Status.NEW_DEFAULT and not kr.sample:
        lines.append(f"template default: {kr.show(kr.new)!r}")
        lines.append('to take it: action = "accept-new"; or action = "set" with a value')
        return lines
    if kr.sample:
        keep = "keep-old" if kr.old is not None and kr.merged == kr.old else "accept-new"
        lines.append("Red5's sample value, nobody's real setting; if it really is yours, "
                     f'write action = "{keep}"')
    lines.append('to decide: action = "set" and then')
    if kr.secret:
        lines.append(f'value_env = "{env_name_for(kr.key)}"  (secrets are never written here)')
    else:
        lines.append('value = "..."')
    return lines


# The lines of _hint that say what to do with an open key (its first line, the
# status and its meaning, holds for a decided key too).
_HINT_STARTS = ("reopened: ", "template default: ", "to take it: ", "Red5's sample value",
                "to decide: ", 'value = "..."')
_HINT_ENDS = ("(secrets are never written here)",)


def _is_hint(item: object) -> bool:
    from tomlkit.items import Comment

    if not isinstance(item, Comment):
        return False
    text = item.as_string().strip().removeprefix("#").strip()
    return text.startswith(_HINT_STARTS) or text.endswith(_HINT_ENDS)


def _hinted(table: Table) -> bool:
    return any(_is_hint(item) for name, item in table.value.body if name is None)


def _rehinted(table: Table, hint: list[str]) -> Table:
    """`table` without the open-key lines of its hint, and with `hint`'s
    (none, for a decided key) after what it holds."""
    import tomlkit
    from tomlkit.items import Comment, Whitespace

    kept = tomlkit.table()
    for name, item in table.value.body:
        if name is not None:
            kept.add(name, item)
        elif isinstance(item, (Comment, Whitespace)) and not _is_hint(item):
            kept.add(item)
    for line in hint:
        kept.add(tomlkit.comment(line))
    return kept


_TOP_LEVEL = ("inputs", "keys")
_INPUTS = ("old_sha256", "new_sha256")


def _read_toml(text: str, name: str) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(text)
    except RecursionError:
        from runbook.config import TOO_DEEP  # only now: `diff` loads no config

        raise DecisionsError(f"{name}: not valid TOML ({TOO_DEEP})") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib ends its message with "(at line L, column C)"; we say the line first.
        message = str(exc)
        found = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
        if found is None:
            raise DecisionsError(f"{name}: not valid TOML ({message})") from None
        reason = message[: found.start()]
        raise DecisionsError(f"{name}: line {found.group(1)}: not valid TOML ({reason})") from None


def _validate(
    data: dict[str, Any], text: Callable[[], str], name: str
) -> tuple[dict[str, Entry], dict[str, str]]:
    """Check the file's shape; ``text`` is only called to find a line for an error."""

    def fail(problem: str, key: str | None = None, where: str | None = None) -> DecisionsError:
        line = _line_of(text(), key, where)
        at = f" line {line}:" if line else ""
        subject = f" key {key!r}:" if key is not None else ""
        return DecisionsError(f"{name}:{at}{subject} {problem}")

    for top in data:
        if top not in _TOP_LEVEL:
            close = closest(top, _TOP_LEVEL)
            shown = {"inputs": "[inputs]", "keys": '[keys."NAME"]'}
            problem = f'unknown section "{top}"; ' + (
                f"did you mean {shown[close]}?" if close
                else 'only [inputs] and [keys."NAME"] belong here')
            raise fail(problem, where=top)
    inputs = data.get("inputs", {})
    if not isinstance(inputs, dict):
        raise fail("[inputs] must be a table", where="inputs")
    for field_name, value in inputs.items():
        close = closest(field_name, _INPUTS)
        if field_name not in _INPUTS and close:
            raise fail(f"[inputs] has no {field_name!r}; did you mean {close}?",
                       where=field_name)
        if field_name not in _INPUTS or not isinstance(value, str):
            problem = f"[inputs] takes old_sha256 and new_sha256 as strings, not {field_name!r}"
            raise fail(problem, where=field_name)
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        raise fail('keys must be tables like [keys."config.dbHost"]', where="keys")
    entries: dict[str, Entry] = {}
    for key, table in keys.items():
        if not isinstance(table, dict):
            raise fail('must be a table like [keys."config.dbHost"] with an action', key)
        nested = _unquoted_dotted_key(key, table)
        if nested is not None:
            # [keys.a.b] is a table "b" inside "a" to TOML (trial: it was said
            # as an unknown field of key 'a', with no line).
            header = f"[keys.{'.'.join(nested)}]"
            line = _line_of_header(text(), nested)
            at = f" line {line}:" if line else ""
            raise DecisionsError(f"{name}:{at} {header}: a key with dots must be quoted, as "
                                 f'in [keys."{".".join(nested)}"]')
        for field_name, value in table.items():
            if field_name not in _FIELDS:
                close = closest(field_name, _FIELDS)
                advice = f"did you mean {close}?" if close else f"use {', '.join(_FIELDS)}"
                raise fail(f"unknown field {field_name!r}; {advice}", key, field_name)
            if not isinstance(value, str):
                raise fail(f"{field_name} must be a quoted string", key, field_name)
        action_text = table.get("action")
        try:
            action = Choice(action_text) if action_text is not None else None
        except ValueError:
            close = closest(str(action_text), [c.value for c in Choice])
            advice = f"did you mean {close}?" if close else f"use one of {_ACTIONS}"
            raise fail(f"unknown action {action_text!r}; {advice}", key, "action") from None
        value, value_env = table.get("value"), table.get("value_env")
        if action is Choice.SET:
            if (value is None) == (value_env is None):
                raise fail('action "set" needs exactly one of value or value_env', key, "action")
        elif value is not None or value_env is not None:
            where = "value" if value is not None else "value_env"
            raise fail('value and value_env only go with action = "set"', key, where)
        if value_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value_env):
            raise fail(f"value_env {value_env!r} is not the name of an environment variable "
                       f'(letters, digits and _); for example value_env = "{env_name_for(key)}"',
                       key, "value_env")
        if value is not None and is_secret_key(key):
            raise fail(
                "is a secret, so its value must not be written here; put it in an "
                f'environment variable and write value_env = "{env_name_for(key)}"',
                key,
                "value",
            )
        entries[key] = Entry(key, action, value, value_env, table.get("old_fingerprint"),
                             table.get("new_fingerprint"))
    return entries, dict(inputs)


def _unquoted_dotted_key(key: str, table: dict[str, Any]) -> list[str] | None:
    """The parts of a dotted key written without quotes ([keys.a.b] reads as
    table b in table a), if that is what `table` is; else None."""
    parts = [key]
    while not any(name in _FIELDS for name in table):
        inner = [(name, value) for name, value in table.items() if isinstance(value, dict)]
        if not inner:
            break
        name, table = inner[0]
        parts.append(name)
    return parts if len(parts) > 1 else None


def _line_of_header(text: str, parts: list[str]) -> int | None:
    """The line of the table header [keys.PART.PART...], spaces allowed about the dots."""
    header = re.compile(r"^\s*\[\s*keys" + "".join(rf"\s*\.\s*{re.escape(p)}" for p in parts)
                        + r"\s*\]")
    for number, line in enumerate(text.splitlines(), start=1):
        if header.match(line):
            return number
    return None


_TABLE_HEADER = re.compile(
    r"""^\s*\[\s*keys\s*\.\s*(?P<name>"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*\]"""
)


def _toml_key(token: str) -> str | None:
    if token[0] not in "\"'":
        return token
    import tomllib

    try:
        return str(tomllib.loads(f"k = {token}")["k"])
    except tomllib.TOMLDecodeError:
        return None


def _line_of(text: str, key: str | None, where: str | None) -> int | None:
    """Best-effort line of a key's table (or of one field in it) for error messages."""
    lines = text.splitlines()
    if key is None:
        if where is None:
            return None
        pattern = re.compile(rf"^\s*\[?\s*{re.escape(where)}\b")
        return next((n for n, line in enumerate(lines, 1) if pattern.match(line)), None)
    field_rgx = re.compile(rf"^\s*{re.escape(where)}\s*=") if where else None
    header: int | None = None
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("["):
            if header is not None:
                break
            match = _TABLE_HEADER.match(line)
            if match and _toml_key(match["name"]) == key:
                header = number
                if field_rgx is None:
                    return number
        elif header is not None and field_rgx is not None and field_rgx.match(line):
            return number
    if header is None:
        # Not written as [keys."NAME"] (say `NAME = ...` under [keys]): find it as a key.
        name = re.escape(key)
        as_key = re.compile(rf"""^\s*(?:"{name}"|'{name}'|{name})\s*[=.]""")
        return next((n for n, line in enumerate(lines, 1) if as_key.match(line)), None)
    return header
