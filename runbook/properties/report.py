"""``runbook diff --check`` / ``--json``: the properties review without the editor.

Also the plain-text rendering the runbook's ``properties`` step prints. Secret values are
masked (with a short fingerprint, so equal secrets can be matched) unless revealed.

The top of :mod:`runbook.properties`: it reads files (codec), reviews them (model) and
loads or writes the decisions file (decisions); none of those import it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from runbook.colour import PLAIN, Painter
from runbook.properties.codec import (
    PropertiesError,
    atomic_write,
    cannot_write_to,
    dropped_escapes,
    encode_properties,
    has_placeholder,
    read_properties,
    spelled_as,
    spelled_key,
    utf8_meant,
    written_key,
)
from runbook.properties.decisions import Decisions, DecisionsError, env_name_for
from runbook.properties.model import (
    NEW_DATABASE_KEY,
    NEW_DATABASE_NOTE,
    ApplyResult,
    KeyReview,
    Review,
    Status,
    closest,
    review,
)
from runbook.streams import write_whole
from runbook.visible import visible, visible_json

__all__ = ["diff_command", "given_the_wrong_way_round", "identical_files", "merged_written",
           "one_file_given_twice", "parse_sets", "read_as_latin1", "render_review",
           "review_to_json", "saved_as_utf8"]

# The order an operator should read the groups in: what needs them first.
_GROUP_ORDER = (
    Status.NEEDS_VALUE,
    Status.NEW_DEFAULT,
    Status.REMOVED,
    Status.UNCOMMENTED,
    # A production value changed by hand: ahead of the runbook's own overrides.
    Status.EDITED,
    Status.OVERRIDDEN,
    Status.CARRIED,
    Status.UNCHANGED,
)


# The key of --set KEY=VALUE ends at the first = it does not escape: a key
# may be given as --check spells it, `weird\\=key=x` (review).
_SET_KEY = re.compile(r"(?:[^\\=]|\\.)*", re.DOTALL)


def _split_set(item: str) -> tuple[str, str] | None:
    """A --set argument's key, as typed, and value; None without an = that
    ends the key. The key's own spaces come off, but not one it escapes."""
    found = _SET_KEY.match(item)
    end = found.end() if found else 0
    if item[end:end + 1] != "=":
        return None
    typed = item[:end].lstrip()
    key = typed.rstrip()
    if key != typed and (len(key) - len(key.rstrip("\\"))) % 2:
        key = typed[:len(key) + 1]  # `key\\ =`: the space is the key's
    return key, item[end + 1:]


def parse_sets(sets: Iterable[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` arguments -> overrides. Raises ValueError with one line.

    KEY is the key itself (``my odd:key``) or as a file, and --check, spell it
    (``my\\ odd\\:key``): read as Java reads a file's key. Only a key that holds
    a backslash itself needs the file's spelling (``a\\\\b``)."""
    values: dict[str, str] = {}
    for item in sets:
        split = _split_set(item)
        if split is None or not split[0]:
            # Up to its first separator only: the rest may be a secret.
            cut = re.search(r"[=:\s]", item)
            shown = item if cut is None else item[:cut.end()] + "…"
            raise ValueError(
                f"--set {shown!r}: write it as KEY=VALUE, e.g. --set config.dbPort=3306"
            )
        typed, value = split
        dropped = dropped_escapes(typed)
        if dropped:
            raise ValueError(f"--set {visible(typed)}: {_drops(typed, dropped)}")
        try:
            key = spelled_key(typed)
        except ValueError as exc:
            raise ValueError(f"--set {visible(typed)}: {visible(str(exc))}; write the key as "
                             "runbook diff --check shows it") from None
        if key in values and values[key] != value:
            raise ValueError(f"--set {written_key(key)}: given twice with different values; "
                             "keep one")
        values[key] = value
    return values


def _drops(typed: str, dropped: list[str]) -> str:
    """What a properties file makes of a key spelt `typed`, whose backslashes
    before `dropped` it drops, and how to write what was meant."""
    chars = [visible(char) for char in dict.fromkeys(dropped)]
    named = chars[0] if len(chars) == 1 else f"{', '.join(chars[:-1])} and {chars[-1]}"
    before = f"backslash{'es' if len(dropped) > 1 else ''} before {named}"
    # Through visible(), as the other --set lines (review: an ESC went raw).
    reads, kept = visible(spelled_as(typed, "")), visible(spelled_as(typed, "\\\\"))
    return (f"a properties file drops the {before}, so the key reads {reads}; write {reads} "
            f"for that, or {kept} for a key with a backslash in it")


def _known_keys(review: Review) -> list[str]:
    """The keys either file has, a key the template has commented out too."""
    return [kr.key for kr in review
            if kr.old is not None or kr.new is not None or kr.new_commented is not None]


def _did_you_mean(key: str, known: list[str], show: Callable[[str], str] = visible) -> str:
    close = closest(key, known)
    return f"; did you mean {show(close)}?" if close else ""


def keys_neither_file_has(review: Review, keys: Iterable[str]) -> list[str]:
    """A line for each of `keys` (a run's [properties] set) that neither file
    has: it goes in as a new key, and a typo leaves the key meant as it was
    (operator trial: said by `diff --set`, not in the window)."""
    known = _known_keys(review)
    return [f"{visible(key)} is set, and neither file has it, so it goes in as a new "
            f"key{_did_you_mean(key, known)}" for key in keys if key not in known]


def unknown_sets(review: Review, sets: Iterable[str],
                 decisions: Path | None = None) -> list[str]:
    """A line for each ``--set`` key that neither file sets (a key the template
    has commented out counts as known), and for each secret given on the
    command line.

    Such a key goes into the merged file as a new one, as asked; but a typo
    does the same, and leaves the key that was meant as it was, so it is said
    once, with the known key closest to it; keys as --check spells them, which
    --set takes too. A secret's value stays in the
    shell's history (operator trial). The `decisions` file cannot keep such a
    key, which the files alone do not have (review: it was left out unsaid)."""
    known = _known_keys(review)
    # A key only --set gives a review (in neither file, or only commented
    # out in the template) cannot be decided in a decisions file.
    not_kept = "" if decisions is None else (
        f"it is not kept in {visible(str(decisions))}, which decides only keys a review has "
        "without --set: for the window, put it in the config's [properties] set")
    lines = []
    for key in sets:
        if key in review and review[key].secret:
            lines.append(f"runbook diff: --set {written_key(key)}: a secret on the command line "
                         "stays in the shell's history; the editor (e) takes it unseen, and a "
                         f"decisions file names it as ${env_name_for(key)}")
        only_commented = key in review and review[key].old is None \
            and review[key].new is None and review[key].new_commented is not None
        if only_commented and not_kept:
            lines.append(f"runbook diff: --set {written_key(key)}: the template has this key only "
                         f"commented out and the live file not at all, so {not_kept}")
        if key in known:
            continue
        meant = _did_you_mean(key, known, written_key)
        kept = f"; {not_kept}" if not_kept else ""
        lines.append(f"runbook diff: --set {written_key(key)}: neither file sets this key, so it "
                     f"goes in as a new one{meant}{kept}")
    return lines


# Keys enough to call a live file that holds the other file's placeholders a
# template: one may be a placeholder left by mistake (a carried one stays open).
_SWAPPED_AT = 2


def given_the_wrong_way_round(review: Review) -> str | None:
    """A line for a live file that holds template placeholders ({host},
    {username}) in keys the other file gives real values: the template given
    first, near certainly (trial 55: its placeholders were reported as the
    live file's keys "still holding a placeholder")."""
    keys = [kr.key for kr in review
            if kr.old is not None and has_placeholder(kr.old)
            and kr.new and not has_placeholder(kr.new)]
    if len(keys) < _SWAPPED_AT:
        return None
    return (f"runbook diff: {visible(review.old_name)} holds template placeholders in "
            f"{_count(len(keys), 'key')} that {visible(review.new_name)} sets "
            f"({names(keys, most=4)}): did you give the template first? runbook diff takes "
            "the live file first, then the new template")


def one_file_given_twice(old: Path, new: Path) -> str | None:
    """Why two paths that name one file are no review, if they do (trial 57,
    F7: passed in silence, the live passwords called Red5's sample value).
    Only for a regular file: a directory or a device given twice is said as
    such when it is read."""
    try:
        same = old.is_file() and os.path.samefile(old, new)
    except OSError:
        return None
    if not same:
        return None
    given = f"{old} is given as both files" if str(old) == str(new) \
        else f"{old} and {new} are the same file"
    return (f"{given}; give the live red5-web.properties first, then the new release's "
            "template")


def identical_files(old: Path, new: Path) -> str | None:
    """A line for two files of the same bytes: not refused, as they may be so
    on purpose (the live file against the merged one that went live), but
    said, as the review then calls every secret Red5's sample value (trial
    57, F7)."""
    try:
        if old.read_bytes() != new.read_bytes():
            return None
    except OSError:
        return None
    return (f"runbook diff: {visible(str(old))} and {visible(str(new))} are identical: every "
            "key reads unchanged, and a secret as Red5's sample value (give the live file, "
            "then the new release's template)")


def _keys(count: int) -> str:
    return "1 key still needs" if count == 1 else f"{count} keys still need"


def names(keys: Iterable[str], *, most: int | None = None, rest: str = "") -> str:
    """Keys listed in a line, each as a terminal can show it; past `most` of
    them, how many more, and `rest` (where they are listed)."""
    listed = [written_key(key) for key in keys]
    if most is None or len(listed) <= most:
        return ", ".join(listed)
    return f"{', '.join(listed[:most])} and {len(listed) - most} more{rest}"


# A headline names this many keys at most (diff trial: 1,005 on one line).
_HEADLINE_NAMES = 15
_BELOW = " (listed below)"


def one_line(value: str) -> str:
    """A value as one readable line: invisible edges and controls shown
    quoted and escaped (a raw control character would act on the terminal)."""
    if value != value.strip() or not value.isprintable():
        return visible(json.dumps(value, ensure_ascii=False))
    return value


def _text(value: str) -> str:
    # A blank value would be invisible in plain text.
    return "(blank)" if value == "" else one_line(value)


_FILE_WORDS = {"live": "the live file", "template": "the template"}


def saved_as_utf8(kr: KeyReview, reveal: bool = False) -> list[dict[str, str | None]]:
    """The files whose value for this key is UTF-8 beyond ASCII, which Java
    reads byte by byte as ISO-8859-1 (codec.utf8_meant): each with the text
    meant and how a .properties file says it to Java, both None for a secret
    not revealed (its spelling would show it). Empty for most keys."""
    found: list[dict[str, str | None]] = []
    for file, value in (("live", kr.old), ("template", kr.new)):
        said = utf8_meant(value) if value else None
        if said is not None:
            meant, escaped = (None, None) if kr.secret and not reveal else said
            found.append({"file": file, "meant": meant, "escaped": escaped})
    return found


def read_as_latin1(kr: KeyReview, reveal: bool = False, *, typed: bool = False) -> str | None:
    """One sentence for a key whose live or template value was saved as
    UTF-8: the review shows it as the stream manager reads it, and how to
    have the characters meant read. None for the rest. Trial 55 (F8):
    "ZÃ¼rich" with no word of why read as runbook's garbling. With
    `typed`, says that e typing them writes it so (the editor)."""
    found = saved_as_utf8(kr, reveal)
    if not found:
        return None
    files = " and ".join(_FILE_WORDS[str(f["file"])] for f in found)
    said = (f"{files} {'are' if len(found) > 1 else 'is'} saved as UTF-8, but Java reads "
            "a .properties file as ISO-8859-1: the stream manager sees the value as shown")
    # The one the merged file takes, where it takes one of them.
    merged = next((f for f in found if (kr.old if f["file"] == "live" else kr.new)
                   == kr.merged), found[0])
    if merged["meant"] is None:
        return f"{said}; to have it read as the characters an editor shows, write them as \\uXXXX"
    meant, escaped = visible(str(merged["meant"])), visible(str(merged["escaped"]))
    said += f"; to have it read as {meant}, write {escaped}"
    return said + (f" (e typing {meant} does)" if typed else "")


def _key_line(kr: KeyReview, reveal: bool, paint: Painter = PLAIN,
              twin: str | None = None, notes: Iterable[str] = ()) -> str:
    def shown(value: str) -> str:
        return _text(kr.show(value, reveal=reveal) or "")

    if kr.merged is None:
        head = f"{written_key(kr.key)}  (left out of the merged file)"
    else:
        head = f"{written_key(kr.key)} = {shown(kr.merged)}"
        if kr.status is Status.REMOVED:
            head += "  (kept, in the block at the end of the file)"
    details: list[str] = []
    if kr.old is not None and kr.old != kr.merged:
        details.append(f"live: {shown(kr.old)}")
    if kr.new is not None and kr.new != kr.merged and kr.new != kr.new_commented:
        details.append(f"template: {shown(kr.new)}")
    if kr.new_commented is not None and kr.merged is not None:
        details.append(f"template had it commented out as: {shown(kr.new_commented)}")
    if twin is not None:
        details.append(f"differs only in case from {written_key(twin)}, which only the "
                       f"{'template' if kr.status is Status.REMOVED else 'live file'} has")
    if kr.new_line is not None:
        details.append(f"template line {kr.new_line}")
    elif kr.old_line is not None:
        details.append(f"live line {kr.old_line}")
    flags: list[str] = []
    if kr.reopened:
        flags.append(paint(f"REOPENED: {kr.reopened}", "bold", "red"))
    elif not kr.decided:
        flags.append(paint("NEEDS A DECISION", "bold", "red"))
    elif kr.sample and not kr.acknowledged:
        flags.append(paint("Red5's sample value, not confirmed yet", "bold", "yellow"))
    elif kr.blank_over_placeholder:
        flags.append(paint("blank in the live file, not confirmed yet", "bold", "yellow"))
    elif not kr.acknowledged:
        flags.append(paint("not confirmed yet", "bold", "yellow"))
    elif kr.is_open:
        flags.append(paint("still a placeholder", "bold", "red"))
    if kr.choice is not None:
        flags.append(f"decided: {kr.choice}")
    utf8 = read_as_latin1(kr, reveal)
    if utf8 is not None:
        flags.append(utf8)
    line = f"  {head}"
    if details:
        line += f"\n      {'; '.join(details)}"
    if flags:
        line += f"\n      [{'; '.join(flags)}]"
    for note in notes:
        line += f"\n      note: {note[:1].lower()}{note[1:]}"
    return line


_LINE_ENDS = {"\r\n": "CRLF", "\n": "LF", "\r": "CR"}


def line_ends_said(review: Review) -> str | None:
    """Where the live file ends its lines otherwise than the template, which
    the merged file follows (its lines are the template's, byte for byte):
    a diff of the live file against it then shows every line (trial 55)."""
    live, template = review.line_ends
    if live == template:
        return None
    return (f"the live file's lines end in {_LINE_ENDS[live]}, the template's in "
            f"{_LINE_ENDS[template]}: the merged file keeps the template's "
            f"{_LINE_ENDS[template]} (Java reads them alike)")


def merged_written(review: Review, out: Path | str) -> str:
    """The line that says the merged file was written, and where its line
    ends are not the live file's, how to compare the two."""
    said = f"wrote the merged file to {out}"
    ends = line_ends_said(review)
    if ends is None:
        return said
    said += f"; {ends}"
    if review.line_ends == ("\r\n", "\n"):
        said += (f": diff --strip-trailing-cr {shlex.quote(review.old_name)} "
                 f"{shlex.quote(str(out))} compares them line by line")
    return said


def _decisions_lines(result: ApplyResult, review: Review) -> list[str]:
    lines = ["Decisions file:"]
    if not result.in_review:
        lines.append(f"  applied to {len(result.applied)} keys")
    else:
        if result.applied:
            lines.append(f"  applied to {len(result.applied)} keys when the step read it")
        where = f"written to {result.written_to}" if result.written_to \
            else "not written to the file"
        more = "more " if result.applied else ""
        lines.append(f"  {len(result.in_review)} {more}decided in the review and {where}: "
                     f"{names(result.in_review)}")
    if result.old_changed:
        lines.append("  the live file changed since the decisions were written")
    if result.new_changed:
        lines.append("  the new template changed since the decisions were written; look again")
    if result.reopened:
        lines.append("  reopened (changed in the live file since the review): "
                     f"{names(result.reopened)}")
    if result.reopened_new:
        lines.append(f"  reopened (template value changed): {names(result.reopened_new)}")
    for key, why in result.rejected.items():
        lines.append(f"  not applied to {written_key(key)}: {why}")
    for key, env in result.missing_env.items():
        lines.append(f"  {written_key(key)}: environment variable {env} is not set or empty, "
                     "so its value is unknown")
    if result.skipped:
        lines.append(f"  ignored, the runbook or --set decides these: {names(result.skipped)}")
    stale = stale_decisions(result, review)
    if stale is not None:
        lines.append(f"  {stale}")
    return lines


def stale_decisions(result: ApplyResult, review: Review) -> str | None:
    """What the decisions file decides for keys neither file has, if anything:
    removed from a later template, or misspelt by hand (trial). The file
    cannot say which; the closest key can point at the one meant."""
    if not result.stale:
        return None
    # One the template has commented out is no typo: a review given the
    # applicationContext files (--contexts) reads it where the new bean does
    # (re-trial 57b, F2: called "gone from the template, or misspelt").
    commented = [key for key in result.stale if key in review.commented_in_template]
    known = [kr.key for kr in review]
    shown = []
    for key in result.stale:
        if key in commented:
            continue
        close = closest(key, known)
        shown.append(visible(key) + (f" (did you mean {visible(close)}?)" if close else ""))
    said = []
    if commented:
        said.append("recorded for keys the template has only commented out, so not applied "
                    f"here: {', '.join(map(visible, commented))}; with --contexts LIVE_XML "
                    "NEW_XML the review reads those the new cloud-controller bean needs")
    if shown:
        said.append("recorded for keys neither file has (gone from the template, or misspelt), "
                    f"so not applied: {', '.join(shown)}")
    return "; ".join(said)


def _open_lines(review: Review, paint: Painter) -> list[str]:
    """The headline: what keeps the merged file from being written, or that nothing does.
    "Nothing needs a decision" is said exactly when ``runbook diff --check`` exits 0."""
    if not review.open_keys:
        return [paint("Nothing needs a decision; the merged file can be written.", "green")]
    lines: list[str] = []
    undecided = review.undecided
    if undecided:
        lines.append(f"{_keys(len(undecided))} a decision: "
                     f"{names(undecided, most=_HEADLINE_NAMES, rest=_BELOW)}")
    samples = review.leftover_samples
    # A live value the review gives a key's new name (review 57d M2) is no new default.
    defaults, renamed, blanks = review.to_confirm
    if defaults:
        lines.append(f"{_count(len(defaults), 'new default')} nobody has confirmed yet (confirm "
                     "each, or give another value): "
                     f"{names(defaults, most=_HEADLINE_NAMES, rest=_BELOW)}")
    if renamed:
        lines.append(f"{_count(len(renamed), 'live value')} under a new key name nobody has "
                     "confirmed yet (confirm each, or give another value): "
                     f"{names(renamed, most=_HEADLINE_NAMES, rest=_BELOW)}")
    if blanks:
        lines.append(f"{_count(len(blanks), 'key')} blank in the live file where the new "
                     "template asks for a value (keep it blank, or give one): "
                     f"{names(blanks, most=_HEADLINE_NAMES, rest=_BELOW)}")
    if samples:
        lines.append(f"{_count(len(samples), 'key')} still holding Red5's sample value: "
                     f"{names(review.leftover_samples, most=_HEADLINE_NAMES, rest=_BELOW)}")
    placeholders = [k for k in review.leftover_placeholders if review[k].decided]
    if placeholders:
        lines.append(f"{_count(len(placeholders), 'key')} still holding a placeholder: "
                     f"{names(placeholders, most=_HEADLINE_NAMES, rest=_BELOW)}")
    return [paint(line, "bold", "yellow") for line in lines]


def _count(n: int, thing: str) -> str:
    return f"1 {thing}" if n == 1 else f"{n} {thing}s"


# The headline names this many keys the merged file leaves out.
_LEFT_OUT_NAMES = 5


def left_out_said(keys: list[str], *, most: int | None = None, rest: str = "") -> str:
    """The line that counts and names the keys only the live file has that
    the merged file leaves out (Review.left_out); a default, so no decision
    is asked for, but said where a reviewer reads (trial 55, F11)."""
    return (f"{_count(len(keys), 'key')} only the live file has will be left out of the "
            f"merged file: {names(keys, most=most, rest=rest)}")


def render_review(review: Review, reveal: bool = False, paint: Painter = PLAIN,
                  only: Callable[[KeyReview], bool] | None = None) -> str:
    """The whole review as plain text, grouped by status, most urgent group first;
    ``paint`` colours what needs someone (the plain default colours nothing).
    With ``only``, the keys it passes alone are listed, each group's heading
    saying how many of its keys that is (a review in short)."""
    summary = review.summary
    counts = ", ".join(f"{summary[status]} {status}" for status in Status)
    lines = [f"{len(review)} keys: {counts}."]
    lines.extend(_open_lines(review, paint))
    if review.left_out:
        lines.append(left_out_said(review.left_out, most=_LEFT_OUT_NAMES,
                                   rest=" (listed below under removed)"))
    groups: dict[Status, list[KeyReview]] = {status: [] for status in Status}
    for kr in review:
        groups[kr.group].append(kr)
    for status in _GROUP_ORDER:
        members = groups[status]
        if only is not None:
            listed = [kr for kr in members if only(kr)]
            if listed:
                count = f"{len(listed)}" if len(listed) == len(members) else \
                    f"{len(listed)} of {len(members)}"
                lines.append("")
                lines.append(paint(f"{status} ({count})", "bold") + f": {status.meaning}.")
                lines.extend(_key_line(kr, reveal, paint, review.case_twin(kr.key),
                                       review.notes(kr.key)) for kr in listed)
            continue
        if not members:
            continue
        lines.append("")
        lines.append(paint(f"{status} ({len(members)})", "bold") + f": {status.meaning}.")
        if status is Status.UNCHANGED:
            # Listing dozens of identical keys hides the ones that matter; show only the
            # few an explicit decision has moved away from the shared value.
            moved = [kr for kr in members if kr.merged != kr.old or kr.is_open]
            # In both files, an unchanged key has no case twin.
            lines.extend(_key_line(kr, reveal, paint, notes=review.notes(kr.key))
                         for kr in moved)
            if len(moved) < len(members):
                lines.append(f"  ({len(members) - len(moved)} not listed: nothing to decide)")
            continue
        lines.extend(_key_line(kr, reveal, paint, review.case_twin(kr.key),
                               review.notes(kr.key)) for kr in members)
    if review.duplicates:
        lines.append("")
        lines.append("Keys set more than once (Java uses the last line):")
        for dup in review.duplicates:
            where = ", ".join(str(n) for n in dup.lines)
            lines.append(f"  {written_key(dup.key)} in {dup.file}, lines {where}")
    for keys, title in (
        (review.leftover_placeholders,
         "Placeholders still in the merged file (the stream manager would use them as is):"),
        (review.leftover_samples,
         "Sample values still in the merged file (Red5 publishes them as examples; decide "
         "each key to keep one on purpose):"),
    ):
        if keys:
            lines.append("")
            lines.append(title)
            for key in keys:
                kr = review[key]
                shown = _text(kr.show(kr.merged, reveal=reveal) or "")
                lines.append(f"  {written_key(key)} = {shown}")
    ends = line_ends_said(review)
    if ends is not None:
        lines.append("")
        lines.append(f"Line ends: {ends}.")
    if review.decision_result is not None:
        lines.append("")
        lines.extend(_decisions_lines(review.decision_result, review))
    return "\n".join(lines) + "\n"


def _json_text(document: dict[str, Any], encoding: str | None = None) -> str:
    """The --json document: readable beyond ASCII, but with what a terminal
    would act on or not show (controls, direction marks) escaped, so the JSON
    means the same and is safe to print. All of it escaped where the stream's
    `encoding` cannot hold some character: the stream would otherwise replace
    it with an escape JSON does not have."""
    text = visible_json(json.dumps(document, indent=2, ensure_ascii=False))
    try:
        text.encode(encoding or "utf-8")
    except UnicodeEncodeError:
        return json.dumps(document, indent=2)
    return text


def review_to_json(review: Review, reveal: bool = False) -> dict[str, Any]:
    """The ``--json`` document; secrets masked unless revealed."""
    result = review.decision_result
    return {
        "summary": {str(status): count for status, count in review.summary.items()},
        "keys": [
            {
                "key": kr.key,
                # Where the review files it (edited, once a value chosen in it
                # replaces the live one); "found" is what the two files say.
                "status": str(kr.group),
                "found": str(kr.status),
                "old": kr.show(kr.old, reveal=reveal),
                "new": kr.show(kr.new, reveal=reveal),
                "merged": kr.show(kr.merged, reveal=reveal),
                "decided": kr.decided,
                "acknowledged": kr.acknowledged,
                # Not ready for the merged file, whatever the two above say.
                "open": kr.is_open,
                "sample": kr.sample,
                "secret": kr.secret,
                "section": kr.section,
                "old_line": kr.old_line,
                "new_line": kr.new_line,
                # Values Java reads otherwise than an editor shows them (trial 55).
                "saved_as_utf8": saved_as_utf8(kr, reveal),
                # The new release's bean that reads it, where the merge must set it.
                "needed_by": review.needs.get(kr.key),
                # The live key whose value it is offered (the same property read it).
                "live_key": review.carried_from.get(kr.key),
            }
            for kr in review
        ],
        "undecided": review.undecided,
        "unconfirmed": review.unconfirmed,
        "sample_values": review.leftover_samples,
        # Blank in the live file where the new template asks for a value.
        "blank_where_expected": review.blank_where_expected,
        "open": review.open_keys,
        "duplicates": [
            {"file": d.file, "key": d.key, "lines": list(d.lines)} for d in review.duplicates
        ],
        "leftover_placeholders": review.leftover_placeholders,
        # Only the live file has them, and the merged file leaves them out.
        "left_out": review.left_out,
        "decisions": None
        if result is None
        else {
            "applied": result.applied,
            "reopened": result.reopened,
            "reopened_template_changed": result.reopened_new,
            "rejected": result.rejected,
            "missing_env": result.missing_env,
            "skipped": result.skipped,
            "stale": result.stale,
            "old_changed": result.old_changed,
            "new_changed": result.new_changed,
        },
    }


BEAN_KEYS_NOT_CHECKED = (
    "keys the new release's cloud-controller bean reads were not checked (no --contexts "
    "LIVE_XML NEW_XML); preflight and the properties step check them in the run.")


def diff_command(
    old: Path,
    new: Path,
    *,
    sets: list[str],
    decisions: Path | None,
    out: Path | None,
    check: bool,
    as_json: bool,
    overrides: dict[str, str] | None = None,
    needs: dict[str, str] | None = None,
    read_before: dict[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``runbook diff OLD NEW`` in its --check and --json modes.

    Exit 0: nothing needs a decision. 1: something does. 2: bad input (one line on
    stderr). ``--set`` beats ``overrides`` for the same key: it is the later, more
    specific instruction. ``needs``: the keys the new release's controller bean reads
    (``--contexts``), which the merge must set; ``read_before``, of those, the key the
    live install's bean read for the same property where it read another. When
    ``decisions`` names a file that does not exist yet, a starter file with every key
    (and a hint on each undecided one) is written there.
    ``stdout``/``stderr`` default to the streams current at call time (not at import),
    so a redirected ``sys.stdout`` is honoured.
    """
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr

    def bad(message: str) -> int:
        print(f"runbook diff: {visible(message)}", file=stderr)
        return 2

    if not check and not as_json:
        return bad("the interactive editor is not available here; add --check or --json")
    # Said before the review is printed: a script reading the JSON must not
    # take a review that ends in a failure for a good one (operator trial).
    why = cannot_write_to(out) if out is not None else None
    if why is not None:
        return bad(f"{out}: cannot write the merged file: {why}")
    try:
        asked = parse_sets(sets)
    except ValueError as exc:
        return bad(str(exc))
    values = {**(overrides or {}), **asked}
    twice = one_file_given_twice(old, new)
    if twice is not None:
        return bad(twice)
    try:
        old_text = read_properties(old)
        new_text = read_properties(new)
        loaded = Decisions.load(decisions) if decisions is not None and decisions.exists() else None
        result = review(
            old_text,
            new_text,
            old_name=str(old),
            new_name=str(new),
            overrides=values,
            decisions=loaded,
            needs=needs,
            read_before=read_before,
        )
    except (PropertiesError, DecisionsError) as exc:
        return bad(str(exc))
    result.asked = asked

    swapped = given_the_wrong_way_round(result)
    if swapped is not None:
        print(swapped, file=stderr)
    identical = identical_files(old, new)
    if identical is not None:
        print(identical, file=stderr)
    for line in unknown_sets(result, asked, decisions):
        print(line, file=stderr)
    stale = stale_decisions(result.decision_result, result) if result.decision_result else None
    if stale is not None:
        # Where --set's typo is said: far down the review, a value meant for
        # a key went unseen (operator trial).
        print(f"runbook diff: {visible(str(decisions))}: {stale}", file=stderr)
    if decisions is not None and loaded is None:
        try:
            Decisions.from_review(result).save(decisions)
        except OSError as exc:
            return bad(f"{decisions}: cannot write the decisions file ({exc.strerror or exc})")
        print(
            f"wrote {decisions}: every key with its default; fill in the undecided ones, then "
            "run again",
            file=stderr,
        )

    # Written before the review is printed: a reader gone after a few lines
    # (`| head`) left no merged file behind its "can be written" (operator trial).
    # A review ahead of the window is only finished when every new default and
    # sample value has been confirmed too, and no placeholder is left, as in the editor.
    undecided = result.open_keys
    if out is not None:
        if undecided:
            print(f"not writing {out}: {_keys(len(undecided))} a decision", file=stderr)
        else:
            try:
                atomic_write(out, encode_properties(result.merged_text()), private=True)
            except OSError as exc:
                return bad(f"{out}: cannot write the merged file ({exc.strerror or exc})")
            print(merged_written(result, out), file=stderr)

    if as_json:
        # needs None: no --contexts, so not a complete review (re-trial 57b F3).
        shown = {**review_to_json(result), "bean_keys_checked": needs is not None}
        write_whole(stdout, _json_text(shown, stdout.encoding) + "\n")
    else:
        stdout.write(f"Live file: {old}\nNew template: {new}\n\n")
        write_whole(stdout, render_review(result, paint=Painter.for_stream(stdout)))
        if NEW_DATABASE_KEY in result and result[NEW_DATABASE_KEY].status is not Status.OVERRIDDEN:
            stdout.write(f"\nNote: {NEW_DATABASE_NOTE}\n")
        if needs is None:
            stdout.write(f"\nNote: {BEAN_KEYS_NOT_CHECKED}\n")
    return 1 if undecided else 0
