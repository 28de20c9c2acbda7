"""The keeper of a throwaway rehearsal: tidies after a runbook killed with -9.

`runbook rehearse` without --sandbox makes its sandbox in the temp folder and
removes it as it ends. Killed with -9 it cannot, and its database servers, its
service and the sandbox stayed for good: no later rehearsal knows of them
(operator trial). A rehearsal with --sandbox leaves them on purpose, as a real
host would, and the next one on it adopts them; it has no keeper.

The host starts this process beside it, in a session of its own, holding the
read end of a pipe that only the runbook writes to. The pipe closes when the
runbook ends, however it ends. If the sandbox is still there then, the keeper
takes the sandbox's lock (the kernel dropped the killed holder's), ends every
process started for the sandbox or naming it, and removes the sandbox.

    python -m runbook.rehearsal.watchdog SANDBOX LOCK
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from runbook.statedir import lock_within

# The lock is free at once after a kill -9; this bounds a rehearsal that is
# somehow still stopping (its own stop then tidies, and this one gives way).
_LOCK_WAIT_S = 60.0
# Servers first get the chance to stop as they would; a throwaway sandbox
# needs nothing of them after.
_TERM_WAIT_S = 10.0
_KILL_WAIT_S = 2.0


def _take_lock(lock: Path) -> int | None:
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return None
    try:
        if lock_within(fd, _LOCK_WAIT_S, every=0.2):
            return fd
    except OSError:
        pass  # no locks here: no telling whether the runbook still tidies, so leave it be
    os.close(fd)
    return None


def end(pids: set[int], sig: signal.Signals, wait: float) -> None:
    """Send `sig` to `pids` and wait up to `wait` seconds for them to be gone."""
    from runbook.rehearsal.sandbox import is_running

    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(is_running(pid) for pid in pids):
        time.sleep(0.1)


def tidy(sandbox: Path, lock: Path) -> None:
    """End what runs for `sandbox` and remove it, once its lock is free."""
    if not sandbox.is_dir():
        return  # the runbook removed it as it ended
    fd = _take_lock(lock)
    if fd is None or not sandbox.is_dir():
        return
    # Imported only now: most keepers only ever wait.
    from runbook.rehearsal.databases import socket_dir_of
    from runbook.rehearsal.sandbox import owned_processes, processes_mentioning, remove_sandbox

    def running() -> set[int]:
        return set(owned_processes(sandbox)) | set(processes_mentioning(sandbox))

    sockets = {folder for pid in running() if (folder := socket_dir_of(pid)) is not None}
    for sig, wait in ((signal.SIGTERM, _TERM_WAIT_S), (signal.SIGKILL, _KILL_WAIT_S)):
        left = running()
        if not left:
            break
        end(left, sig, wait)
    for folder in sockets:
        shutil.rmtree(folder, ignore_errors=True)
    _keep_snapshots(sandbox)
    remove_sandbox(sandbox)
    os.close(fd)


def _keep_snapshots(sandbox: Path) -> None:
    """The nodegroup snapshot the run took, kept beside its journal, as the
    rehearsal does when it ends itself (operator trial: a report of a killed
    rehearsal's journal knew no fleet before the cutover)."""
    from runbook.hoststate import HostStateError, keep_snapshots
    from runbook.rehearsal import OPERATOR_DIRNAME
    from runbook.statedir import rehearsals_dir

    with contextlib.suppress(HostStateError):  # nobody reads what it would say
        keep_snapshots(sandbox / OPERATOR_DIRNAME, rehearsals_dir())


def main(argv: list[str] | None = None) -> int:
    sandbox, lock = (Path(arg) for arg in (argv if argv is not None else sys.argv[1:]))
    # A terminal's signals are the runbook's to answer, not the keeper's.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass  # nothing is ever written: only the end of the pipe counts
    try:
        tidy(sandbox, lock)
    except OSError:
        return 1  # nobody reads what it would say; the next rehearsal is unaffected
    return 0


if __name__ == "__main__":
    sys.exit(main())
