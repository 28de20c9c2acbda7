"""One long-lived bash on a channel of its own, running one command at a time.

Why it exists is in runbook.jobs (the shared shell): a command sent here costs
a round trip and the command's own processes, not a login shell. What a
command's outcome means does not change: its exit status is what the mark
carries, and a shell that ends or a connection that is lost before the mark
arrives leaves the outcome unknown (None), never success.
"""

from __future__ import annotations

import asyncio
import secrets

import asyncssh

from runbook import jobs
from runbook.shell import OutputSink

# bash reports a command ended by signal N as 128 + N; an exec request's
# exit-signal reads as -N, and the rest of the runbook tells "killed" from
# "failed" by that (runbook.filewrite.replace_file: stopped halfway is unknown,
# not "as it was"). A command that exits 129-192 of its own accord reads as
# killed too: the cautious way to be wrong.
_SIGNALLED = range(129, 128 + 65)


def _as_exec_status(status: int) -> int:
    return -(status - 128) if status in _SIGNALLED else status


class ShellUnavailable(Exception):
    """The host would not start a shared shell (the caller runs commands the
    one-channel-each way instead)."""


class SharedShell:
    def __init__(self, conn: asyncssh.SSHClientConnection,
                 process: asyncssh.SSHClientProcess[str], pid: int) -> None:
        self.conn = conn
        self.process = process
        self.pid = pid  # on the host: what a command in it is the child of
        self.busy = False

    @classmethod
    async def open(cls, conn: asyncssh.SSHClientConnection) -> SharedShell:
        """Start the shell; raises asyncssh's errors for a lost connection and
        ShellUnavailable when the shell did not come up."""
        process = await conn.create_process(jobs.SHARED_SHELL, encoding="utf-8",
                                            errors="replace")
        process.stdin.write(jobs.SHARED_SHELL_HELLO)
        # Whatever a noisy .bashrc prints comes before the shell's own line.
        while line := await process.stdout.readline():
            if line.startswith(jobs.SHARED_SHELL_READY):
                try:
                    return cls(conn, process, int(line[len(jobs.SHARED_SHELL_READY):]))
                except ValueError:
                    break
        process.close()
        raise ShellUnavailable("the host's login shell did not start bash")

    @property
    def usable(self) -> bool:
        """Idle, and its channel and connection are still open."""
        return (not self.busy and not self.conn.is_closed()
                and self.process.exit_status is None
                and not self.process.channel.is_closing())

    async def run(self, command: str, *, limit: float, grace: int, job: str | None,
                  on_output: OutputSink | None) -> tuple[int | None, str, str]:
        """(exit status, stdout, stderr) of `command`; the status is None when
        the shell or the connection ended before the command's mark came."""
        self.busy = True
        mark = f"runbook-{secrets.token_hex(12)}-end"
        out: list[str] = []
        err: list[str] = []
        self.process.stdin.write(jobs.framed(command, limit=limit, grace=grace, job=job,
                                             mark=mark))
        status, ended = await asyncio.gather(
            self._read(self.process.stdout, "out", out, mark, on_output),
            self._read(self.process.stderr, "err", err, mark, on_output))
        if ended is None:
            status = None  # stderr ended without the mark: so did the shell
        if status is not None:
            self.busy = False  # both marks came: the shell waits for the next command
        return status, "".join(out), "".join(err)

    @staticmethod
    async def _read(stream: asyncssh.SSHReader[str], name: str, into: list[str], mark: str,
                    on_output: OutputSink | None) -> int | None:
        """Lines up to `mark`; the status after it on stdout (0 on stderr, which
        carries none), or None when the stream ended first or stdout's mark
        came without its status: a missing exit status is unknown (code review)."""
        while line := await stream.readline():
            at = line.find(mark)
            if at >= 0:
                line, tail = line[:at], line[at + len(mark):]
            if line:
                into.append(line)
                if on_output is not None:
                    on_output(name, line.rstrip("\n"))
            if at >= 0:
                if name == "err":
                    return 0
                word = tail.strip()
                return _as_exec_status(int(word)) if word.isdigit() else None
        return None

    def close(self) -> None:
        """End the shell: EOF on its stdin once its command (if any) is done."""
        self.busy = True
        self.process.close()
