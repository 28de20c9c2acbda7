"""Where runbook keeps what outlives a run on this machine: journals and the key
that tags masked secrets."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from runbook.wholefile import sync_folder


def default_dir() -> Path:
    """The user's state dir (XDG), where journals live unless --journal says otherwise."""
    base = os.environ.get("XDG_STATE_HOME", "")
    # The XDG spec: a relative path is invalid, and ignored (bad-input trial:
    # the journals went under whatever folder runbook was started in).
    if not os.path.isabs(base):
        base = os.path.expanduser("~/.local/state")
    return Path(base) / "runbook"


def rehearsals_dir() -> Path:
    """Where throwaway rehearsals keep their journals (and the snapshots their
    runs took), which outlive the sandbox."""
    return default_dir() / "rehearsals"


def make_private(folder: Path) -> None:
    """`folder`, made if missing, and every folder missing on the way to it,
    for the owner alone (0700, as XDG asks of a state dir's). Not
    `mkdir(parents=True)`, which makes the parents with the umask's mode:
    a 0755 `hosts/` let anyone list which hosts were upgraded. Raises
    OSError; folders that were there are left as they are."""
    missing: list[Path] = []
    while not folder.is_dir() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
        sync_folder(path.parent)  # a journal in it must not lose its way after a power cut


def lock_within(fd: int, seconds: float, every: float = 0.01) -> bool:
    """Take `fd`'s lock for writing (flock), trying every `every` seconds for
    up to `seconds`; whether it was taken. Only a lock another holds is
    waited on: any other failure (ENOLCK where the filesystem gives no locks)
    is raised, for the caller to say, not to be taken for a holder."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:  # EWOULDBLOCK: held
            if time.monotonic() >= deadline:
                return False
            time.sleep(every)


def unguarded(path: Path, exc: OSError, what: str) -> str:
    """What to tell the operator when `path` cannot be locked at all, so that
    `what` would not be stopped."""
    return f"{path}: cannot be locked ({exc.strerror or exc}); {what} would not be stopped"
