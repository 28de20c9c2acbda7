"""Copying a file to the host over SFTP: resumed, pipelined, hashed as it goes.

A Remote's upload (runbook.remote.Remote.upload) is this, over the host's
one connection. The sha256 of what was sent is taken on the way, of the very
bytes that went out; with `host_hash`, the host hashes the file as it lands
(:class:`_HostReading`), so that its own checksum is ready when the copy ends.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import Any

import asyncssh

from runbook import jobs
from runbook.sftp import SFTP_LOST, SshConnection, sftp_reason, size_in
from runbook.shell import (
    CommandTimeout,
    OutcomeUnknown,
    Refused,
    RemoteError,
    Uploaded,
    landing_sha256_command,
    sha256_command,
)

ProgressSink = Callable[[int, int], None]  # (bytes done, bytes total)

# Uploads: the file is read and hashed in chunks a thread ahead of the
# network, and sent in SFTP writes of at most _BLOCK (OpenSSH's sftp-server
# takes 255 KiB), with writes for up to _IN_FLIGHT bytes unconfirmed at once.
# No pause between chunks: the pipe stays full. A cut can leave holes only in
# the last _IN_FLIGHT bytes of what reached the host, so a later run trusts
# what is below that, in whole _RESUME_GRAINs, once its sha256 matches ours.
_READ_CHUNK = 8 << 20
_BLOCK = 256 << 10
_IN_FLIGHT = 8 << 20
_RESUME_GRAIN = 1 << 20
# The host reading an upload as it lands is told every this many bytes: few
# enough lines (a `head` each) to be nothing to the host, and little enough
# left to read once the copy ends.
_TELL_EVERY = 16 << 20
# How long a finished upload waits for the host's hash of it before it takes
# the file's sha256 again the usual way.
_HOST_READ_WAIT_S = 60.0
# Starting that reading is an exec request through the login shell: if the
# host does not take it this soon, the upload goes on without it.
_HOST_READ_START_S = 10.0
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


async def upload(
    ssh: SshConnection,
    local: Path,
    remote: str,
    *,
    timeout: float,
    progress: ProgressSink | None = None,
    host_hash: bool = False,
) -> Uploaded:
    """Copy `local` to `remote` over SFTP, hashing the bytes as they go.

    The file is read and hashed in a thread a chunk ahead of the network,
    so the hash costs no time of its own, and it is of the very bytes
    that went out. What an earlier run left at `remote` is kept as far as
    its sha256 matches ours (:func:`_resume_point`); a connection lost on
    the way is re-opened and the copy goes on from the first byte the host
    had not confirmed. The caller proves the result with the host's own
    checksum of the file: with `host_hash`, the host reads each part once
    it is written, so that checksum is ready when the copy ends."""
    total = local.stat().st_size
    at: _Sent | None = None
    kept: int | None = None  # what the first look found on the host
    deadline = time.monotonic() + timeout
    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    if at is None:
                        at = await _resume_point(ssh, local, remote, total, timeout)
                        # Not more than a later look found (the file cut
                        # meanwhile): what survived of an earlier attempt.
                        kept = at.offset if kept is None else min(kept, at.offset)
                    sent = await _send(ssh, local, remote, at, total, progress,
                                       host_hash=host_hash, limit=timeout,
                                       deadline=deadline)
                    return dataclasses.replace(sent, kept=kept or 0)
                except SFTP_LOST:
                    ssh.forget()
                # Shorter than we think (cut, or changed meanwhile): look again.
                if at is not None and await _size_on_host(ssh, remote) < at.offset:
                    at = None
    except TimeoutError:
        raise CommandTimeout(
            f"{ssh.target}: upload of {local.name} did not finish within {timeout:g}s"
        ) from None
    except Refused:
        raise
    except RemoteError as exc:
        if isinstance(exc, OutcomeUnknown):
            raise
        raise OutcomeUnknown(f"{exc}; the upload of {local.name} stopped part-way") from None
    except asyncssh.SFTPError as exc:
        raise RemoteError(f"{ssh.target}: upload to {remote} failed "
                          f"{sftp_reason(exc)}") from None


async def _resume_point(ssh: SshConnection, local: Path, remote: str, total: int,
                        timeout: float) -> _Sent:
    """Where to start: past what an earlier run (or attempt) left on the
    host, as far as it provably is the start of our file.

    Parallel writes cut off can leave holes anywhere in the last
    _IN_FLIGHT bytes, so those are sent again; the rest counts only once
    the host's sha256 of it equals ours (both taken at once)."""
    have = min(await _size_on_host(ssh, remote), total)
    trusted = (have - _IN_FLIGHT) // _RESUME_GRAIN * _RESUME_GRAIN
    if trusted <= 0:
        return _Sent(0, hashlib.sha256())
    ours = asyncio.create_task(asyncio.to_thread(_hash_prefix, local, trusted))
    try:
        theirs = await ssh.run(sha256_command(remote, first=trusted), timeout=timeout)
    finally:
        hashed = await ours
    if theirs.ok and theirs.stdout.split()[:1] == [hashed.hexdigest()]:
        return _Sent(trusted, hashed)
    return _Sent(0, hashlib.sha256())


async def _send(ssh: SshConnection, local: Path, remote: str, at: _Sent, total: int,
                progress: ProgressSink | None, *, host_hash: bool,
                limit: float, deadline: float) -> Uploaded:
    """Send `local` from `at` on; `at` follows the bytes the host confirmed,
    in order, with the hash of everything before them."""
    conn = await ssh.connect()
    loop = asyncio.get_running_loop()
    host: _HostReading | None = None
    try:
        async with conn.start_sftp_client() as sftp:
            block = min(sftp.limits.max_write_len or _BLOCK, _BLOCK)
            window = max(1, _IN_FLIGHT // block)
            mode = "r+b" if at.offset else "wb"
            async with sftp.open(remote, mode, encoding=None) as target:
                # Opened once the file is ours (created, or cut to nothing).
                if host_hash:
                    host = await _HostReading.start(conn, remote, limit=limit,
                                                    grace=max(1, math.ceil(ssh.term_grace)))
                await _write_all(target, local, at, total, block, window, progress,
                                 host, loop)
            if progress is not None and total == 0:
                progress(0, 0)
        # The file is closed, whole: the host reads what it was not yet told of.
        # Never what fails the upload: a second before its limit, the
        # copy stands and the caller reads the file the usual way.
        theirs = None if host is None else await host.sha256(
            min(_HOST_READ_WAIT_S, deadline - time.monotonic() - 1))
    finally:
        if host is not None:
            host.close()
    return Uploaded(str(at.hasher.hexdigest()), theirs)


async def _write_all(target: asyncssh.SFTPClientFile, local: Path, at: _Sent,
                     total: int, block: int, window: int, progress: ProgressSink | None,
                     host: _HostReading | None, loop: asyncio.AbstractEventLoop) -> None:
    """The writes of `_send`, `window` of them in flight, then the file cut to size."""
    with local.open("rb") as source:
        source.seek(at.offset)
        # (offset, bytes, hash through them): read one chunk ahead.
        reading = loop.run_in_executor(None, _read_blocks, source, at.offset, at.hasher,
                                       block)
        flying: collections.deque[tuple[int, int, Any, asyncio.Task[int]]] = \
            collections.deque()
        try:
            while blocks := await reading:
                end = blocks[-1][0] + len(blocks[-1][1])
                reading = loop.run_in_executor(None, _read_blocks, source, end,
                                               blocks[-1][2], block)
                for offset, data, through in blocks:
                    if len(flying) >= window:
                        await _landed(flying, at, total, progress, host)
                    flying.append((offset, len(data), through, asyncio.ensure_future(
                        target.write(data, offset))))
            while flying:
                await _landed(flying, at, total, progress, host)
        finally:
            # Writes still out and the read ahead end unheard: their
            # errors are taken as they come (never raised, never logged
            # unread at garbage collection), whatever way this upload ends.
            for *_, task in flying:
                task.add_done_callback(_taken)
                task.cancel()
            reading.add_done_callback(_taken)
            # The thread must be done with `source` before it is closed.
            # A cancel in this wait (an abort, the time limit) goes through.
            await asyncio.wait([reading])
        await target.truncate(total)


async def _landed(flying: collections.deque[tuple[int, int, Any, asyncio.Task[int]]],
                  at: _Sent, total: int, progress: ProgressSink | None,
                  host: _HostReading | None) -> None:
    """Wait for the oldest write; once the host has it, `at` moves past it."""
    offset, size, through, task = flying[0]
    await task
    flying.popleft()
    at.offset, at.hasher = offset + size, through
    if host is not None:
        host.landed(at.offset)
    if progress is not None:
        progress(at.offset, total)


async def _size_on_host(ssh: SshConnection, remote: str) -> int:
    conn = await ssh.connect()
    async with conn.start_sftp_client() as sftp:
        return await size_in(sftp, remote)


def _taken(future: asyncio.Future[Any]) -> None:
    """Retrieve a finished future's error, so that nobody is told of it later."""
    if not future.cancelled():
        future.exception()


class _HostReading:
    """A command on the host hashing the file an upload writes, told as each
    stretch is known to be written (runbook.shell.landing_sha256_command).

    Only ever a shortcut: whatever goes wrong with it leaves no hash, and the
    caller reads the whole file again."""

    def __init__(self, process: asyncssh.SSHClientProcess[str] | None) -> None:
        self._process = process
        self._told = 0

    @classmethod
    async def start(cls, conn: asyncssh.SSHClientConnection, path: str, *, limit: float,
                    grace: int) -> _HostReading:
        command = jobs.wrap(landing_sha256_command(path), limit=limit, grace=grace, job=None)
        try:
            async with asyncio.timeout(_HOST_READ_START_S):
                process = await conn.create_process(command, encoding="utf-8",
                                                    errors="replace")
        except (TimeoutError, OSError, asyncssh.Error):
            process = None
        return cls(process)

    def landed(self, offset: int) -> None:
        """The file is written up to `offset`."""
        if self._process is not None and offset - self._told >= _TELL_EVERY:
            try:
                self._process.stdin.write(f"{offset - self._told}\n")
            except (OSError, asyncssh.Error):
                self.close()
                return
            self._told = offset

    async def sha256(self, within: float) -> str | None:
        """The host's sha256 of the whole file, once the last write is in;
        None if it does not come `within` seconds."""
        if self._process is None:
            return None
        try:
            self._process.stdin.write_eof()
            async with asyncio.timeout(max(0.0, within)):
                done = await self._process.wait()
        except (TimeoutError, OSError, asyncssh.Error):
            return None
        # The last line: a login shell's .bashrc may print before the command.
        lines = str(done.stdout or "").strip().splitlines()
        words = lines[-1].split() if lines else []
        if done.exit_status != 0 or not words or not _SHA256_HEX.fullmatch(words[0]):
            return None
        return words[0].lower()

    def close(self) -> None:
        if self._process is not None:
            self._process.close()
            self._process = None


@dataclass
class _Sent:
    """How far the host has an upload, in order, and the sha256 of those bytes."""

    offset: int
    hasher: Any


def _read_blocks(source: BufferedReader, offset: int, hasher: Any,
                 block: int) -> list[tuple[int, bytes, Any]]:
    """The next chunk of `source` as SFTP writes, each with the hash of the
    file through it (hashlib lets go of the GIL: this runs beside the
    network). Empty at the end of the file."""
    data = source.read(_READ_CHUNK)
    blocks = []
    hasher = hasher.copy()
    for start in range(0, len(data), block):
        piece = data[start:start + block]
        hasher.update(piece)
        blocks.append((offset + start, piece, hasher.copy()))
    return blocks


def _hash_prefix(local: Path, size: int) -> Any:
    hasher = hashlib.sha256()
    with local.open("rb") as source:
        while size > 0 and (data := source.read(min(size, _READ_CHUNK))):
            hasher.update(data)
            size -= len(data)
    return hasher
