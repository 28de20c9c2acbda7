"""The rehearsal host's SSH server: real asyncssh on loopback, real bash behind it.

Every exec request runs as ``bash -c COMMAND`` in the sandbox, with the shims
first on PATH, so quoting, pipes, ``&&``, exit codes and signals behave the
way they will on the real host. Behaviour copies OpenSSH's sshd where the
runbook can tell the difference:

* only public-key login, only for the configured user (and any colleague's
  login let in, with a home of its own: two operators, two SSH logins);
* a command runs in its own session (process group); a client's signal
  request reaches the whole group;
* without a PTY a dropped connection does not kill the command: its output
  pipes are closed (a later write gets SIGPIPE) and it may run on. Such
  leftovers are remembered so the rehearsal can end them when it stops;
* SFTP (and scp) work on the same absolute paths the shell sees, refused
  outside the sandbox, and the SFTP session ends with exit status 0.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import os
import posixpath
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import asyncssh

from runbook.jobs import SHARED_SHELL, SHARED_SHELL_HELLO, keeps_a_record
from runbook.rehearsal.sandbox import make_private_dir, owned_processes, write_private

log = logging.getLogger(__name__)

_CHUNK = 65536
_HELLO = SHARED_SHELL_HELLO.encode()
# How many of the latest commands RehearsalSSHServer.commands keeps.
_COMMANDS_KEPT = 20_000
# Environment a client may pass through, as Debian's sshd_config allows.
_ACCEPTED_ENV_PREFIXES = ("LANG", "LC_")


def ensure_keys(state_dir: Path) -> tuple[Path, Path]:
    """Create the host key and the client key pair once; return their paths."""
    make_private_dir(state_dir)
    host_key = state_dir / "ssh_host_ed25519_key"
    client_key = state_dir / "id_ed25519"
    for path in (host_key, client_key):
        if not path.exists():
            key = asyncssh.generate_private_key("ssh-ed25519", comment=f"rehearsal {path.name}")
            # The public half first: a run killed in between then leaves no
            # private key, so the next run makes a whole pair again. Both are
            # owner-only from the start: OpenSSH refuses a private key others
            # can read, and so should we.
            write_private(Path(str(path) + ".pub"), key.export_public_key())
            write_private(path, key.export_private_key())
    return host_key, client_key


def known_hosts_line(host_key: Path, port: int) -> str:
    public = asyncssh.read_private_key(str(host_key)).export_public_key().decode().split()
    return f"[127.0.0.1]:{port} {public[0]} {public[1]}\n"


class _Job:
    """One running command and the pipes that tie it to its SSH channel."""

    def __init__(
        self, proc: asyncio.subprocess.Process, pipes: list[asyncio.BaseTransport]
    ) -> None:
        self.proc = proc
        self.pipes = pipes
        self.abandoned = False
        # Cleared while an armed drop waits to land: nothing more goes back.
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.held_err = asyncio.Event()  # stderr had something to say meanwhile

    def abandon(self) -> None:
        """The client went away: do what sshd does and let go of the pipes."""
        if self.abandoned:
            return
        self.abandoned = True
        self.flowing.set()  # the pumps find it abandoned and end
        for transport in self.pipes:
            transport.close()
        if self.proc.stdin is not None:
            self.proc.stdin.close()

    def signal(self, name: str) -> None:
        signum = getattr(signal, f"SIG{name.upper()}", None)
        if not isinstance(signum, signal.Signals):
            log.info("ignoring unknown signal %r from the client", name)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)


async def _open_reader(fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    # Our own read end, so it can be closed when the client disappears (the
    # asyncio subprocess API has no public way to close a child's stdout).
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_CHUNK * 16)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    return reader, transport


class SandboxSFTPServer(asyncssh.SFTPServer):
    """SFTP on the host's real absolute paths, fenced in at the sandbox."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], root: Path, home: Path,
                 owner: RehearsalSSHServer | None = None) -> None:
        super().__init__(chan)
        self._root = os.fsencode(root)
        self._home = os.fsencode(home)
        self._owner = owner

    def write(self, file_obj: object, offset: int, data: bytes) -> Any:
        # A drop armed for the next transfer lands once data has started
        # to arrive: what reached the host is a part file, as on a real drop.
        owner = self._owner
        if owner is None:
            return super().write(file_obj, offset, data)
        through = owner.drop_in_a_write(len(data))
        if through is None:
            owner.sftp_bytes += len(data)
            return super().write(file_obj, offset, data)
        # Only the bytes before the drop's point reach the host: a file sent
        # in a single write (a small distribution) is cut too, not whole.
        result = super().write(file_obj, offset, data[:through])
        owner.sftp_bytes += through
        owner.sftp_bytes_at_drop = owner.sftp_bytes
        owner.drop_connections()
        return result

    def map_path(self, path: bytes) -> bytes:
        # Relative paths start in the user's home, as with OpenSSH.
        local = posixpath.join(self._home, path)
        real = os.path.realpath(local)
        if real != self._root and not real.startswith(self._root + b"/"):
            raise PermissionError(
                errno.EACCES, "Permission denied: outside the rehearsal host", os.fsdecode(path)
            )
        return local

    def exit(self) -> None:
        # OpenSSH's sftp-server reports exit status 0; asyncssh sends none,
        # which makes OpenSSH's scp (SFTP mode) fail a copy that worked.
        with contextlib.suppress(Exception):
            self.channel.exit(0)


class _ServerConnection(asyncssh.SSHServer):
    def __init__(self, owner: RehearsalSSHServer) -> None:
        self._owner = owner
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._owner._connections[conn] = set()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            for job in self._owner._connections.pop(self._conn, set()):
                job.abandon()

    def begin_auth(self, username: str) -> bool:
        # Anyone but the logins let in gets no keys, so every attempt fails.
        if username in self._owner.logins and self._conn is not None:
            self._conn.set_authorized_keys(self._owner._authorized_keys)
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True


class RehearsalSSHServer:
    """An SSH server for one sandbox and one user."""

    def __init__(
        self,
        *,
        sandbox: Path,
        user: str,
        host_key: Path,
        client_public_key: Path,
        env: Mapping[str, str],
        prefix: Sequence[str] = (),
    ) -> None:
        self.sandbox = sandbox
        # What each command starts under (sandbox.PLAIN_USER for a plain user).
        self._prefix = tuple(prefix)
        self.user = user
        self.home = sandbox / "home" / user
        # Who may log in: the user, and colleagues let in (let_in), each
        # with its own home, as two operators' SSH logins on one host.
        self.logins = {user}
        self.port = 0
        self._host_key = asyncssh.read_private_key(str(host_key))
        self._authorized_keys = asyncssh.read_authorized_keys(str(client_public_key))
        self._env = dict(env)
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._connections: dict[asyncssh.SSHServerConnection, set[_Job]] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        # A drop armed by a rehearsed fault: cut the connection during the
        # next command (after it ran, before its exit status goes back) or
        # the next SFTP write.
        self._drop_armed = False
        self._drop_skip = 0
        self._drop_in_a_change = False
        self._drop_in_a_write = False
        self.drops = 0
        # What the clients asked of this host, latest last: each exec
        # request's command and each command a shared shell was given. For
        # tests that count what a step costs the host; bounded, as a lasting
        # host serves run after run.
        self.commands: collections.deque[str] = collections.deque(maxlen=_COMMANDS_KEPT)
        self.sftp_bytes = 0  # written through SFTP, all sessions together
        self.sftp_bytes_at_drop: int | None = None  # of them, when a drop landed in a write
        # Process groups of every command ever started: what a leftover
        # (a command orphaned by a dropped connection, or something it put in
        # the background) can be found by.
        self._groups: set[int] = set()

    async def start(self, port: int = 0) -> int:
        self._acceptor = await asyncssh.listen(
            "127.0.0.1",
            port,
            server_factory=lambda: _ServerConnection(self),
            server_host_keys=[self._host_key],
            process_factory=self._handle,
            sftp_factory=lambda chan: SandboxSFTPServer(chan, self.sandbox, self.home_of(chan),
                                                        self),
            allow_scp=True,
            encoding=None,
            keepalive_interval=15,
            keepalive_count_max=4,
        )
        self.port = self._acceptor.get_port()
        return self.port

    def let_in(self, login: str) -> Path:
        """Let a colleague log in as `login` too (the same key), with a home
        of its own; its commands run as the user's do, under its name."""
        home = self.sandbox / "home" / login
        home.mkdir(parents=True, exist_ok=True)
        self.logins.add(login)
        return home

    def home_of(self, chan: asyncssh.SSHServerChannel[bytes]) -> Path:
        """The home of the login a channel came in as."""
        login = chan.get_extra_info("username")
        if isinstance(login, str) and login in self.logins:
            return self.sandbox / "home" / login
        return self.home

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def drop_connections(self) -> None:
        """Cut every client off at once, as a network failure would."""
        for conn in list(self._connections):
            conn.abort()

    def arm_drop(self, skip: int = 0, *, in_a_change: bool = False,
                 in_a_write: bool = False) -> None:
        """Cut the clients off during the next command or SFTP write: the
        command runs, and the client never hears how it ended. `skip` lets
        that many commands, or bytes of SFTP writes, through first;
        `in_a_change` lets every look through as well (a command that keeps
        no job record), so the drop lands in a change; `in_a_write` lets
        every command through, so it lands in an SFTP write."""
        self._drop_armed = True
        self._drop_skip = skip
        self._drop_in_a_change = in_a_change
        self._drop_in_a_write = in_a_write

    def take_armed_drop(self, command: str) -> bool:
        """Whether this command is where the armed drop lands."""
        return self._drop_lands(1, command=command) is not None

    def drop_in_a_write(self, size: int) -> int | None:
        """Whether the armed drop lands in this SFTP write of `size` bytes:
        how many of them go through before it does, or None."""
        return self._drop_lands(size)

    def _drop_lands(self, size: int, *, command: str | None = None) -> int | None:
        if not self._drop_armed:
            return None
        if self._drop_in_a_change and command is not None and not keeps_a_record(command):
            return None
        if self._drop_in_a_write and command is not None:
            return None
        if self._drop_skip >= size:
            self._drop_skip -= size
            return None
        self._drop_armed = False
        self.drops += 1
        return self._drop_skip

    async def close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
        for conn in list(self._connections):
            conn.close()
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 2)

    async def kill_leftovers(self, grace: float = 2.0) -> list[int]:
        """End every process still running in a command's process group
        (TERM, then KILL after ``grace`` seconds); return the PIDs found."""
        loop = asyncio.get_running_loop()
        # A command in a shared shell runs in the shell's session, and one
        # with a job record in a session of its own, which the record names.
        groups = self._groups | self._recorded_sessions()
        found = alive = await asyncio.to_thread(owned_processes, self.sandbox, groups)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not alive:
                break
            for pid in alive:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = loop.time() + grace
            while loop.time() < deadline:
                await asyncio.sleep(0.05)
                alive = await asyncio.to_thread(owned_processes, self.sandbox, groups)
                if not alive:
                    break
        # Our own children are reaped by asyncio once their handler sees them exit.
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=grace)
        return found

    def _recorded_sessions(self) -> set[int]:
        """Sessions named by the job records runbook.jobs leaves in the home."""
        found: set[int] = set()
        with contextlib.suppress(OSError):
            for login in self.logins:
                with contextlib.suppress(OSError):
                    for record in (self.sandbox / "home" / login / ".runbook" / "jobs").iterdir():
                        with contextlib.suppress(OSError, ValueError, IndexError):
                            if "." not in record.name:
                                found.add(int(record.read_text().split()[0]))
        return found

    # --- exec requests ---------------------------------------------------------------

    def _command_env(self, process: asyncssh.SSHServerProcess[bytes]) -> dict[str, str]:
        env = dict(self._env)
        login = process.get_extra_info("username")
        if isinstance(login, str) and login != self.user:  # a colleague's login
            env.update(HOME=str(self.sandbox / "home" / login), USER=login, LOGNAME=login)
        for key, value in process.env.items():
            name = key.decode() if isinstance(key, bytes) else key
            if name.startswith(_ACCEPTED_ENV_PREFIXES):
                env[name] = value.decode() if isinstance(value, bytes) else value
        return env

    async def _handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await self._run(process)
        finally:
            if task is not None:
                self._handlers.discard(task)

    async def _run(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command
        if command is None:
            process.stderr.write(
                b"This rehearsal host runs commands only; ask for a command "
                b"(ssh host 'COMMAND'), not an interactive shell.\n"
            )
            process.exit(1)
            return
        conn = cast(asyncssh.SSHServerConnection, process.channel.get_connection())
        env = self._command_env(process)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._prefix,
                "bash",
                "-c",
                command,
                stdin=asyncio.subprocess.PIPE,
                stdout=out_w,
                stderr=err_w,
                cwd=env["HOME"] if os.path.isdir(env.get("HOME", "")) else self.sandbox,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (out_r, err_r):
                os.close(fd)
            process.stderr.write(f"rehearsal host: cannot run bash: {exc}\n".encode())
            process.exit(127)
            return
        finally:
            os.close(out_w)
            os.close(err_w)
        self._groups.add(proc.pid)
        stdout, out_transport = await _open_reader(out_r)
        stderr, err_transport = await _open_reader(err_r)
        job = _Job(proc, [out_transport, err_transport])
        jobs = self._connections.get(conn)
        if jobs is None:  # the client vanished while the command was starting
            job.abandon()
        else:
            jobs.add(job)
        # Hooked directly: asyncssh would otherwise deliver a signal as an
        # exception from stdin reads, which never come once stdin is at EOF.
        process.signal_received = job.signal  # type: ignore[method-assign,assignment]

        # A runbook's shared shell reads one command after another on its
        # stdin: there, each command (not the shell's start) is where an armed
        # drop can land.
        shared = command == SHARED_SHELL
        if not shared:
            self.commands.append(command)
        feeder = asyncio.create_task(self._feed_stdin(process, proc, job if shared else None))
        if not shared and self.take_armed_drop(command=command):
            # Give the command its time (a short one ends), then cut the
            # connection before its exit status can go back.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), 0.5)
            self.drop_connections()
        try:
            await asyncio.gather(
                self._pump(stdout, process.stdout, job),
                self._pump(stderr, process.stderr, job, job.held_err),
            )
            returncode = await proc.wait()
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            out_transport.close()
            err_transport.close()
            if jobs is not None:
                jobs.discard(job)
        if job.abandoned:
            return
        with contextlib.suppress(OSError, asyncssh.Error):
            if returncode < 0:
                process.exit_with_signal(signal.Signals(-returncode).name[3:])
            else:
                process.exit(returncode)

    @staticmethod
    async def _pump(
        source: asyncio.StreamReader, sink: asyncssh.SSHWriter[bytes], job: _Job,
        held: asyncio.Event | None = None,
    ) -> None:
        while True:
            try:
                chunk = await source.read(_CHUNK)
            except OSError:
                return
            if not chunk:
                return
            if not job.flowing.is_set():
                if held is not None:
                    held.set()
                await job.flowing.wait()
            if job.abandoned:
                return
            try:
                sink.write(chunk)
                await sink.drain()
            except (OSError, asyncssh.Error):
                job.abandon()
                return

    async def _feed_stdin(
        self, process: asyncssh.SSHServerProcess[bytes], proc: asyncio.subprocess.Process,
        shared: _Job | None,
    ) -> None:
        """Hand the client's input to the command; in a shared shell (`shared`),
        each piece of input is a command an armed drop can land in."""
        target = proc.stdin
        assert target is not None
        try:
            while True:
                try:
                    data = await process.stdin.read(_CHUNK)
                except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged):
                    continue
                if not data:
                    break
                # The shell's greeting is not a command.
                if shared is not None and data != _HELLO:
                    self.commands.append(data.decode(errors="replace"))
                dropping = (shared is not None and data != _HELLO
                            and self.take_armed_drop(command=data.decode(errors="replace")))
                if dropping:
                    assert shared is not None
                    shared.flowing.clear()
                target.write(data)
                await target.drain()
                if dropping:
                    assert shared is not None
                    # As for an exec request: the command has its time (a short
                    # one ends: its end mark is the last thing on stderr), and
                    # the connection is cut before its exit status goes back.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(shared.held_err.wait(), 0.5)
                    self.drop_connections()
        except (OSError, asyncssh.Error):
            # The command stopped reading (or exited) or the client left;
            # either way there is nobody to hand input to.
            pass
        finally:
            target.close()
