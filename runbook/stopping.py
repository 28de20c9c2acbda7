"""SIGHUP and SIGTERM: stop the run the way quit-with-detach does.

A terminal that closes (an SSH session to a jump host that drops, a laptop
lid) sends SIGHUP; a supervisor's kill sends SIGTERM. Python's default for
both ends the process at once: no run-end in the journal, and a rehearsal's
fake host, service and databases left running. Here either one detaches the
session (a command that runs on the host goes on there, in doubt for the
next run to check) and cancels the work, so every `finally` runs: the
journal is closed, the rehearsal host stopped, the exit lines printed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from runbook.streams import silence

if TYPE_CHECKING:
    from runbook.session import Session

SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def _a_terminal(fd: int) -> bool:
    """Whether `fd` writes to a character device (a terminal, hung up or not),
    not to a file, a pipe or a socket."""
    try:
        return stat.S_ISCHR(os.fstat(fd).st_mode)
    except OSError:
        return True  # closed or unusable: nothing can be written there anyway


class Stopper:
    def __init__(self) -> None:
        self.sessions: list[Session[Any]] = []
        self.caught: signal.Signals | None = None

    def watch(self, session: Session[Any]) -> Session[Any]:
        """Remember `session`, to detach it when a signal comes."""
        self.sessions.append(session)
        return session

    async def run(self, work: Awaitable[int]) -> int:
        """`work`'s exit code; 128 + the signal's number when one stopped it."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def stop(sig: signal.Signals) -> None:
            if self.caught is not None:
                return  # already stopping: a second signal must not cut that short
            self.caught = sig
            if sig is signal.SIGHUP:
                # The terminal is gone: a write to it fails (EIO), and the
                # way out must not stumble on the lines nobody can read. At
                # the descriptors: a TUI puts its own sys.stdout back. Only
                # a terminal: output to a file or a pipe (nohup, a log) still
                # ends with where the run stands (operator trial). A terminal
                # that hung up fails isatty() (EIO): it is known by its kind.
                silence(*(fd for fd in (1, 2) if _a_terminal(fd)))
            try:
                for session in self.sessions:
                    session.detach(exit_code=128 + sig)
            finally:
                task.cancel()  # whatever a detach met: the work must stop

        def aborted() -> None:
            for session in self.sessions:
                session.abort()

        # ctrl+c (a headless run; the TUI reads it as a key) is the operator's
        # abort, as the TUI's is: the journal says whose choice it was first
        # (review). The loop runs that before the cancellation asyncio.run's
        # own handler starts, which is kept for the rest: what runs is stopped
        # on the host, and the run ends as interrupted.
        interrupt = signal.getsignal(signal.SIGINT)
        # Started with ctrl+c ignored (`runbook ... &` from a script), it stays
        # ignored: that ctrl+c is meant for the foreground job (review).
        catch_interrupt = interrupt is not signal.SIG_IGN

        def on_interrupt(signum: int, frame: Any) -> None:
            loop.call_soon_threadsafe(aborted)
            if callable(interrupt):
                interrupt(signum, frame)
            else:
                raise KeyboardInterrupt

        for sig in SIGNALS:
            loop.add_signal_handler(sig, stop, sig)
        if catch_interrupt:
            signal.signal(signal.SIGINT, on_interrupt)
        try:
            code = await work  # a front end may end quietly when cancelled
        except asyncio.CancelledError:
            if self.caught is None:
                raise
            code = 0
        finally:
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
            if catch_interrupt:  # None: set outside Python, which we cannot put back
                signal.signal(signal.SIGINT,
                              signal.SIG_DFL if interrupt is None else interrupt)
        if self.caught is None:
            return code
        task.uncancel()
        return 128 + self.caught
