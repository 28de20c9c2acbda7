"""Where runbook keeps what outlives a run on this machine: journals and the key
that tags masked secrets."""

from __future__ import annotations

import errno
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


# How a lock another process holds is refused: EWOULDBLOCK on a local disk;
# EACCES where flock is carried over fcntl locks (SMB, and POSIX allows it).
_HELD = frozenset({errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES})
# How a filesystem that gives no locks at all says so (some NFS and FUSE).
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})


def no_locks_here(exc: OSError) -> bool:
    """Whether `exc`, from lock_within or flock, says this filesystem gives
    no locks at all: nobody holds one, and nobody can."""
    return exc.errno in _NO_LOCKS


def lock_within(fd: int, seconds: float, every: float = 0.01, *, shared: bool = False) -> bool:
    """Take `fd`'s lock (flock; for writing, or `shared` for a look), trying
    every `every` seconds for up to `seconds`; whether it was taken. Only a
    lock another holds is waited on: any other failure (ENOLCK where the
    filesystem gives no locks, see no_locks_here) is raised, for the caller
    to say, not to be taken for a holder."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in _HELD:
                raise
            if time.monotonic() >= deadline:
                return False
            time.sleep(every)


def unguarded(path: Path, exc: OSError, what: str) -> str:
    """What to tell the operator when `path` cannot be locked at all, so that
    `what` would not be stopped."""
    return f"{path}: cannot be locked ({exc.strerror or exc}); {what} would not be stopped"


def why_not(exc: OSError, folder: Path | None = None) -> str:
    """Why a write in runbook's state folder `folder` (or one in it) failed,
    in words: the error's, and where the disk is full, to make room (operator
    trial 59, F2: a traceback, with no word of the state folder)."""
    said = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        said += (f"; runbook's state folder, {folder}, has no room: make room there, or set "
                 "XDG_STATE_HOME to a folder with room" if folder is not None else
                 "; make room on that disk")
    return said
