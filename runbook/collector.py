"""The garbage collector across start-up (issue 12).

Start-up makes tens of thousands of objects that live as long as the process:
modules, classes, the first screen. A full collection walks every one of them,
30-40 ms each time here, and start-up triggered one or two of those before the
first paint of `runbook run`. So the CLI holds the collector off while it
starts; once the first screen is painted (or at once, for a command that paints
nothing) what exists is frozen out of the collector's sight and it runs again,
over what is made from then on. Later full collections are cheap too: an idle
dialog no longer pays for walking the imports.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def held_for_start_up() -> Iterator[None]:
    """The collector held off until :func:`start_up_over`; on the way out,
    walking everything again and running as it did before (a test that calls
    the CLI in its own process leaves nothing frozen behind)."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if running:
            gc.enable()


def start_up_over() -> None:
    """Freeze what exists and let the collector run; nothing when it was
    running anyway (an app started by a test rather than by the CLI).

    No collection first: it would cost the 30-40 ms this saves, right before
    the run is drawn. So the few cycles start-up left unreachable (about a
    tenth of what is frozen, measured on `runbook diff`) stay until the
    process ends, a fixed cost of well under a megabyte."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
