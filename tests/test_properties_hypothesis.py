"""Property tests: the merge never loses, reorders or rewrites a template line it should keep.

Files are generated line by line with comments, commented-out keys, blank lines, all three
separators, escapes, raw and escaped unicode, continuation lines and mixed line endings.
"""

from __future__ import annotations

import javaproperties
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from runbook.properties import DecisionError, PropertiesError, Review, Status, review

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A small pool so that old and new share keys (and repeat them); a few odd ones on purpose.
KEYS = st.sampled_from(
    [
        "config.dbHost",
        "config.dbPass",
        "a",
        "b.c",
        "x y",
        "k:=v",
        "#hash",
        "!bang",
        "ünïcode",
        "日本",
        "emoji😀",
        "",
    ]
) | st.text(min_size=1, max_size=6)

PLAIN = st.characters(exclude_categories=("Cs",))
VALUES = st.sampled_from(["", "{host}", "${spring}", "same", "  padded  "]) | st.text(
    PLAIN, max_size=12
)
EOL = st.sampled_from(["\n", "\r\n", "\r"])
INDENT = st.text(st.sampled_from(" \t\f"), max_size=2)
SEPARATOR = st.sampled_from(["=", ":", " ", " = ", "\t: ", "  "])


@st.composite
def entry(draw: st.DrawFn) -> str:
    """One key=value entry, possibly continued over several physical lines."""
    key, value = draw(KEYS), draw(VALUES)
    ascii_only = draw(st.booleans())
    key_text = javaproperties.escape(key, ensure_ascii=ascii_only)
    # Escaping char by char also escapes spaces, so no continuation line starts with
    # whitespace that the parser would strip, and no split falls inside an escape.
    tokens = [javaproperties.escape(ch, ensure_ascii=ascii_only) for ch in value]
    pieces: list[str] = []
    for token in tokens:
        if pieces and draw(st.integers(0, 5)) == 0:
            pieces.append("\\" + draw(EOL) + draw(INDENT))
        pieces.append(token)
    return draw(INDENT) + key_text + draw(SEPARATOR) + "".join(pieces)


@st.composite
def comment(draw: st.DrawFn) -> str:
    marker = draw(st.sampled_from("#!"))
    if draw(st.booleans()):
        # A commented-out key, as the templates ship optional settings.
        body = javaproperties.join_key_value(draw(KEYS), draw(VALUES), draw(st.sampled_from("=:")))
        return draw(INDENT) + marker + draw(st.sampled_from(["", " "])) + body
    text = draw(st.text(PLAIN.filter(lambda c: c not in "\r\n"), max_size=20))
    return draw(INDENT) + marker + draw(st.sampled_from(["", "#", "# "])) + text


@st.composite
def properties_file(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.one_of(entry(), comment(), INDENT), max_size=14))
    text = "".join(line + draw(EOL) for line in lines)
    if text and draw(st.booleans()):
        text = text.rstrip("\r\n")  # no line break at the end of the file
    return text


# Arbitrary text weighted towards the characters that matter to the format.
RAW = st.text(st.sampled_from("ab=: \t\f\\#!\n\r{}u0é") | PLAIN, max_size=60)

OVERRIDES = st.dictionaries(KEYS, VALUES, max_size=2)


def parse_or_skip(old: str, new: str, **options: object) -> Review:
    try:
        return review(old, new, **options)  # type: ignore[arg-type]
    except PropertiesError:
        assume(False)
        raise


@SETTINGS
@given(properties_file())
def test_merging_a_generated_file_with_itself_changes_nothing(text: str) -> None:
    result = parse_or_skip(text, text)
    assert result.merged_text() == text
    assert all(kr.status is Status.UNCHANGED for kr in result)


@SETTINGS
@given(RAW)
def test_merging_any_readable_text_with_itself_changes_nothing(text: str) -> None:
    result = parse_or_skip(text, text)
    assert result.merged_text() == text
    assert "".join(el.source for el in javaproperties.parse(text)) == text


def decide_at_random(result: Review, data: st.DataObject) -> None:
    for kr in result.keys:
        action = data.draw(st.sampled_from(["default", "old", "new", "set", "keep", "drop"]))
        try:
            if action == "old":
                result.keep_old(kr.key)
            elif action == "new":
                result.accept_new(kr.key)
            elif action == "set":
                result.set_value(kr.key, data.draw(VALUES))
            elif action == "keep":
                result.keep_removed(kr.key)
            elif action == "drop":
                result.drop_removed(kr.key)
        except DecisionError:
            pass


def changed_template_lines(result: Review) -> set[int]:
    """Template lines a decision is allowed to rewrite."""
    changed: set[int] = set()
    for kr in result:
        if kr.new_line is None:
            continue
        if kr.new is not None and kr.merged != kr.new:
            changed.add(kr.new_line)
        elif kr.new is None and kr.merged is not None:
            changed.add(kr.new_line)  # a commented-out key turned active
    return changed


@SETTINGS
@given(properties_file(), properties_file(), OVERRIDES, st.data())
def test_merge_keeps_every_other_template_line_in_order_and_java_reads_the_decisions(
    old: str, new: str, overrides: dict[str, str], data: st.DataObject
) -> None:
    result = parse_or_skip(old, new, overrides=overrides)
    decide_at_random(result, data)
    merged = result.merged_text()

    template = list(javaproperties.parse(new))
    written = list(javaproperties.parse(merged))
    assert len(written) >= len(template)
    changed = changed_template_lines(result)
    line = 1
    for index, element in enumerate(template):
        if line not in changed:
            got = written[index].source
            if got != element.source:
                # Only the last line may gain a line break, when a block is appended.
                assert index == len(template) - 1
                assert not element.source.endswith(("\n", "\r"))
                assert got[len(element.source) :] in ("\n", "\r\n", "\r")
                assert got.startswith(element.source)
        line += len(javaproperties.util.ascii_splitlines(element.source)) if element.source else 0

    # What Java would read from the merged file is exactly what the review says.
    loaded = javaproperties.loads(merged)
    for kr in result:
        if kr.merged is None:
            assert kr.key not in loaded
        else:
            assert loaded[kr.key] == kr.merged
    assert set(loaded) <= {kr.key for kr in result}


@SETTINGS
@given(properties_file(), properties_file(), OVERRIDES)
def test_every_key_of_either_file_gets_exactly_one_fitting_status(
    old: str, new: str, overrides: dict[str, str]
) -> None:
    result = parse_or_skip(old, new, overrides=overrides)
    old_values, new_values = javaproperties.loads(old), javaproperties.loads(new)
    assert [kr.key for kr in result] == list(dict.fromkeys(kr.key for kr in result))
    assert {kr.key for kr in result} == set(old_values) | set(new_values) | set(overrides)
    for kr in result:
        key = kr.key
        if key in overrides:
            expected = {Status.OVERRIDDEN}
        elif key in old_values and key in new_values:
            same = old_values[key] == new_values[key]
            expected = {Status.UNCHANGED if same else Status.CARRIED}
        elif key in new_values:
            expected = {Status.NEEDS_VALUE, Status.NEW_DEFAULT}
        else:
            expected = {Status.UNCOMMENTED, Status.REMOVED}
        assert kr.status in expected
        assert kr.old == old_values.get(key) and kr.new == new_values.get(key)
    assert sum(result.summary.values()) == len(result)
