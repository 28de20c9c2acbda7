"""A file written whole or not at all: readers, and whoever comes after a
crash or a full disk, find the old file or the new one, never part of one."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time
from pathlib import Path


def special_file(path: Path) -> bool:
    """Whether `path` is there and neither a regular file nor a folder: a
    FIFO or a device, whose reading could wait for ever (operator trial: a
    FIFO given to `runbook diff` hung with no word; bad-input trial: the
    config, a journal, /dev/zero read until memory ran out)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False  # reading it says what is wrong
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def atomic_write(path: Path | str, data: bytes, *, private: bool = False) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the new one, never half.

    A new file is created private (0600, from mkstemp); a file being replaced keeps its
    mode, less what group and others had when `private` (a merged properties file holds
    the database password and tokens). A symlink stays: the file it names is replaced.
    Anything but a regular file is refused (OSError), never replaced.
    """
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))  # a loop: its stat below says so
    try:
        found = target.stat()
    except FileNotFoundError:
        mode: int | None = None
    else:
        if not stat.S_ISREG(found.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        mode = stat.S_IMODE(found.st_mode) & (0o7700 if private else 0o7777)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    # Locked until it is renamed or gone, so that a later write can tell a
    # draft being written from one whose writer was killed (its lock went
    # with it): see _remove_if_abandoned.
    with os.fdopen(fd, "wb") as handle:
        try:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            handle.write(data)
            handle.flush()
            os.fsync(fd)
            if mode is not None:
                os.chmod(temporary, mode)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
    sync_folder(target.parent)  # the rename itself, durable
    _remove_old_drafts(target)


# A draft is locked by its writer from the moment it is made (mkstemp, then
# flock: microseconds apart); one this young may be in that gap.
_DRAFT_BEING_MADE_S = 5
# Where locks cannot tell (a filesystem without flock), a draft older than
# this is no write under way.
_DRAFT_LEFT_S = 600


def _remove_old_drafts(target: Path) -> None:
    """Drafts of `target` that earlier writes left: they hold what the file
    held, secrets among them (diff trial: a merged file's draft, the database
    password in clear, outlived the run that made it; re-trial: run again
    straight after the kill, it stayed, being young)."""
    prefix, now = f".{target.name}.", time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(".tmp")
                    and len(name) == len(prefix) + 8 + len(".tmp")):  # mkstemp's 8
                continue
            with contextlib.suppress(OSError):
                found = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(found.st_mode) and found.st_uid == os.getuid() \
                        and now - found.st_mtime > _DRAFT_BEING_MADE_S:
                    _remove_if_abandoned(Path(entry.path), now - found.st_mtime)


def _remove_if_abandoned(draft: Path, age: float) -> None:
    """Remove `draft` if no writer holds it: a killed writer's lock went with
    it. One a writer still holds is left, however old."""
    fd = os.open(draft, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        try:
            # Shared: it still meets the writer's, and unlike an exclusive
            # lock it can be had on a read-only file over NFS, where flock is
            # a POSIX lock (second review).
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # its writer is at it
        except OSError:
            if age <= _DRAFT_LEFT_S:  # no locks here: only age can tell
                return
        os.unlink(draft)  # while holding it: no writer can take it up now
    finally:
        os.close(fd)


def sync_folder(folder: Path | str) -> None:
    """Make what `folder` names (a file made, renamed or removed in it) outlive
    a power cut: fsync of the file keeps its contents, not its name. Best
    effort: some filesystems refuse fsync on a folder."""
    with contextlib.suppress(OSError):
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
