"""Writing to a stdout whose reader may leave (`| head`)."""

from __future__ import annotations

import os
import time
from typing import TextIO


def silence(*fds: int) -> None:
    """Point these descriptors at /dev/null: what is still written to them
    (Python's last flush on the way out, a line nobody can read) goes nowhere
    instead of failing."""
    quiet = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(quiet, fd)
    finally:
        os.close(quiet)


def write_whole(out: TextIO, text: str) -> None:
    """Write all of `text`, or raise BrokenPipeError once the reader has gone.

    A text write larger than the stream's buffer (or any, unbuffered:
    PYTHONUNBUFFERED, -u) goes straight to the pipe, and one the closing reader
    cut short counts as whole: the rest is silently lost and the broken pipe
    never noticed, so the exit would say all was written. Bytes, to the end."""
    raw = getattr(out, "buffer", None)
    if raw is None:
        out.write(text)
        return
    out.flush()
    view = memoryview(text.encode(out.encoding or "utf-8", errors="backslashreplace"))
    while view:
        written = raw.write(view)
        if written is None:  # a non-blocking stdout that is full for now
            time.sleep(0.01)
        view = view[written or 0:]
