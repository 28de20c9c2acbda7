"""asyncio's bare "socket.send() raised exception.": one filter for the process.

asyncio logs that line (through logging's last resort: to stderr, under a
screen or onto the terminal) for every write after the fifth to a connection
whose other end is gone. Both ends of runbook meet it. The client (Remote):
the SFTP writes in flight when a session dies are dozens of them (trial: 39
lines on stderr, which read as a crash, and over the TUI), and the loss
itself is what it acts on (it reconnects, or says the outcome is unknown).
The rehearsal host: a runbook killed while the host still sent to it (trial
61, F7); the host goes on serving the others. Neither line adds anything,
so the one filter here drops them, for the client and for every rehearsal
host, in the TUI's process as under --host-only. Where nothing but the host
runs in the process (--host-only), the line can only be the host's, and it
is said once in runbook's words (said_once)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

LINE = "socket.send() raised exception."

CLIENT_GONE = ("rehearsal host: a client's connection dropped while the host was still "
               "sending to it (a runbook killed, say); the host goes on serving the others")


class _WritesAfterALoss(logging.Filter):
    """Drops LINE; tells those listening (said_once) that it came."""

    def __init__(self) -> None:
        super().__init__()
        self.listening: list[Callable[[], None]] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != LINE:
            return True
        for hear in list(self.listening):
            hear()
        return False


_FILTER = _WritesAfterALoss()


def quiet() -> None:
    """The line dropped in this process from now on; once is enough, and
    more calls add nothing."""
    log = logging.getLogger("asyncio")
    if _FILTER not in log.filters:
        log.addFilter(_FILTER)


@contextlib.contextmanager
def said_once(say: Callable[[str], None], words: str = CLIENT_GONE) -> Iterator[None]:
    """While within, the line dropped (quiet) and the first one said as
    `words`, through `say`. Only where the process holds no client of its
    own: the line does not say which end wrote it."""
    quiet()
    said = False

    def hear() -> None:
        nonlocal said
        if not said:
            said = True
            say(words)

    _FILTER.listening.append(hear)
    try:
        yield
    finally:
        _FILTER.listening.remove(hear)
