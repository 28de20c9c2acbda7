"""red5-web.properties: the key-by-key review of the live file against a new template.

One door for the rest of the runbook (the ``properties`` step, the review editor,
``runbook diff``): import from here. Inside, each module does one thing and imports only
the ones listed before it, never back:

- :mod:`~runbook.properties.codec`: the file as bytes, text and parsed lines (on
  javaproperties); reading, single-line rewrites, atomic writes, placeholders.
- :mod:`~runbook.properties.model`: the review (statuses, decisions on keys, the merge).
- :mod:`~runbook.properties.decisions`: the TOML decisions file, replayed onto a review.
- :mod:`~runbook.properties.report`: plain text and JSON renderings, ``runbook diff``'s
  ``--check`` / ``--json`` command.
- :mod:`~runbook.properties.writer`: writing what a review decided (the decisions file,
  the merged file), refused over a change made on disk since the review read it.
"""

from runbook.properties.codec import (
    PropertiesError,
    atomic_write,
    cannot_write_to,
    decode_properties,
    encode_properties,
    has_placeholder,
    is_placeholder,
    read_properties,
    sha256_text,
    spelled_alike,
    written_key,
)
from runbook.properties.decisions import Decisions, DecisionsError, Entry
from runbook.properties.model import (
    KEY_NOTES,
    NEW_DATABASE_KEY,
    NEW_DATABASE_NOTE,
    ApplyResult,
    Choice,
    DecisionError,
    DecisionSource,
    Duplicate,
    KeyReview,
    Review,
    Status,
    against_the_template,
    review,
    review_files,
)
from runbook.properties.report import (
    diff_command,
    given_the_wrong_way_round,
    identical_files,
    keys_neither_file_has,
    merged_written,
    names,
    one_file_given_twice,
    one_line,
    parse_sets,
    read_as_latin1,
    render_review,
    review_to_json,
    stale_decisions,
    unknown_sets,
)
from runbook.properties.writer import DecisionsWriter, MergedWriter, Refused, Written
from runbook.visible import visible

__all__ = [
    "KEY_NOTES",
    "NEW_DATABASE_KEY",
    "NEW_DATABASE_NOTE",
    "ApplyResult",
    "Choice",
    "DecisionError",
    "DecisionSource",
    "Decisions",
    "DecisionsError",
    "DecisionsWriter",
    "Duplicate",
    "Entry",
    "KeyReview",
    "MergedWriter",
    "PropertiesError",
    "Refused",
    "Review",
    "Status",
    "Written",
    "against_the_template",
    "atomic_write",
    "cannot_write_to",
    "decode_properties",
    "diff_command",
    "encode_properties",
    "given_the_wrong_way_round",
    "has_placeholder",
    "identical_files",
    "is_placeholder",
    "keys_neither_file_has",
    "merged_written",
    "names",
    "one_file_given_twice",
    "one_line",
    "parse_sets",
    "read_as_latin1",
    "read_properties",
    "render_review",
    "review",
    "review_files",
    "review_to_json",
    "sha256_text",
    "spelled_alike",
    "stale_decisions",
    "unknown_sets",
    "visible",
    "written_key",
]
