"""What an upload and a staged file share of the host's SSH connection.

runbook.upload and runbook.filewrite are handed the host's connection
(runbook.remote.Remote) as a :class:`SshConnection`: what they use of it,
said here so that neither imports runbook.remote, which imports them. With
it, what a lost connection raises and the host's SFTP answers in words.
"""

from __future__ import annotations

from typing import Protocol

import asyncssh

from runbook.config import HostSettings
from runbook.shell import CommandResult

LOST = (
    asyncssh.ConnectionLost,
    asyncssh.DisconnectError,
    asyncssh.ChannelOpenError,
    BrokenPipeError,
    ConnectionResetError,
)
# What a connection cut during SFTP raises: the SFTP layer's own error, or
# the socket's (shared/notes/asyncssh-2.md section 5).
SFTP_LOST = (*LOST, asyncssh.SFTPConnectionLost, ConnectionAbortedError)


class SshConnection(Protocol):
    """The host's one SSH connection, as runbook.remote.Remote keeps it."""

    host: HostSettings
    term_grace: float

    @property
    def target(self) -> str: ...

    async def connect(self) -> asyncssh.SSHClientConnection: ...

    async def run(self, command: str, *, timeout: float) -> CommandResult: ...

    def forget(self) -> None: ...


def sftp_reason(exc: asyncssh.SFTPError) -> str:
    """Why the host's SFTP server refused a write, in brackets. OpenSSH's
    sftp-server answers every errno it has no code for (a full disk, a quota,
    a file size limit) with the bare "Failure" (errno_to_portable): said with
    what it most likely means (trial, real sshd with `ulimit -f`)."""
    if exc.code == asyncssh.FX_FAILURE and exc.reason.strip().lower() in ("failure", ""):
        return (f"({exc.reason or 'Failure'}: the host's SFTP server gives no reason; it "
                "answers so for a full disk, a quota or a file size limit: free some space "
                "on the host, then try again)")
    return f"({exc.reason})"


async def size_in(sftp: asyncssh.SFTPClient, path: str) -> int:
    """The size of `path` over an open SFTP session; 0 when there is no such file."""
    try:
        return (await sftp.stat(path)).size or 0
    except asyncssh.SFTPNoSuchFile:
        return 0
