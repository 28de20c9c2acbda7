"""What steps learn and hand to later steps, typed, and how it is journalled.

A procedure declares its facts as a dataclass deriving from :class:`Facts`
(steps/facts.py for the Red5 upgrade). The executor journals them after every
step, every string through the run's redactor, and a resumed run loads them
back, so a step never asks the host again what an earlier one already learnt.
How each field is journalled is said at the field, not by its name:

- ``plain(...)``: it holds no secret (an identity, a digest, a version, a
  path) and is journalled as it is: a short secret can match inside one by
  chance, and the masked value read back would mislead a resumed run;
- ``not_journalled(...)``: what this process keeps for itself (a step's
  scratch: file contents, a review in progress), rebuilt by the step's check;
- any other field is journalled masked.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, TypeVar, overload

_T = TypeVar("_T")

# The field metadata plain() and not_journalled() set, which Facts reads.
_PLAIN = "runbook.facts.plain"
_JOURNALLED = "runbook.facts.journalled"


@overload
def plain(default: _T) -> _T: ...


@overload
def plain(*, factory: Callable[[], _T]) -> _T: ...


def plain(default: Any = MISSING, *, factory: Any = MISSING) -> Any:
    """A fact that holds no secret, journalled unmasked (see the module's text)."""
    return field(default=default, default_factory=factory, metadata={_PLAIN: True})


def not_journalled(factory: Callable[[], _T]) -> _T:
    """What this process keeps for itself: never journalled, never loaded back."""
    return field(default_factory=factory, metadata={_JOURNALLED: False})


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

    @classmethod
    def journalled_fields(cls) -> list[Field[Any]]:
        """The fields journalled, in their order."""
        return [f for f in fields(cls) if f.metadata.get(_JOURNALLED, True)]

    def record(self, redact: Callable[[str], str]) -> dict[str, Any]:
        """Every journalled field, masked unless plain, as plain JSON values."""
        return {f.name: getattr(self, f.name) if f.metadata.get(_PLAIN, False)
                else _redacted(getattr(self, f.name), redact)
                for f in self.journalled_fields()}

    def snapshot_in_use(self) -> str | None:
        """The path of the fleet snapshot this run deletes by and rebuilds
        from, where the procedure keeps one: the cutover's record names it as
        the cutover begins (HostState.begin_cutover)."""
        return None

    def load(self, record: Mapping[str, Any]) -> None:
        """Take back what an earlier run journalled; names this procedure no
        longer journals (or never did) are left out."""
        known = {f.name for f in self.journalled_fields()}
        for name, value in record.items():
            if name in known:
                # A copy: steps fill theirs in place, and the record is the
                # Replay's, compared later with the journal (code review).
                setattr(self, name, copy.deepcopy(value))
