"""The terminal the app draws on, which can go away while it draws.

Textual writes each frame from a thread of its own, through a queue of 30
frames. When the terminal closes (the SSH session to the jump host drops,
the tmux window is killed) a write fails with EIO; the exception ends that
thread, the queue fills with the frames that follow, and the next write
blocks the event loop for good: no signal is handled any more, the run never
ends, and its rehearsal sandbox stays claimed (operator trial: only kill -9
ended it). A frame for a terminal that is gone has nowhere to go, so it is
dropped instead, and the app ends as a hangup says.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, TextIO


class _DropsWhatCannotBeWritten:
    """The stream Textual draws on, whose writes never raise OSError."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError:
            return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding...
        return getattr(self._stream, name)


@contextlib.contextmanager
def drawing_survives_a_closed_terminal() -> Iterator[None]:
    """For an app's run: Textual's drivers take `sys.__stderr__` as they start."""
    stream = sys.__stderr__
    if stream is None:
        yield
        return
    sys.__stderr__ = _DropsWhatCannotBeWritten(stream)  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        sys.__stderr__ = stream  # type: ignore[misc]
