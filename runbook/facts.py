"""What steps learn and hand to later steps, typed, and how it is journalled.

A procedure declares its facts as a dataclass deriving from :class:`Facts`
(steps/facts.py for the Red5 upgrade). The executor journals them after every
step, every string through the run's redactor, and a resumed run loads them
back, so a step never asks the host again what an earlier one already learnt.
Fields whose name starts with ``_`` are a step's scratch (file contents, a
review in progress): never journalled, rebuilt by the step's check. Fields a
procedure names in ``PLAIN`` hold no secret (identities, digests, versions,
paths) and are journalled as they are: a short secret can match inside one by
chance, and the masked value read back would mislead a resumed run.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    # The strings themselves: once JSON-encoded, escaped quotes or non-ASCII
    # characters would no longer match a registered secret.
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v, redact) for v in value]
    return value


@dataclass
class Facts:
    """Base of a procedure's facts; a subclass adds the fields."""

    PLAIN: ClassVar[frozenset[str]] = frozenset()

    def record(self, redact: Callable[[str], str]) -> dict[str, Any]:
        """Every journalled field, masked unless PLAIN, as plain JSON values."""
        return {f.name: getattr(self, f.name) if f.name in self.PLAIN
                else _redacted(getattr(self, f.name), redact)
                for f in fields(self) if not f.name.startswith("_")}

    def load(self, record: Mapping[str, Any]) -> None:
        """Take back what an earlier run journalled; names this procedure no
        longer has are left out."""
        known = {f.name for f in fields(self) if not f.name.startswith("_")}
        for name, value in record.items():
            if name in known:
                # A copy: steps fill theirs in place, and the record is the
                # Replay's, compared later with the journal (code review).
                setattr(self, name, copy.deepcopy(value))
