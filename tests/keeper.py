"""The test run's keeper: ends what a killed test run left running.

`nothing_left_running` (conftest) ends what a test leaves once that test is
torn down. A test run that is itself killed (CI's time limit, a SIGTERM, kill
-9) tears nothing down, and the rehearsal hosts' services and database servers
of the tests under way ran on for good (seen at stop 56).

The run starts this process in a session of its own, holding the read end of a
pipe that only the run writes to. The pipe closes when the run ends, however it
ends; then every process whose command line names a path in the run's temp
folder is ended (the run itself aside), as the rehearsal's own keeper does for a
throwaway sandbox (runbook.rehearsal.watchdog).

    python -m tests.keeper BASETEMP RUN_PID
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

from runbook.rehearsal.databases import socket_dir_of
from runbook.rehearsal.sandbox import is_running, proc_cmdline
from runbook.rehearsal.watchdog import end

_TERM_WAIT_S = 10.0
_KILL_WAIT_S = 2.0


def naming(base: Path, spared: set[int]) -> set[int]:
    """Running processes whose command line names a path inside `base`."""
    # With the separator: /tmp/pytest-of-root/pytest-29 is not in pytest-297.
    inside = f"{base}{os.sep}"
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in spared:
            continue
        pid = int(entry)
        if is_running(pid) and inside in proc_cmdline(pid):
            found.add(pid)
    return found


def end_all(base: Path, run_pid: int) -> set[int]:
    """End what names `base`, politely first; the processes found."""
    spared = {os.getpid(), run_pid}
    first = naming(base, spared)
    sockets = {folder for pid in first if (folder := socket_dir_of(pid)) is not None}
    for sig, wait in ((signal.SIGTERM, _TERM_WAIT_S), (signal.SIGKILL, _KILL_WAIT_S)):
        left = naming(base, spared)
        if not left:
            break
        end(left, sig, wait)
    for folder in sockets:
        shutil.rmtree(folder, ignore_errors=True)
    return first


def main(argv: list[str] | None = None) -> int:
    base, run_pid = (argv if argv is not None else sys.argv[1:])
    # A terminal's signals are the run's to answer, not the keeper's.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass  # nothing is ever written: only the end of the pipe counts
    end_all(Path(base), int(run_pid))
    return 0


if __name__ == "__main__":
    sys.exit(main())
