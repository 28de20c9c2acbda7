"""The standard streams as runbook finds them (closed, not UTF-8) and
writing to a stdout whose reader may leave (`| head`)."""

from __future__ import annotations

import io
import os
import sys
import time
from typing import TextIO


def make_ready() -> bool:
    """Fit the standard streams for a command; whether stdout was closed.

    A descriptor closed when runbook starts (`<&-`) would be taken by the next
    file it opens, a journal read as answers, say, and Python leaves its
    stream None, which the first look at it fell over (bad-input trial). Each
    is /dev/null instead: a closed stdin then ends the answers as `</dev/null`
    does. What the terminal's encoding cannot show is written escaped, as a
    run must not end on a bullet in LANG=C (same trial)."""
    closed = [fd for fd in (0, 1, 2) if not _is_open(fd)]
    for fd in closed:
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    # Open for as long as the process runs, as the streams Python made are.
    if 0 in closed:
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
    for fd, name in ((1, "stdout"), (2, "stderr")):
        if fd in closed:
            setattr(sys, name, open(fd, "w", closefd=False))  # noqa: SIM115
        stream = getattr(sys, name)
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    return 1 in closed


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


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
