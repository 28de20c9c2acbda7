"""The rehearsal host: a fake Stream Manager machine the runbook can be pointed at.

``RehearsalHost`` puts together the sandbox (files), the SSH server (commands,
SFTP), the two database servers (real MariaDB where it is installed, else
stand-ins: ``runbook.rehearsal.databases``), and the Red5 Pro service the
systemctl shim runs. It behaves like a host that was just booted: the live
stream manager is running (its unit is enabled), SSH answers with a known host
key, and the operator's downloads sit ready in ``SANDBOX/.operator``.

A sandbox survives a killed rehearsal: ``state.json`` keeps ports, user, keys
and tokens, and a service left running by the killed rehearsal is adopted by
the next one on the same sandbox. The next rehearsal is the same machine going
on, not a reboot: a service that was down when the last one ended mid-cutover
(killed, or failed to start) stays down; one that rehearsal stopped only
because it was ending, or a live one that died before the cutover, is started
again, from the folder it ran from (the old release runs on from bak.red5pro
once the cutover has moved it, until stop-service kills it). When a rehearsal
ends nothing it started
keeps running. One rehearsal at a time per sandbox: a second is refused
(``.rehearsal/host.lock``) before it touches anything of the first. What the
rehearsal keeps in ``.rehearsal/`` and ``.operator/`` is for its owner only.

Run ``python -m runbook.rehearsal.host [--sandbox DIR]`` to keep a host up by
hand; it prints the values a runbook config needs as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncssh
import javaproperties

import runbook
from runbook import lost_writes
from runbook.hoststate import cutover_under_way_in
from runbook.rehearsal import (
    SANDBOX_ENV,
    RehearsalError,
    armed,
    cloud,
    cluster_rows,
    databases,
    ports,
    sandbox,
    scenarios,
)
from runbook.rehearsal.databases import DatabaseServers
from runbook.rehearsal.sandbox import LiveSecrets
from runbook.rehearsal.service import READY_LINE, UNAVAILABLE_LINE
from runbook.rehearsal.sshd import (
    RehearsalSSHServer,
    SandboxSFTPServer,
    ensure_keys,
    known_hosts_line,
)

log = logging.getLogger(__name__)

# 2: the sandbox carries a scenario (real releases on both sides).
STATE_FORMAT = 2
# Held by the one rehearsal that runs on a sandbox, from start() to stop().
# Not the fake cloud's state.lock: its services take that one around every
# read-modify-write, which a lock held for the whole rehearsal would block.
LOCK_NAME = "host.lock"
SERVICE_STOP_TIMEOUT = 10.0
BOOT_TIMEOUT = 20.0
# Writing the seeded fleet's rows into the live database.
DB_TIMEOUT_S = 5.0


def _python_path() -> str:
    """Where the service's imports come from: this package and the packages
    installed beside it (the service runs under another name, so the
    interpreter cannot find a virtualenv's site-packages by itself)."""
    import site

    entries = [str(Path(runbook.__file__).resolve().parent.parent)]
    entries += [p for p in site.getsitepackages() if os.path.isdir(p)]
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        entries.append(site.getusersitepackages())
    return os.pathsep.join(dict.fromkeys(entries))


def _python_home() -> str:
    if sys.base_exec_prefix != sys.base_prefix:
        return f"{sys.base_prefix}{os.pathsep}{sys.base_exec_prefix}"
    return sys.base_prefix


def _lift_faults(root: Path) -> None:
    armed.lift_all(root)
    cloud.unstick(root)


class _FaultedSFTPServer(SandboxSFTPServer):
    """The host's SFTP server while a file fault is armed: a full disk takes
    half of the next block and refuses the rest; a denied permission refuses
    every write and every change to the tree. Both answer as OpenSSH's
    sftp-server does: EACCES as "Permission denied", ENOSPC as "Failure"."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], root: Path, *rest: Any) -> None:
        super().__init__(chan, root, *rest)
        self._sandbox = root

    def _refuse(self, path: bytes | None = None) -> None:
        if armed.armed(self._sandbox, "permission-denied") is not None:
            raise PermissionError(errno.EACCES, "Permission denied",
                                  os.fsdecode(path) if path else None)

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC):
            self._refuse(path)
        return super().open(path, pflags, attrs)

    def write(self, file_obj: object, offset: int, data: bytes) -> Any:
        self._refuse()
        if armed.armed(self._sandbox, "disk-full") is not None:
            # What fits is written, as on a disk that fills up mid-file; then
            # the answer OpenSSH's sftp-server gives ENOSPC: the bare "Failure"
            # (errno_to_portable has no code for it), not the errno's words.
            super().write(file_obj, offset, data[: len(data) // 2])
            raise asyncssh.SFTPFailure("Failure")
        return super().write(file_obj, offset, data)

    def remove(self, path: bytes) -> Awaitable[None] | None:
        self._refuse(path)
        return super().remove(path)

    def rename(self, oldpath: bytes, newpath: bytes) -> Awaitable[None] | None:
        self._refuse(oldpath)
        return super().rename(oldpath, newpath)

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> Awaitable[None] | None:
        self._refuse(path)
        return super().mkdir(path, attrs)


# state.json's note that this sandbox's teardowns mark a service they stop.
_MARKS_TEARDOWNS = "keeps_the_service_state"


class RehearsalHost:
    """A fake Stream Manager host on loopback, for rehearsals and tests.

    ``sandbox`` is kept after ``stop()`` when given (or with ``keep=True``);
    otherwise a temporary sandbox is created and removed again.
    ``boot_service=False`` leaves the live service down at start, for tests
    that only need SSH. ``plain_user=True`` (run as root) makes the SSH user
    a plain user whose commands hold root's powers only through sudo.
    """

    def __init__(
        self,
        sandbox: Path | None = None,
        *,
        keep: bool = False,
        dist_size: int | None = None,
        user: str = "red5admin",
        boot_service: bool = True,
        scenario: str | None = None,
        databases: str | None = None,
        plain_user: bool = False,
        unit_wait: bool = True,
    ) -> None:
        self._given_sandbox = sandbox is not None
        # False (tests): the sandbox's units leave out jsvc's -wait (sandbox.WITHOUT_WAIT).
        self.unit_wait = unit_wait
        # The SSH user is a plain user, not root: its commands get root's
        # powers only through sudo (sandbox.install_root_helper). Needs this
        # process to be root; otherwise the user is whoever runs the rehearsal.
        self.plain_user = plain_user
        # Asked for; a reused sandbox keeps the one it was made with.
        self._asked_scenario = scenario
        # mariadb or fake (else RUNBOOK_REHEARSAL_DATABASES, else MariaDB if
        # installed); a reused sandbox keeps the kind it was made with.
        self._asked_databases = databases
        self.db_kind = ""
        # realpath, not resolve(): a link loop raises RuntimeError there (3.11).
        self._sandbox = Path(os.path.realpath(sandbox)) if sandbox is not None else None
        self.keep = keep
        self.dist_size = dist_size
        self.user = user
        self.boot_service = boot_service
        self.ssh_port = 0
        self.api_token = ""
        self.api_base_url = ""
        self.old_db: tuple[str, int] = ("", 0)
        self.new_db: tuple[str, int] = ("", 0)
        self.adopted_service: int | None = None
        # Set when runbook refused to run after the host had started (a cutover
        # under way, say): the service then stays as this host found it.
        self.leave_service_running = False
        # Where the next boot starts the service from, when not the live
        # folder: the old release, moved aside while it ran (see _stop_service).
        self._boot_from: Path | None = None
        self.created = False  # True when start() generated a brand-new sandbox
        self.boot_error: str | None = None
        # The service was down when the last rehearsal on this sandbox ended
        # (killed, or failed to start): it stays down, as on a real host that
        # runbook's restart did not reboot.
        self.kept_down = False
        self.state: dict[str, Any] = {}
        self._db = DatabaseServers()
        self._sshd: RehearsalSSHServer | None = None
        self._started = False
        self._lock_fd: int | None = None
        self._keeper: subprocess.Popen[bytes] | None = None

    # --- facts for the runbook's config -------------------------------------------

    @property
    def sandbox(self) -> Path:
        if self._sandbox is None:
            raise RehearsalError("the rehearsal host has no sandbox before start()")
        return self._sandbox

    @property
    def started(self) -> bool:
        """Started and not stopped yet: its sandbox and service are there."""
        return self._started

    @property
    def state_dir(self) -> Path:
        return sandbox.state_dir(self.sandbox)

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"

    @property
    def client_key(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def install_dir(self) -> Path:
        return sandbox.install_dir(self.sandbox)

    @property
    def red5_home(self) -> Path:
        return sandbox.red5_home(self.sandbox)

    @property
    def upload_dir(self) -> Path:
        return self.sandbox / "tmp" / "runbook-upload"

    @property
    def scenario(self) -> scenarios.Scenario:
        return scenarios.scenario(str(self.state.get("scenario") or scenarios.DEFAULT))

    @property
    def distribution(self) -> Path:
        return sandbox.operator_dir(self.sandbox) / self.scenario.zip_name

    @property
    def cloud_controller(self) -> Path:
        return sandbox.operator_dir(self.sandbox) / self.scenario.controller_jar

    @property
    def home(self) -> Path:
        return sandbox.home_dir(self.sandbox, self.user)

    @property
    def pace(self) -> float | None:
        """How fast the fake cloud's nodes boot and go: this process's
        RUNBOOK_REHEARSAL_PACE, which command_env hands on to the service.
        A service adopted from an earlier rehearsal tears nodegroups down at
        the pace it was started with, within the downtime: when that is
        another (or cannot be read), the run's pace is not known."""
        mine = cloud.pace()
        if self.adopted_service is None:
            return mine
        try:
            raw = Path(f"/proc/{self.adopted_service}/environ").read_bytes()
        except OSError:
            return None
        pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
        theirs = cloud.pace({k.decode(errors="replace"): v.decode(errors="replace")
                             for k, _, v in pairs})
        return mine if math.isclose(mine, theirs) else None

    def config_values(self) -> dict[str, str]:
        return {
            "sandbox": str(self.sandbox),
            "ssh_port": str(self.ssh_port),
            "user": self.user,
            "known_hosts": str(self.known_hosts),
            "client_key": str(self.client_key),
            "install_dir": str(self.install_dir),
            "upload_dir": str(self.upload_dir),
            "distribution": str(self.distribution),
            "cloud_controller": str(self.cloud_controller),
            "api_base_url": self.api_base_url,
            "new_db_host": self.new_db[0],
            "new_db_port": str(self.new_db[1]),
        }

    def command_env(self) -> dict[str, str]:
        """The environment every command on the host runs with."""
        env = {
            "PATH": f"{sandbox.bin_dir(self.sandbox)}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "USER": self.user,
            "LOGNAME": self.user,
            "SHELL": "/bin/bash",
            "LANG": "C.UTF-8",
            SANDBOX_ENV: str(self.sandbox),
            "RUNBOOK_PYTHON": sys.executable,
            "RUNBOOK_PYTHONHOME": _python_home(),
            "RUNBOOK_RED5_HOME": str(self.red5_home),
            "PYTHONPATH": _python_path(),
        }
        # Lets tests run the fake cloud's node life cycle faster.
        if cloud.PACE_ENV in os.environ:
            env[cloud.PACE_ENV] = os.environ[cloud.PACE_ENV]
        return env

    # --- the service ---------------------------------------------------------------

    @property
    def _pid_file(self) -> Path:
        return self.sandbox / "run" / "red5pro.pid"

    def service_pid(self) -> int | None:
        """PID of the running Red5 Pro service of this sandbox, if any."""
        try:
            pid = int(self._pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        # The PID may since belong to something else: it must be ours.
        if sandbox.is_running(pid) and str(self.sandbox) in sandbox.proc_cmdline(pid):
            return pid
        return None

    def _set_unit_state(self, state: str) -> None:
        run = self.sandbox / "run"
        with contextlib.suppress(OSError):
            run.mkdir(parents=True, exist_ok=True)
            (run / "red5pro.state").write_text(state + "\n")
            if state == "stopped":
                self._pid_file.unlink(missing_ok=True)

    async def _stop_service(self) -> None:
        """The rehearsal is ending: its service stops with it, to be started
        again by the next rehearsal on this sandbox. One that is down already
        is left as it is (the next one finds its unit so)."""
        pid = self.service_pid()
        if pid is None:
            return
        # Where it ran from: after promote-new, the old server runs on from
        # bak.red5pro, and the next rehearsal starts it there again.
        ran_from = ""
        with contextlib.suppress(OSError):
            ran_from = os.readlink(f"/proc/{pid}/cwd")
        with contextlib.suppress(OSError):
            self._stopped_at_teardown.write_text(ran_from + "\n")
        for sig, wait in ((signal.SIGTERM, SERVICE_STOP_TIMEOUT), (signal.SIGKILL, 2.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and sandbox.is_running(pid):
                await asyncio.sleep(0.05)
            if not sandbox.is_running(pid):
                break
        self._set_unit_state("stopped")

    @property
    def _stopped_at_teardown(self) -> Path:
        # The service ran when the last rehearsal ended and was stopped only
        # because the rehearsal did: the next one brings it back.
        return self.sandbox / "run" / "red5pro.stopped-at-teardown"

    def _adopt_or_clear_orphan(self) -> None:
        # A sandbox made before teardowns left their mark cannot tell a
        # service it stopped from one that was down: it boots, as it did.
        marks_teardowns = self.created or bool(self.state.get(_MARKS_TEARDOWNS))
        stopped_at_teardown = self._stopped_at_teardown.exists()
        ran_from = ""
        with contextlib.suppress(OSError):
            ran_from = self._stopped_at_teardown.read_text().strip()
        # Read once: a mark left beside a service that ran on must not
        # outlive the rehearsal that finds it (review).
        self._stopped_at_teardown.unlink(missing_ok=True)
        # A server stopped only because its rehearsal ended, running from a
        # folder the procedure had moved (the old release in bak.red5pro):
        # a real host's would still run there, so it is started there again.
        moved = Path(ran_from) if ran_from else None
        if moved is not None and moved.is_dir() \
                and moved.resolve() != self.red5_home.resolve():
            self._boot_from = moved
        if not self.state.get(_MARKS_TEARDOWNS):
            self.state[_MARKS_TEARDOWNS] = True
            self._save_state()
        pid = self.service_pid()
        if pid is not None:
            # Info, not a warning: runbook says it in its own words (cli).
            log.info("adopting the Red5 Pro service (pid %d) of an earlier rehearsal", pid)
            self.adopted_service = pid
            return
        if marks_teardowns and not self.created and not stopped_at_teardown \
                and cutover_under_way_in(sandbox.operator_dir(self.sandbox)):
            # Down when the last rehearsal ended, mid-cutover, by the
            # operator's doing or the service's own: the unit keeps the state
            # it was left in, as the procedure left it.
            self.kept_down = True
            return
        # A fresh sandbox, a service this host stopped on its way out, or a
        # live service that died before the cutover (nothing of the procedure
        # is down; this host runs only while a rehearsal does, so nobody
        # could start it): the host comes up as booted, its unit started.
        if not self.created:
            self._set_unit_state("stopped")

    async def _run_shim(self, *args: str, red5_home: Path | None = None) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            str(sandbox.bin_dir(self.sandbox) / args[0]),
            *args[1:],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.home if self.home.is_dir() else self.sandbox,
            env={**self.command_env(),
                 **({"RUNBOOK_RED5_HOME": str(red5_home)} if red5_home else {})},
        )
        output, _ = await proc.communicate()
        return proc.returncode or 0, output.decode("utf-8", "replace")

    async def _boot_service(self) -> None:
        """Start the enabled unit as systemd does at boot, and wait until the
        stream manager has loaded (or failed to)."""
        enabled = self.sandbox / "run" / "red5pro.enabled"
        if not enabled.exists() or enabled.read_text().strip() != "enabled":
            return
        home = self._boot_from or self.red5_home
        red5_log = home / "log" / "red5.log"
        offset = red5_log.stat().st_size if red5_log.exists() else 0
        status, output = await self._run_shim("systemctl", "start", "red5pro", red5_home=home)
        if status != 0:
            said = output.strip().splitlines()[0] if output.strip() else f"exit status {status}"
            self.boot_error = f"systemctl start red5pro failed: {said}"
            # Info: runbook says boot_error with what it means (cli); a bare
            # warning printed before anything else read as a fault of its own.
            log.info("%s", self.boot_error)
            return
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            text = ""
            with contextlib.suppress(OSError), red5_log.open("rb") as handle:
                handle.seek(offset)
                text = handle.read().decode("utf-8", "replace")
            if READY_LINE in text:
                return
            for line in text.splitlines():
                if UNAVAILABLE_LINE in line:
                    self.boot_error = line
                    log.info("the stream manager did not load at boot: %s", line)
                    return
            if self.service_pid() is None:
                self.boot_error = ("the Red5 Pro service exited at boot; see log/red5.log and "
                                   "where its unit's -errfile and -outfile point")
                log.info("%s", self.boot_error)
                return
            await asyncio.sleep(0.05)
        self.boot_error = f"the stream manager did not finish loading within {BOOT_TIMEOUT:.0f} s"
        log.info("%s", self.boot_error)

    # --- rehearsed faults (runbook.rehearsal.faults) ---------------------------------

    @property
    def databases(self) -> DatabaseServers:
        """The live and the new database server."""
        return self._db

    @property
    def db_account(self) -> tuple[str, str]:
        """The live install's database login (user, password), which both servers have."""
        return self._db_account()

    def _trust_known_hosts(self, host_key: Path, port_before: int) -> None:
        """known_hosts is the operator's: written once, with the host's key, and
        then kept (a changed host key must meet the key it trusted). Only the
        port follows the host when it had to move."""
        if not self.known_hosts.exists():
            sandbox.write_private(self.known_hosts, known_hosts_line(host_key, self.ssh_port))
            return
        if port_before and port_before != self.ssh_port:
            text = self.known_hosts.read_text(encoding="utf-8")
            sandbox.write_private(self.known_hosts, text.replace(
                f"[127.0.0.1]:{port_before} ", f"[127.0.0.1]:{self.ssh_port} "))

    async def change_host_key(self, algorithm: str = "ssh-ed25519") -> None:
        """Give the host a new SSH key, as a reinstalled host has; known_hosts
        keeps trusting the old one. Connections made from now on see the new key,
        of `algorithm`, kept where OpenSSH keeps one of its type."""
        from runbook.remote import host_key_file

        key = asyncssh.generate_private_key(algorithm, comment="rehearsal new host key")
        public = self.state_dir / (host_key_file(algorithm) or "ssh_host_ed25519_key.pub")
        path = public.with_suffix("")
        sandbox.write_private(public, key.export_public_key())
        sandbox.write_private(path, key.export_private_key())
        if self._sshd is not None and self._sshd._acceptor is not None:
            self._sshd._acceptor.update(server_host_keys=[key])

    def let_in(self, login: str) -> Path:
        """Let a colleague log in to this host as `login` too, with the same
        key and a home of its own: two operators' SSH logins on one stream
        manager host. Its home."""
        if self._sshd is None:
            raise RehearsalError("the rehearsal host lets logins in once started")
        return self._sshd.let_in(login)

    def _install_fault_seams(self) -> None:
        """The SFTP server of every connection from now on looks for the file
        faults (disk-full, permission-denied) before it writes."""
        server = self._sshd
        if server is None or server._acceptor is None:
            return
        root = self.sandbox
        server._acceptor.update(
            sftp_factory=lambda chan: _FaultedSFTPServer(chan, root, server.home_of(chan), server))

    # --- life cycle ----------------------------------------------------------------

    @property
    def _db_root(self) -> Path:
        return self.state_dir / "mysql"

    def _db_account(self) -> tuple[str, str]:
        """The live install's database login (a sandbox made before it was kept
        in the state has it in the install's red5-web.properties)."""
        kept = self.state.get("db_account")
        if not (isinstance(kept, list) and len(kept) == 2):
            for home in (self.red5_home, self.install_dir / "bak.red5pro"):
                path = home / sandbox.WEBINF / "red5-web.properties"
                with contextlib.suppress(OSError):
                    props = javaproperties.loads(path.read_text(encoding="latin-1"))
                    if props.get("config.dbUser"):
                        kept = [props["config.dbUser"], props.get("config.dbPass", "")]
                        self.state["db_account"] = kept
                        break
        if isinstance(kept, list) and len(kept) == 2:
            return str(kept[0]), str(kept[1])
        raise RehearsalError(f"the sandbox {self.sandbox} names no database login; "
                             "use a new --sandbox")

    def _load_state(self) -> dict[str, Any] | None:
        path = self.state_dir / "state.json"
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RehearsalError(f"cannot read the rehearsal state {path}: {exc}") from exc
        if state.get("format") != STATE_FORMAT:
            raise RehearsalError(
                f"{path} was written by an incompatible runbook version; use a new sandbox"
            )
        return dict(state)

    def _save_state(self) -> None:
        # It holds the API token.
        sandbox.write_private(
            self.state_dir / "state.json", json.dumps(self.state, indent=2, sort_keys=True) + "\n"
        )

    async def _create(
        self, chosen: scenarios.Scenario, secrets_: LiveSecrets
    ) -> dict[str, Any]:
        api_port = ports.listening_port()
        old_db, new_db = self._db.old.address, self._db.new.address
        if not self.unit_wait:
            marker = self.sandbox / sandbox.WITHOUT_WAIT
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("")
        await asyncio.to_thread(
            sandbox.create_sandbox,
            self.sandbox,
            chosen,
            user=self.user,
            api_port=api_port,
            old_db=old_db,
            secrets_=secrets_,
            dist_size=self.dist_size,
        )
        # The live unit was enabled and loaded when the operator installed it.
        run = self.sandbox / "run"
        (run / "red5pro.enabled").write_text("enabled\n")
        (run / "red5pro.state").write_text("stopped\n")
        status, output = await self._run_shim("systemctl", "daemon-reload")
        if status != 0:
            raise RehearsalError(f"the systemctl shim does not work: {output.strip()}")
        await asyncio.to_thread(
            cloud.seed_live_database, self.sandbox, old_db[0], old_db[1], secrets_.instance_prefix,
            api_version=chosen.old.api,
        )
        await asyncio.to_thread(cluster_rows.write_now, self.sandbox, *old_db,
                                secrets_.db_user, secrets_.db_password, DB_TIMEOUT_S)
        return {
            "format": STATE_FORMAT,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "user": self.user,
            "ssh_port": 0,
            "api_port": api_port,
            "old_db": list(old_db),
            "new_db": list(new_db),
            "databases": self.db_kind,
            # The live install's database login, which both servers have.
            "db_account": [secrets_.db_user, secrets_.db_password],
            "api_token": secrets_.api_token,
            "instance_prefix": secrets_.instance_prefix,
            "scenario": chosen.name,
            "old_version": chosen.old.version,
            "new_version": chosen.new.version,
            "old_api_version": chosen.old.api,
            "new_api_version": chosen.new.api,
        }

    async def start(self) -> None:
        if self._started:
            return
        # asyncio's bare line for each write to a client gone is kept off the
        # terminal (and from under the TUI, whose host this may be) before
        # the host serves anyone, as --host-only's is (lost_writes).
        lost_writes.quiet()
        # Refused before anything is made: the fake service would take a pace
        # it cannot read for the fast one, and the journal would say so.
        raw = os.environ.get(cloud.PACE_ENV, "")
        if raw.strip():
            try:
                cloud.parse_pace(raw)
            except ValueError as exc:
                raise RehearsalError(f"{cloud.PACE_ENV}: {exc}; unset it for the fast "
                                     "pace") from None
        if self._sandbox is None:
            self._sandbox = Path(tempfile.mkdtemp(prefix="runbook-rehearsal-")).resolve()
        # Before anything else: a second rehearsal on this sandbox must not
        # touch the first one's files, ports or processes, and the stop()
        # below would end the first one's service.
        self._lock_sandbox()
        self._started = True
        if not (self.keep or self._given_sandbox):
            self._keeper = self._start_keeper()
        try:
            await asyncio.to_thread(sandbox.secure_state, self.sandbox)
            await self._start()
        except BaseException:
            await self.stop()
            raise

    def _lock_sandbox(self) -> None:
        # The sandbox itself holds the fake host's secrets (the live install
        # has them in the clear, as a real one does): a new one is owner-only.
        try:
            self.sandbox.mkdir(mode=sandbox.PRIVATE_DIR, parents=True, exist_ok=True)
            sandbox.make_private_dir(self.state_dir)
        except OSError as exc:  # a file there, or a folder not ours to write in
            why = "a file is in the way" if isinstance(
                exc, FileExistsError | NotADirectoryError) else exc.strerror or str(exc)
            raise RehearsalError(
                f"the sandbox {self.sandbox} cannot be a folder of this rehearsal ({why}); "
                "give --sandbox a new folder or an earlier rehearsal's"
            ) from None
        path = self.state_dir / LOCK_NAME
        # os.open makes a descriptor that is closed on exec, so the service and
        # the commands never inherit the lock: a service adopted after a killed
        # rehearsal must not keep its sandbox locked. The kernel drops the lock
        # of a killed rehearsal with its process.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, sandbox.PRIVATE_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            by = f" (pid {holder})" if holder.isdigit() else ""
            raise RehearsalError(
                f"the sandbox {self.sandbox} is in use by another rehearsal{by}; "
                "let that one finish (or stop it), or choose another --sandbox"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # Who holds it, for the message above; only the holder writes here.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _start_keeper(self) -> subprocess.Popen[bytes]:
        """The throwaway sandbox's keeper (runbook.rehearsal.watchdog): it
        tidies the sandbox if this process dies without stopping the host.
        A session of its own: a kill of this one's process group spares it."""
        env = {key: value for key, value in os.environ.items() if key != SANDBOX_ENV}
        return subprocess.Popen(
            [sys.executable, "-m", "runbook.rehearsal.watchdog", str(self.sandbox),
             str(self.state_dir / LOCK_NAME)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env, start_new_session=True)

    async def _release_keeper(self) -> None:
        """The host stopped and its sandbox is gone: the keeper has nothing to do."""
        keeper, self._keeper = self._keeper, None
        if keeper is None:
            return
        assert keeper.stdin is not None
        keeper.stdin.close()
        try:
            await asyncio.to_thread(keeper.wait, 5)
        except subprocess.TimeoutExpired:
            keeper.kill()  # it would only find the sandbox gone

    def _unlock_sandbox(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def _start(self) -> None:
        state = self._load_state()
        if state is None:
            chosen = scenarios.scenario(self._asked_scenario or scenarios.DEFAULT)
            secrets_ = sandbox.LiveSecrets.generate()
            self.db_kind = databases.choose_kind(self._asked_databases)
            await self._db.start(
                self._db_root,
                self.db_kind,
                account=(secrets_.db_user, secrets_.db_password),
                live_schema=sandbox.data_text(chosen.old.schema),
                fresh=True,
            )
            self.state = await self._create(chosen, secrets_)
            self.created = True
        else:
            self.state = state
            if self._asked_scenario and state["scenario"] != self._asked_scenario:
                raise RehearsalError(
                    f"the sandbox {self.sandbox} rehearses {state['scenario']}, not "
                    f"{self._asked_scenario}; use another --sandbox for that scenario")
            if state["user"] != self.user:
                log.info("sandbox %s belongs to user %s; using that", self.sandbox, state["user"])
                self.user = state["user"]
            self.db_kind = str(state.get("databases") or "")
            asked = self._asked_databases
            if asked in (databases.MARIADB, databases.FAKE) and self.db_kind not in ("", asked):
                raise RehearsalError(
                    f"the sandbox {self.sandbox} has {self.db_kind} databases, not {asked}; "
                    "use another --sandbox for those")
            # A sandbox made before its databases were servers gets them now.
            self.db_kind = self.db_kind or databases.choose_kind(self._asked_databases)
            await self._db.start(
                self._db_root,
                self.db_kind,
                account=self._db_account(),
                live_schema=sandbox.data_text(self.scenario.old.schema),
                old=(state["old_db"][0], int(state["old_db"][1])),
                new=(state["new_db"][0], int(state["new_db"][1])),
            )
            self.state["databases"] = self.db_kind
            await asyncio.to_thread(sandbox.install_shims, self.sandbox)
            await asyncio.to_thread(sandbox.install_jvms, self.sandbox, self.scenario)
        await asyncio.to_thread(
            sandbox.install_client_shim, self.sandbox, stand_in=self.db_kind == databases.FAKE
        )
        self.old_db = (self.state["old_db"][0], int(self.state["old_db"][1]))
        self.new_db = (self.state["new_db"][0], int(self.state["new_db"][1]))
        self.api_token = str(self.state["api_token"])
        self.api_base_url = f"http://127.0.0.1:{int(self.state['api_port'])}"
        for rel in ("tmp", "run", f"home/{self.user}"):
            (self.sandbox / rel).mkdir(parents=True, exist_ok=True)

        try:
            await asyncio.to_thread(sandbox.install_root_helper, self.sandbox,
                                    plain_user=self.plain_user)
        except OSError as exc:
            raise RehearsalError(f"cannot make the SSH user a plain user: {exc}") from None
        host_key, client_key = ensure_keys(self.state_dir)
        self._sshd = RehearsalSSHServer(
            sandbox=self.sandbox,
            user=self.user,
            host_key=host_key,
            client_public_key=Path(str(client_key) + ".pub"),
            env=self.command_env(),
            prefix=sandbox.PLAIN_USER if self.plain_user else (),
        )
        remembered = int(self.state.get("ssh_port") or 0)
        try:
            self.ssh_port = await self._sshd.start(remembered)
        except OSError:
            log.info("SSH port %d is taken; choosing another", remembered)
            self.ssh_port = await self._sshd.start(0)
        self._install_fault_seams()
        self._trust_known_hosts(host_key, int(self.state.get("ssh_port") or 0))
        self.state["ssh_port"] = self.ssh_port
        self._save_state()

        # Faults are a rehearsal's own: one killed mid-run leaves its flags behind.
        await asyncio.to_thread(_lift_faults, self.sandbox)
        self._adopt_or_clear_orphan()
        if self.boot_service and self.adopted_service is None and not self.kept_down:
            await self._boot_service()

    async def stop(self) -> None:
        """Stop everything this rehearsal runs; remove a temporary sandbox."""
        if not self._started:
            return
        self._started = False
        kept = self.service_pid() if self.leave_service_running and self._sandbox is not None \
            else None
        try:
            if self._sandbox is not None and self.sandbox.exists() and kept is None:
                await self._stop_service()
            if self._sshd is not None:
                await self._sshd.kill_leftovers()
                await self._sshd.close()
                self._sshd = None
            await self._db.close()
            if self._sandbox is not None:
                await self._kill_strays(sparing=kept)
                # A kept sandbox keeps no way to root's powers lying about.
                if self.sandbox.exists():
                    await asyncio.to_thread(sandbox.install_root_helper, self.sandbox,
                                            plain_user=False)
                if not (self.keep or self._given_sandbox):
                    await asyncio.to_thread(sandbox.remove_sandbox, self.sandbox)
        finally:
            # Only now may the next rehearsal have the sandbox: nothing of
            # this one runs any more.
            self._unlock_sandbox()
            await self._release_keeper()

    async def _kill_strays(self, *, sparing: int | None = None) -> None:
        # Anything still carrying this sandbox's marker (a second service
        # someone launched by hand, a daemon a command forked off) goes too;
        # but not the service `sparing` names, with its supervisor and jsvc's
        # controlling process (its session).
        spared = sandbox.proc_stat(sparing) if sparing is not None else None

        def stray(pid: int) -> bool:
            found = sandbox.proc_stat(pid)
            return spared is None or found is None or found[2] != spared[2]

        for sig in (signal.SIGTERM, signal.SIGKILL):
            owned = await asyncio.to_thread(sandbox.owned_processes, self.sandbox)
            strays = [pid for pid in owned if stray(pid)]
            if not strays:
                return
            log.info("ending leftover processes %s with %s", strays, sig.name)
            for pid in strays:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                if not await asyncio.to_thread(sandbox.owned_processes, self.sandbox):
                    return

    def drop_connections(self) -> None:
        """Abort every SSH client connection (fault injection)."""
        if self._sshd is not None:
            self._sshd.drop_connections()

    def arm_ssh_drop(self, step_id: str, *, skip: int = 0, in_a_change: bool = False,
                     in_a_write: bool = False) -> None:
        """Cut the SSH connection during the next command or SFTP write, after
        `skip` commands (or bytes written over SFTP): called as `step_id`
        starts running, so the drop lands in its work; `in_a_change`, in its
        first command that changes the host, past the looks before it;
        `in_a_write`, in an SFTP write, past every command."""
        if self._sshd is not None:
            log.info("the SSH connection will drop during %s", step_id)
            self._sshd.arm_drop(skip, in_a_change=in_a_change, in_a_write=in_a_write)

    @property
    def commands(self) -> list[str]:
        """The commands runbook has asked of this host so far, oldest first
        (the latest 20,000)."""
        return list(self._sshd.commands) if self._sshd is not None else []

    @property
    def ssh_drops(self) -> int:
        """How many armed drops have happened."""
        return self._sshd.drops if self._sshd is not None else 0

    @property
    def sftp_bytes(self) -> int:
        """Bytes written to the host over SFTP since it started."""
        return self._sshd.sftp_bytes if self._sshd is not None else 0

    @property
    def sftp_bytes_at_drop(self) -> int | None:
        """Of those, how many had reached the host when an armed drop landed
        in a write; None before one has."""
        return self._sshd.sftp_bytes_at_drop if self._sshd is not None else None

    async def __aenter__(self) -> RehearsalHost:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def _serve(args: argparse.Namespace) -> None:
    host = RehearsalHost(
        Path(args.sandbox) if args.sandbox else None,
        keep=args.keep,
        dist_size=args.dist_size,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with host:
        print(
            json.dumps(
                {**host.config_values(), "adopted_service": host.adopted_service,
                 "boot_error": host.boot_error, "databases": host.db_kind}
            ),
            flush=True,
        )
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m runbook.rehearsal.host",
        description="Run a rehearsal Stream Manager host until interrupted.",
    )
    parser.add_argument("--sandbox", help="keep the host's state in this directory")
    parser.add_argument("--keep", action="store_true", help="keep a temporary sandbox")
    parser.add_argument("--dist-size", type=int, default=None, metavar="BYTES")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(args))
    except RehearsalError as exc:
        # One line, as runbook itself reports it: a busy sandbox is no crash.
        parser.exit(2, f"{parser.prog}: {exc}\n")


if __name__ == "__main__":
    main()
