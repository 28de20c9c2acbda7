"""The key-by-key review of red5-web.properties: the live file against a new template.

A text diff sees lines; an upgrade goes wrong on keys. This module classifies every key
of the live file (``old``) and of the new distribution's template (``new``) with exactly
one :class:`Status`, lets a front end or a decisions file decide each one, and writes a
merged file that is the new template with as few lines changed as the decisions allow.

Reading, parsing and rewriting single lines are :mod:`runbook.properties.codec`'s job;
this module decides what goes into each line. The decisions file
(:mod:`runbook.properties.decisions`) builds on this one, so :func:`review` takes it as
:class:`DecisionSource` rather than importing it back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import javaproperties

from runbook.properties.codec import (
    Parsed,
    PropertiesError,
    has_placeholder,
    is_only_placeholder,
    is_placeholder,
    line_end,
    parse,
    read_properties,
    rewrite_entry,
    sha256_text,
    spelled_value,
    uncomment,
    written_key,
)
from runbook.redact import carries_a_password, is_secret_key, mask_value

__all__ = [
    "ApplyResult",
    "Choice",
    "DecisionError",
    "DecisionSource",
    "Duplicate",
    "KeyReview",
    "Review",
    "Status",
    "review",
    "review_files",
]


class DecisionError(ValueError):
    """A decision that does not fit the key it was made on (e.g. keep-old with no old value).

    ``str()`` begins with the key as a file spells it, then ": " (:func:`_refused`)."""


def _refused(key: str, why: str) -> DecisionError:
    """The refusal of a decision on `key`, which it names as the editor and
    --check show it, escaped (operator review: "weird=key: ..." where the row
    says weird\\=key, and where the key ends was a guess again)."""
    return DecisionError(f"{written_key(key)}: {why}")


class Status(StrEnum):
    UNCHANGED = "unchanged"
    CARRIED = "carried"
    UNCOMMENTED = "uncommented"
    NEEDS_VALUE = "needs-value"
    NEW_DEFAULT = "new-default"
    REMOVED = "removed"
    OVERRIDDEN = "overridden"
    # Not what the files say but what the review did: a value chosen in it
    # (typed with e, or set in the decisions file) in place of the live one.
    # Front ends file a key under it (KeyReview.group); its status stays what
    # the files say, which the letters that act on it go by.
    EDITED = "edited"

    @property
    def meaning(self) -> str:
        """One line that says what the status means, for every front end to share."""
        found, unless_decided = _MEANING[self]
        return f"{found}; {unless_decided}" if unless_decided else found

    @property
    def found(self) -> str:
        """What the two files say of the key, without what happens by default:
        for a key decided otherwise (operator trial: "the live value is kept"
        above a typed value)."""
        return _MEANING[self][0]


_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_BOOLEAN = ("true", "false")


def another_kind(key: str, value: str, like: str, where: str) -> str | None:
    """Why `value` cannot stand where `where` (the template, the live file)
    has `like`: true or false, or a whole number, must stay so. Red5 reads
    such keys as booleans and numbers when its webapp starts (inferred: it
    fails there, or reads a word as false), so a typo would be found only
    with the stream manager down (operator trial: `abc` for a key that is
    false in the template). The value is not repeated: it may be a secret
    typed blind. The key is named as a file spells it (written_key)."""
    key = written_key(key)
    if like.lower() in _BOOLEAN and value.lower() not in _BOOLEAN:
        return f"{key}: {where} has {like} here, so the value must be true or false"
    if _WHOLE_NUMBER.fullmatch(like) and not _WHOLE_NUMBER.fullmatch(value):
        return (f"{key}: {where} has the whole number {like} here, so the value must be a "
                "whole number too (digits only, no unit)")
    return None


def against_the_template(template: str, name: str, values: Mapping[str, str]) -> list[str]:
    """What the template alone says against values decided before any file
    on the host is read (the config's [properties] set): each value of
    another kind than the template's, active or commented out. Secrets have
    no kind to keep (_refuse_another_kind)."""
    parsed = parse(template, name)
    said = []
    for key, value in values.items():
        found = parsed.active.get(key) or parsed.commented.get(key)
        if found is None or is_secret_key(key) or is_placeholder(found[1]):
            continue
        why = another_kind(key, value, found[1], "the template")
        if why is not None:
            said.append(why)
    return said


def _refuse_another_kind(kr: KeyReview, value: str) -> None:
    """A typed value must be of the kind the key's template (or, where the
    template has a placeholder, live) value is (another_kind). A secret has
    no kind to keep: a new password need not look like the old one, and the
    refusal would have said the live one (review)."""
    if kr.secret:
        return
    found = next(((seen, where) for seen, where in
                  ((kr.new, "the template"), (kr.new_commented, "the template"),
                   (kr.old, "the live file"))
                  if seen is not None and not is_placeholder(seen)), None)
    why = another_kind(kr.key, value, *found) if found is not None else None
    if why is not None:
        raise DecisionError(why)


# What the files say of a key, and what happens to it unless someone decides.
_MEANING = {
    Status.UNCHANGED: ("same value in the live file and the new template", ""),
    Status.CARRIED: ("both files set it differently", "the live value is kept"),
    Status.UNCOMMENTED: ("commented out in the new template but set in the live file",
                         "the line is uncommented with the live value"),
    Status.NEEDS_VALUE: ("only the new template has it, as a placeholder or blank",
                         "someone has to give it a value"),
    Status.NEW_DEFAULT: ("only the new template has it, with a default",
                         "it goes in once someone confirms it or gives another value"),
    Status.REMOVED: ("only the live file has it", "left out unless someone keeps it"),
    Status.OVERRIDDEN: ("set by the runbook itself or by --set", ""),
    Status.EDITED: ("a value chosen in the review replaces the live one", ""),
}


class Choice(StrEnum):
    """An explicit decision on one key; the same words are used in the decisions file."""

    KEEP_OLD = "keep-old"
    ACCEPT_NEW = "accept-new"
    SET = "set"
    KEEP = "keep"
    DROP = "drop"


@dataclass
class ApplyResult:
    """What :meth:`Decisions.apply` did, so a front end can say it plainly.

    Defined here rather than beside ``Decisions`` because a :class:`Review` carries it
    (``decision_result``) and this module must not import the decisions file back.
    """

    applied: list[str] = field(default_factory=list)
    # The live value changed since the decision: decide again.
    reopened: list[str] = field(default_factory=list)
    # accept-new decisions whose template value changed since.
    reopened_new: list[str] = field(default_factory=list)
    # The decision no longer fits the key (e.g. keep on a key that is no longer removed).
    rejected: dict[str, str] = field(default_factory=dict)
    # Set by the runbook or --set: that value wins over any recorded decision.
    skipped: list[str] = field(default_factory=list)
    # Recorded keys that neither file has any more.
    stale: list[str] = field(default_factory=list)
    # key -> environment variable that should hold its (secret) value but is not set.
    missing_env: dict[str, str] = field(default_factory=dict)
    old_changed: bool = False
    new_changed: bool = False
    # Keys the run's review decided after the file was applied, and whether
    # the file it wrote them into (the editor's w), if it did: not "applied
    # to 0 keys" alone (operator re-trial 57b, F-D).
    in_review: list[str] = field(default_factory=list)
    written_to: str = ""


# ---------------------------------------------------------------------------------------
# The review


# The key a run points at the new database itself (steps/properties_step.py),
# over any decision: so none about it is recorded.
NEW_DATABASE_KEY = "config.dbHost"
# Said of it wherever a review without that value shows it (`runbook diff`
# a day ahead): its merged value there is still the live database.
NEW_DATABASE_NOTE = ("config.dbHost keeps the live value in this review. The runbook's "
                     "properties step points it at the new database; to preview that, add "
                     "--set config.dbHost=HOST.")

# What a key's value must agree with outside this file, said wherever the
# review explains the key (the editor's detail, --check): the review asks for
# a real cluster.password, and changed here alone it locks the nodes out
# (FACTS §1.4: it must equal the password in the nodes' conf/cluster.xml).
KEY_NOTES: dict[str, str] = {
    "cluster.password": ("It must be the same as in conf/cluster.xml of the nodes' image: "
                         "change it only with an image that has the new one, or the nodes "
                         "recreate launches cannot join this stream manager."),
}

# Why a decided key is looked at again, when its live value is what moved.
CHANGED_SINCE_DECIDED = "the live value changed since it was decided"
# ... where it is not a value that moved but the key itself (trial 53: a key
# new in the live file and one deleted from it read "the live value changed").
ADDED_SINCE_DECIDED = "the key was added to the live file since it was decided"
GONE_SINCE_DECIDED = "the key is gone from the live file since it was decided"
TEMPLATE_CHANGED_SINCE_ACCEPTED = ("the template's value changed since its default "
                                   "was accepted")


class ToConfirm(NamedTuple):
    """Keys with a value nobody has confirmed, apart from Red5's sample values."""

    defaults: list[str]  # a new default of the template
    renamed: list[str]  # a live value under the key's new name (Review.carried_from)
    blanks: list[str]  # a live blank where the template asks for a value


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
    # Why an earlier decision no longer holds (the live value changed, its
    # secret's variable is not set); empty while it holds.
    reopened: str = ""
    sample: bool = False  # the merged value is one Red5 publishes as an example

    @property
    def left_blank(self) -> bool:
        """The template has the key with no value (a needs-value key that `a`
        decides blank)."""
        return self.new == ""

    @property
    def group(self) -> Status:
        """The status a front end files the key under: EDITED where a value
        chosen in the review replaces the live one, else what the files say.
        A hand change to a production value filed as unchanged, "same value
        in the live file and the new template", went unseen in the change
        ticket, where the same change given with --set read overridden
        (trial 55)."""
        if self.choice is Choice.SET and self.old is not None and self.merged != self.old:
            return Status.EDITED
        return self.status

    @property
    def blank_over_placeholder(self) -> bool:
        """The live file leaves it blank where the new template has a
        placeholder, and nobody has said blank is meant (trial 57 F15)."""
        return (not self.acknowledged and self.merged == "" and self.new is not None
                and has_placeholder(self.new))

    @property
    def is_open(self) -> bool:
        """Not ready for the merged file: undecided, unconfirmed, or still a placeholder."""
        return (not self.decided or not self.acknowledged
                or (self.merged is not None and has_placeholder(self.merged)))

    def show(self, value: str | None, *, reveal: bool = False) -> str | None:
        """A value as it may be shown to a person: secrets masked unless revealed
        (a bare placeholder is no secret, only the template's "to decide")."""
        if value is None or reveal or not self.secret or is_only_placeholder(value):
            return value
        return mask_value(value)


# Values Red5 hands out as examples, which are nobody's real settings: what the shipped
# 5.1.1 and 6.2.0 templates set (cluster.password), and the "sample red5-web.properties
# file content" of the AWS guide (shared/red5pro/red5-web.properties.docs-aws-sample),
# which operators copy from. Found in a merged file, each needs someone's explicit word.
_SAMPLE_VALUES: dict[str, frozenset[str]] = {
    "cluster.password": frozenset({"changeme"}),
    "config.dbHost": frozenset({"streammanager-db.abcdefghi.us-west-1.rds.amazonaws.com"}),
    "config.dbPass": frozenset({"123445ffff"}),
    "aws.accessKey": frozenset({"ABCDEFGHIJKLMNOPQ"}),
    "aws.accessSecret": frozenset({"12344556778abcdeFGHIJKLMNOPabud12345"}),
    "rest.administratorToken": frozenset({"123abc"}),
    "serverapi.accessToken": frozenset({"456xyz"}),
}


def closest(name: str, known: Sequence[str], cutoff: float = 0.6) -> str | None:
    """The known name a misspelt one most likely meant, if any is at least
    `cutoff` alike (difflib's ratio; its default 0.6 unless said)."""
    import difflib  # here: only a mistake needs it

    close = difflib.get_close_matches(name, known, n=1, cutoff=cutoff)
    return close[0] if close else None


def _near_a_secret(key: str, secrets: list[str]) -> bool:
    """A key the template does not set, a near miss of one of the `secrets`
    (the files' secret-named keys): masked as one, since the likeliest reason
    is a misspelt secret (trial: cluster.pasword in clear). Only those are
    compared: against every key, a 5,000-key pair took 40 s (diff trial)."""
    # A near miss only (cluster.pasword, cluster.passwd): cluster.passive is
    # no secret, and a secret's value is masked all through a run (review).
    return closest(key, [known for known in secrets if known != key], cutoff=0.9) is not None


def is_sample(key: str, value: str | None, shipped: str | None, secret: bool) -> bool:
    """True when ``value`` is one Red5 publishes as an example for ``key``, or is the
    template's own value (``shipped``) of a secret: no real secret ships in a template."""
    if not value:
        return False
    if value in _SAMPLE_VALUES.get(key, ()):
        return True
    return secret and value == shipped and not has_placeholder(value)


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
    "# file (kept on purpose during the properties review), were set with --set, or are",
    "# read by the new release's cloud-controller bean.",
    "# Check after the upgrade that this version of the stream manager still reads them.",
)



# A live bean may set a property with a value written in applicationContext.xml
# rather than as ${key} (off the install pages' procedure, which say not to
# change the bean's values: FACTS section 4). read_before then names, for the
# key the new bean reads for that property, this marker and the property:
# the live value is in the live XML, not in any key of the live file.
_IN_THE_LIVE_BEAN = "applicationContext.xml#"


def written_in_the_live_bean(prop: str) -> str:
    """read_before's value for a property the live bean writes in its XML."""
    return _IN_THE_LIVE_BEAN + prop


def live_bean_writes(was: str | None) -> str | None:
    """The property a read_before value says the live bean writes in its
    XML; None for a key of the live file (or none)."""
    return was[len(_IN_THE_LIVE_BEAN):] if was and was.startswith(_IN_THE_LIVE_BEAN) else None

class Review:
    """The classification of every key plus the decisions taken so far.

    Built by :func:`review`. Decision methods raise :class:`DecisionError` when a decision
    does not fit the key; they never raise for a decision that merely repeats the default.
    """

    def __init__(self, old: Parsed, new: Parsed, overrides: Mapping[str, str],
                 needs: Mapping[str, str] | None = None,
                 read_before: Mapping[str, str] | None = None) -> None:
        self.old_name = old.name
        self.new_name = new.name
        self._old = old
        self._new = new
        #: Keys the template has only on a commented-out line: not review keys
        #: unless the new bean reads them (`needs`).
        self.commented_in_template: frozenset[str] = frozenset(new.commented)
        self._overrides = dict(overrides)
        #: Keys the new release reads from this file to start (key -> what reads
        #: it: the controller bean's class), which the merge must set.
        self.needs: dict[str, str] = dict(needs or {})
        #: Of those, the key the live install's bean read for the same
        #: property, where it read another (needed key -> old key).
        self.read_before: dict[str, str] = dict(read_before or {})
        #: The needed keys neither file sets that the merge gives the live
        #: file's value of that old key (needed key -> old key).
        self.carried_from: dict[str, str] = {}
        #: Those of them the review has only because it is read so (neither
        #: file sets them), and those only the live file has: left unset
        #: unless decided, so each says why.
        self.for_the_bean: list[str] = []
        self._targets: dict[str, tuple[str, int]] = {}
        self._base: dict[str, KeyReview] = {}
        self._current: dict[str, KeyReview] = {}
        self._values: dict[str, str] = {}  # the value behind each Choice.SET
        #: What the last Decisions.apply did, for front ends to report.
        self.decision_result: ApplyResult | None = None
        #: Where the new template is not the release's own (a rehearsal's
        #: stand-in): the words that say so, beside the template's name.
        self.stand_in: str | None = None
        #: Values the operator gave (`runbook diff --set`): overrides here, and
        #: decisions in a decisions file written from this review. The runbook's
        #: own overrides (config.dbHost in a run) are decided afresh every time.
        self.asked: dict[str, str] = {}
        # Keys only one file has, by their lower case (case_twin); built when first asked.
        self._by_case: dict[str, list[str]] | None = None
        self._classify(dict(overrides))
        self._classify_needed()
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
            merged: str | None
            if key in overrides:
                status, merged = Status.OVERRIDDEN, overrides[key]
            elif found is not None:
                merged = old_value
                status = unchanged if old_value == value else carried
                # A blank live value where the new template asks for one
                # (5.1.1's serverapi.accessToken against 6.2.0's placeholder,
                # a key the docs port by hand) is carried once someone says
                # blank is meant (trial 57 F15).
                acknowledged = not (old_value == "" and has_placeholder(value))
            elif is_placeholder(value):
                status, merged = Status.NEEDS_VALUE, value
                decided = acknowledged = False
            else:
                status, merged, acknowledged = Status.NEW_DEFAULT, value, False
            secret = is_secret_key(key) or any(
                carries_a_password(text) for text in (old_value, value, merged))
            sample = status is not Status.OVERRIDDEN and is_sample(key, merged, value, secret)
            base[key] = KeyReview(
                key, status, old_value, value, merged, secret, decided,
                new.section(at), old_line, new.starts[at], acknowledged and not sample,
                sample=sample,
            )  # fmt: skip

        # Keys the template does not set: from the live file, or from --set alone.
        secrets = [k for k in {**new_active, **old_active} if is_secret_key(k)]
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
            # A near miss of a secret's name is masked as the secret, from the
            # live file as from --set (security trial: cluster.pasword in clear).
            secret = is_secret_key(key) or any(
                carries_a_password(text) for text in (old_value, merged)) or (
                key not in commented and _near_a_secret(key, secrets))
            sample = status is not Status.OVERRIDDEN and is_sample(key, merged, None, secret)
            base[key] = KeyReview(
                key, status, old_value, None, merged, secret, True,
                section, old_line, new_line, not sample, new_commented=commented_value,
                sample=sample,
            )  # fmt: skip

    def _classify_needed(self) -> None:
        """The keys the new release reads (self.needs) that neither file sets
        nor the runbook does: the template's commented-out line holds the value
        the merge uncomments (a new default to confirm), or, where it has only
        a placeholder or no line at all, someone must give one. Where the live
        install's bean read the same property under another key the live file
        sets (read_before), that live value is offered in place of the
        template's, to confirm (review 57d M2: a live false became the
        template's true). A needed key only the live file has is not left out
        by default: someone decides. Red5 keys and values come from the two
        files only, never made up."""
        commented, base, new = self._new.commented, self._base, self._new
        for key in self.needs:
            if key in base:
                if base[key].merged is None:
                    base[key] = base[key]._replace(decided=False)
                    self.for_the_bean.append(key)
                continue
            self.for_the_bean.append(key)
            found = commented.get(key)
            value = found[1] if found is not None else None
            if found is not None:
                self._targets[key] = (_COMMENT, found[0])
                section, new_line = new.section(found[0]), new.starts[found[0]]
            else:
                self._targets[key] = (_APPEND, -1)
                section, new_line = None, None
            secret = is_secret_key(key) or (value is not None and carries_a_password(value))
            was = self.read_before.get(key)
            live = self._old.active.get(was) if was is not None else None
            if was is not None and live is not None and found is not None:
                self.carried_from[key] = was
                secret = secret or is_secret_key(was) or carries_a_password(live[1])
                base[key] = KeyReview(
                    key, Status.UNCOMMENTED, live[1], value, live[1], secret, True, section,
                    self._old.starts[live[0]], new_line, False, new_commented=value,
                    sample=is_sample(key, live[1], value, secret))
            elif value is not None and not is_placeholder(value):
                sample = is_sample(key, value, value, secret)
                base[key] = KeyReview(
                    key, Status.NEW_DEFAULT, None, value, value, secret, True, section, None,
                    new_line, False, new_commented=value, sample=sample)
            else:
                base[key] = KeyReview(
                    key, Status.NEEDS_VALUE, None, value, value, secret, False, section, None,
                    new_line, False, new_commented=value)

    @property
    def unset_in_the_live_file(self) -> list[str]:
        """The keys the review has only because the new release's bean reads
        them: neither file sets them (the live file may set the key the live
        bean read for the same property, carried_from)."""
        return [key for key in self.for_the_bean if key not in self._old.active]

    def needed_note(self, key: str) -> str | None:
        """Why the merge must set `key`, for a key the new release reads: said
        wherever the review explains a key (the editor's detail, --check)."""
        if key not in self.for_the_bean:
            return None
        by = self.needs[key]
        said = (f"The new release's {by} bean reads it: while red5-web.properties leaves it "
                "unset, the stream manager does not start.")
        kr = self._base[key]
        was = self.carried_from.get(key)
        if was is not None:
            said += (f" The live file sets {written_key(was)} instead, which the same property "
                     "read in the live install's bean: the merge takes its value once you "
                     "confirm it, unless you give another.")
        elif (kr.old is None and kr.new_commented is not None
              and kr.status is Status.NEW_DEFAULT):
            said += (" The template ships it commented out; the merge uncomments it with the "
                     "template's value unless you give another.")
        elif (was := self.read_before.get(key)) is not None and was in self._old.active:
            said += (f" The live file sets {written_key(was)}, which the same property read "
                     "in the live install's bean: give its value here to keep it.")
        if (prop := live_bean_writes(self.read_before.get(key))) is not None:
            said += (f" The live install's bean sets its {prop} in applicationContext.xml "
                     "itself, not from this file: its value is there.")
        return said

    def notes(self, key: str) -> list[str]:
        """What a front end says of a key beyond its values: what it must
        agree with outside this file (KEY_NOTES), and why the new release
        needs it (needed_note)."""
        notes = [KEY_NOTES[key]] if key in KEY_NOTES else []
        needed = self.needed_note(key)
        if needed is not None:
            notes.append(needed)
        for new_key, was in self.carried_from.items():
            if was == key:
                notes.append(f"The new release's bean reads the same property as "
                             f"{written_key(new_key)}: the merge offers this value there.")
        return notes

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

    def case_twin(self, key: str) -> str | None:
        """For a key only one file has (removed, or new in the template), the
        key only the other has that differs from it in case alone. Java tells
        them apart, so the review does too, but it is likely one key respelt
        and the live value lost (operator trial: serverApi.port removed beside
        a new serverapi.port, nothing relating them)."""
        sides = ({Status.REMOVED}, {Status.NEW_DEFAULT, Status.NEEDS_VALUE})
        if self._by_case is None:
            self._by_case = {}
            for kr in self._base.values():
                if any(kr.status in side for side in sides):
                    self._by_case.setdefault(kr.key.lower(), []).append(kr.key)
        status = self._base[key].status
        mine = next((side for side in sides if status in side), None)
        if mine is None:
            return None
        twins = [other for other in self._by_case.get(key.lower(), [])
                 if self._base[other].status not in mine]
        return closest(key, twins, cutoff=0) if twins else None

    def off_default(self, key: str) -> bool:
        """The key is open, was open before any decision (a default since
        confirmed, a value given), or holds another value than its default:
        what a short account of a review lists, the defaults left out."""
        kr, base = self._current[key], self._base[key]
        return kr.is_open or base.is_open or kr.merged != base.merged

    def afresh(self, decisions: DecisionSource | None) -> Review:
        """The same files and overrides reviewed anew, with `decisions`
        applied: what a review taken up again from a decisions file opens
        with (decisions taken here and not saved are not in it)."""
        result = Review(self._old, self._new, self._overrides, self.needs, self.read_before)
        if decisions is not None:
            result.decision_result = decisions.apply(result)
        return result

    @property
    def undecided(self) -> list[str]:
        """Keys that still need a decision before the merged file may be written."""
        return [k for k, kr in self._current.items() if not kr.decided]

    @property
    def unacknowledged(self) -> list[str]:
        """Keys a front end should highlight until someone has looked at them."""
        return [k for k, kr in self._current.items() if not kr.acknowledged]

    @property
    def unconfirmed(self) -> list[str]:
        """Keys with a value nobody has confirmed: a new default, or Red5's sample value.
        :meth:`confirm` takes each as it stands."""
        return [k for k, kr in self._current.items() if kr.decided and not kr.acknowledged]

    @property
    def open_keys(self) -> list[str]:
        """Every key that keeps the merged file from being written (:attr:`KeyReview.is_open`)."""
        return [k for k, kr in self._current.items() if kr.is_open]

    @property
    def left_out(self) -> list[str]:
        """Keys only the live file has that the merged file leaves out: by
        default, or decided so. Front ends count them where a reviewer looks
        (trial 55: a plugin's own key went unless someone read the removed
        group through)."""
        return [k for k, kr in self._current.items()
                if kr.status is Status.REMOVED and kr.merged is None]

    @property
    def blank_where_expected(self) -> list[str]:
        """Keys the live file leaves blank where the new template has a
        placeholder, nobody has confirmed yet: o (or confirm) keeps them blank."""
        return [k for k, kr in self._current.items() if kr.decided and kr.blank_over_placeholder]

    @property
    def to_confirm(self) -> ToConfirm:
        """The keys with a value nobody has confirmed, Red5's sample values
        apart (leftover_samples), by why each waits: one split for --check,
        headless and the editor."""
        samples, blanks = set(self.leftover_samples), self.blank_where_expected
        rest = [k for k in self.unconfirmed if k not in samples and k not in blanks]
        return ToConfirm([k for k in rest if k not in self.carried_from],
                         [k for k in rest if k in self.carried_from], blanks)

    @property
    def leftover_samples(self) -> list[str]:
        """Keys whose merged value is Red5's sample and nobody has said it is meant."""
        return [k for k, kr in self._current.items() if kr.sample and not kr.acknowledged]

    @property
    def summary(self) -> dict[Status, int]:
        """How many keys each front end files under each status (KeyReview.group)."""
        counts = dict.fromkeys(Status, 0)
        for kr in self._current.values():
            counts[kr.group] += 1
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
    def line_ends(self) -> tuple[str, str]:
        """How the live file and the template end their lines (each one's
        first line break). The merged file keeps the template's."""
        return self._old.eol, self._new.eol

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
            raise _refused(key, "not a key of either file")
        kr = self._current[key]
        if kr.status is Status.OVERRIDDEN:
            raise _refused(key, "its value is set by the runbook or by --set; change it there")
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
        if merged is None and key in self.needs:
            raise _refused(key, f"the new release's {self.needs[key]} bean reads it, so the "
                                "merged file must set it; give it a value")
        if choice is Choice.SET:
            assert value is not None
            self._values[key] = value
        else:
            self._values.pop(key, None)
        self._current[key] = base._replace(
            merged=merged, decided=True, acknowledged=True, choice=choice, reopened="",
            sample=is_sample(key, merged, base.new, base.secret),
        )

    def keep_old(self, key: str) -> None:
        """Use the live file's value (for a removed key: keep it)."""
        kr = self._decidable(key)
        if kr.old is None:
            raise _refused(key, "not in the old file, so there is no old value to keep")
        self._decide(key, Choice.KEEP if kr.status is Status.REMOVED else Choice.KEEP_OLD)

    def accept_new(self, key: str) -> None:
        """Take the template as it stands: its value, its commented line, or no line at all."""
        kr = self._decidable(key)
        if kr.status is Status.REMOVED:
            self._decide(key, Choice.DROP)
            return
        if kr.new is not None and has_placeholder(kr.new):
            raise _refused(key, "the new template has only a placeholder here; set a real value")
        self._decide(key, Choice.ACCEPT_NEW)

    def set_value(self, key: str, value: str) -> None:
        """Use this exact value (for a commented key: uncomment it; removed: keep it)."""
        kr = self._decidable(key)
        if not isinstance(value, str):
            raise _refused(key, "a value must be text")
        _refuse_another_kind(kr, value)
        self._decide(key, Choice.SET, value)

    def keep_removed(self, key: str) -> None:
        kr = self._decidable(key)
        if kr.status is not Status.REMOVED:
            raise _refused(key, f"only a removed key can be kept; this one is {kr.status}")
        self._decide(key, Choice.KEEP)

    def drop_removed(self, key: str) -> None:
        kr = self._decidable(key)
        if kr.status is not Status.REMOVED:
            raise _refused(key, f"only a removed key can be dropped; this one is {kr.status}")
        self._decide(key, Choice.DROP)

    def confirm(self, key: str) -> None:
        """Take the value the merged file holds now as this key's explicit decision:
        a new default or a sample value someone has looked at and means."""
        kr = self._decidable(key)
        if not kr.decided:
            raise _refused(key, "has no value to confirm yet; set one")
        if kr.merged is not None and has_placeholder(kr.merged):
            raise _refused(key, "holds a placeholder; set a real value")
        if kr.choice is Choice.SET:
            self._decide(key, Choice.SET, self._values[key])
        elif kr.choice is not None:
            self._decide(key, kr.choice)
        elif kr.status is Status.NEW_DEFAULT:
            self._decide(key, Choice.ACCEPT_NEW)
        elif kr.status is Status.REMOVED:
            self._decide(key, Choice.DROP)
        else:
            self._decide(key, Choice.KEEP_OLD)

    def reset(self, key: str) -> None:
        """Forget any decision on this key: back to the built-in default."""
        self._decidable(key)
        self._values.pop(key, None)
        self._current[key] = self._base[key]

    def reopen(self, key: str, why: str = CHANGED_SINCE_DECIDED) -> None:
        """Mark a key as needing a fresh look, saying `why`; the default stays in
        the merged file meanwhile."""
        if key not in self._current:
            raise _refused(key, "not a key of either file")
        self._values.pop(key, None)
        self._current[key] = self._base[key]._replace(
            decided=False, acknowledged=False, reopened=why
        )

    # -- the merged file ---------------------------------------------------------------

    def _as_live_spells(self, key: str, value: str) -> str | None:
        """The live file's own text for `key`'s value, when the merge carries
        that value (codec.spelled_value); None otherwise."""
        found = self._old.active.get(key)
        if found is None or found[1] != value:
            return None
        return spelled_value(self._old.elements[found[0]].source)

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
                    changed[at] = rewrite_entry(new.elements[at].source, kr.merged,
                                                self._as_live_spells(key, kr.merged))
            elif kr.merged is None:
                continue
            elif kind == _COMMENT:
                changed[at] = uncomment(new.elements[at], kr.merged,
                                        self._as_live_spells(key, kr.merged))
            else:
                appended.append((key, kr.merged))
        if not changed and not appended:
            return new.text
        parts = [changed.get(i, el.source) for i, el in enumerate(new.elements)]
        if appended:
            # Continue with the last line's own break: a file that mixes endings and
            # ends in CR would otherwise gain an LF that turns it into one CRLF.
            eol = line_end(parts[-1]) if parts else ""
            if not eol:
                eol = new.eol
                if parts:
                    parts.append(eol)
            parts.append(eol)
            parts.extend(line + eol for line in _KEPT_BLOCK)
            parts.extend(f"{javaproperties.join_key_value(k, v)}{eol}" for k, v in appended)
        return "".join(parts)


# Keys every shipped red5-web.properties has (5.1.1.236, 6.2.0.b406, the API 4.0 one): where
# the database is, from the top of the file, and proxy.enabled from near its end, so a
# file cut off anywhere before its last lines misses at least one.
_RED5_KEYS = ("config.dbHost", "config.dbPort", "config.dbUser", "config.dbPass", "proxy.enabled")
# Keys enough for a file without any of those to be another file, not the top
# of one cut short (a red5-web.properties sets two keys before config.dbHost).
_A_FILE_OF_ITS_OWN = 10


def _refuse_cut_short(file: Parsed, other: Parsed, remedy: str) -> None:
    """A file with no keys, or without the Red5 keys the other file has, was cut short
    (issue 7): merged, it would replace a working configuration with a few lines. So
    was one that stops inside its last value: no line break after it, and the value
    not of the kind the other file has there (diff trial: proxy.enabled=tr)."""
    last = max(file.active.items(), key=lambda item: item[1][0], default=None)
    if last is not None and file.text and file.text[-1] not in "\r\n":
        key, (_at, value) = last
        found = other.active.get(key)
        why = None if found is None or is_secret_key(key) or is_placeholder(found[1]) \
            else another_kind(key, value, found[1], f"{other.name}")
        if why is not None:
            raise PropertiesError(
                f"{file.name}: its last line has no line break after it, and "
                f"{why}; it may have been cut short, and nothing is merged into or from it: "
                f"{remedy}, then review again")
    if not file.active:
        empty = " (the file is empty)" if not file.text.strip() else ""
        problem = f"has no keys{empty}"
    else:
        missing = [key for key in _RED5_KEYS if key not in file.active]
        # Checked against the other file, so two files that are not red5-web.properties
        # at all can still be compared.
        if not missing or not all(key in other.active for key in _RED5_KEYS):
            return
        # A file cut off in its first lines has a key or two before them
        # (webapp.contextPath), which the other file has too: cut short, not
        # another file (second review). Not one key the other has, or many
        # keys but none of those: another file given for it (applicationContext.xml
        # sits beside it; trial 57 F6, a.json), not one cut short (diff trial:
        # "restore it from a backup" said of a production file that was fine).
        if len(missing) == len(_RED5_KEYS) and (
                len(file.active) >= _A_FILE_OF_ITS_OWN
                or not any(key in other.active for key in file.active)):
            raise PropertiesError(
                f"{file.name}: does not look like a red5-web.properties (none of "
                f"{', '.join(_RED5_KEYS)} is set in it, and {other.name} sets them all); "
                "check the paths (the live red5-web.properties first, then the new "
                "release's template) and review again")
        problem = (f"lacks {', '.join(missing)}, which every Red5 red5-web.properties "
                   f"has ({other.name} has {'it' if len(missing) == 1 else 'them'})")
    raise PropertiesError(
        f"{file.name}: {problem}; it may have been cut short, and nothing is merged into "
        f"or from it: {remedy}, then review again"
    )


class DecisionSource(Protocol):
    """What :func:`review` needs of a decisions file: replay it onto a fresh review.

    :class:`runbook.properties.decisions.Decisions` is the one implementation; naming it
    here would import the decisions module, which imports this one.
    """

    def apply(self, review: Review) -> ApplyResult: ...


def review(
    old_text: str,
    new_text: str,
    *,
    old_name: str = "old",
    new_name: str = "new",
    overrides: dict[str, str] | None = None,
    decisions: DecisionSource | None = None,
    set_by: str = "--set",
    needs: Mapping[str, str] | None = None,
    read_before: Mapping[str, str] | None = None,
) -> Review:
    """Classify every key of ``old`` (the live file) against ``new`` (the new template).

    ``overrides`` are values the runbook sets itself (config.dbHost and config.dbPort for
    the new database) or that came from ``--set``, or in a run the config's [properties]
    set: what ``set_by`` names in a refusal. They beat any decision. ``decisions``
    (a loaded decisions file) is applied last; what it did is in ``decision_result``.
    ``needs`` names the keys the new release reads to start (key -> the bean that reads
    it): each one the files leave unset is reviewed as a key the new template has.
    ``read_before``: of those, the key the live install's bean read for the same
    property where it read another; the live file's value of it is offered.
    Raises :class:`PropertiesError` for a file Java would not read the same way, and for
    one that looks cut short: no keys, or without the Red5 keys the other file has.
    """
    old, new = parse(old_text, old_name), parse(new_text, new_name)
    _refuse_cut_short(old, new, "restore the live red5-web.properties from a backup")
    _refuse_cut_short(new, old, "take red5-web.properties again from the new release's zip")
    result = Review(old, new, overrides or {}, needs, read_before)
    for key, value in (overrides or {}).items():
        try:
            _refuse_another_kind(result[key], value)
        except DecisionError as exc:
            raise PropertiesError(f"{set_by} {exc}") from None
    if decisions is not None:
        result.decision_result = decisions.apply(result)
    return result


def review_files(old: Path | str, new: Path | str, **options: Any) -> Review:
    """:func:`review` on two files, named by their paths in every message."""
    old_text = read_properties(old)
    new_text = read_properties(new)
    return review(old_text, new_text, old_name=str(old), new_name=str(new), **options)
