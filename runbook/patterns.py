"""Regular expressions compiled where they are first used, not as their
module loads.

`runbook run` loads the steps before its first paint, for their cards; the
patterns they hold serve work that comes later, and compiling them all at
import cost about 1.5 ms of that paint (issue 12)."""

from __future__ import annotations

import re
from typing import Any, cast


class _Deferred:
    """Stands for the compiled pattern: compiles it on first use, then hands
    every attribute (match, search, finditer...) on to it."""

    def __init__(self, source: str, flags: int) -> None:
        self._source = source
        self._flags = flags

    def __getattr__(self, name: str) -> Any:
        # Only for what the object lacks itself: the pattern's own attributes.
        compiled = self.__dict__.get("_compiled")
        if compiled is None:
            compiled = self.__dict__["_compiled"] = re.compile(self._source, self._flags)
        return getattr(compiled, name)


def deferred(source: str, flags: int = 0) -> re.Pattern[str]:
    """`re.compile(source, flags)`, compiled when first used. Use its methods
    (match, search, finditer...); it is no Pattern to hand to `re` itself."""
    return cast("re.Pattern[str]", _Deferred(source, flags))
