"""The rehearsal's two database servers: the live one and the new one.

Each is a real MariaDB server where MariaDB is installed (``mariadbd``, or a
``mysqld`` that is MariaDB), else the stand-in of ``runbook.rehearsal.mysqlfake``;
``RUNBOOK_REHEARSAL_DATABASES=mariadb|fake`` (or the host's ``databases``
argument) chooses instead. A sandbox keeps the kind it was made with.

Both servers have the live install's database account (config.dbUser and
config.dbPass), granted on `cluster`.*: the procedure's new database has "the
same instance configuration and credentials". The live server has the
`cluster` database with the live release's cluster.sql imported; the new one
has none, which the runbook's schema step creates and imports.

They listen on two loopback addresses with one port (127.0.0.2:P and
127.0.0.3:P), as two servers on the standard port would, so only
config.dbHost changes in the cutover. Where 127.0.0.2 cannot be bound
(loopback is only 127.0.0.1 on some systems) both use 127.0.0.1 with two ports.

What each holds lives in the sandbox: ``.rehearsal/mysql/live/`` and
``.rehearsal/mysql/new/``, a MariaDB datadir (``data/``, with its pid file and
error log beside it) or the stand-in's ``stand-in.json``. A MariaDB server is
a child of the rehearsal, in a session of its own; one left running by a
killed rehearsal is found by its datadir and stopped before a new one starts
on it (MariaDB would otherwise wait 30 s on the datadir's lock). Passwords go
to the servers and clients on stdin or in 0600 option files, never on a
command line. The administrator is the OS user over the server's Unix socket
(unix_socket authentication), which lives in a private temporary folder: no
account on the servers has an empty password.

The fake stream manager checks its database with ``check_cluster``, as the
real one does at startup: log in, find the `cluster` tables.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import errno
import functools
import getpass
import hashlib
import logging
import math
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runbook.option_file import option_file
from runbook.rehearsal import RehearsalError, mysqlclient, mysqlfake, ports

log = logging.getLogger(__name__)

OLD_HOST = "127.0.0.2"
NEW_HOST = "127.0.0.3"
FALLBACK_HOST = "127.0.0.1"
LIVE, NEW = "live", "new"
KIND_ENV = "RUNBOOK_REHEARSAL_DATABASES"
MARIADB, FAKE = "mariadb", "fake"
DATABASE = "cluster"
_PORT_ATTEMPTS = 20
# Measured: ready in 0.12-0.29 s, install-db 0.9-2 s; these only stop a hang.
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
# A server's private socket folder in the temp folder: this, its maker's pid,
# and mkdtemp's letters. One younger than this may not have its server yet.
SOCKET_DIR_PREFIX = "runbook-db-"
_SOCKET_DIR_GRACE_S = READY_TIMEOUT_S
# The small footprint of shared/notes/mariadb.md: 26 MB instead of 114 MB.
SMALL_FOOTPRINT = (
    "--innodb-log-file-size=8M",
    "--innodb-buffer-pool-size=32M",
    "--innodb-autoextend-increment=4",
)
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin", "/sbin")
# The fake stream manager logs in the way Java does, with a driver of its own:
# its stand-in for that driver is the machine's client, wherever the rehearsal
# host's PATH points (a test may hide the client from the operator's shell).
_SYSTEM_BIN = ("/usr/local/bin", "/usr/bin", "/bin")
COUNT_TABLES = f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='{DATABASE}'"


Account = tuple[str, str]


# --- what is installed --------------------------------------------------------------------


@dataclass(frozen=True)
class MariaDB:
    """The installed MariaDB programs."""

    server: str
    install_db: str
    client: str
    version: str


def _which(names: tuple[str, ...]) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN, *_SYSTEM_BIN])
    for name in names:
        found = shutil.which(name, path=path)
        if found is not None and not _is_shim(found):
            return found
    return None


def _is_shim(path: str) -> bool:
    """A rehearsal sandbox's own client shim, never the real client."""
    parts = Path(path).parts
    return len(parts) >= 3 and parts[-3] == ".rehearsal" and parts[-2] == "bin"


@functools.cache
def find_mariadb() -> MariaDB | None:
    """The MariaDB server, install-db and client, or None where any is missing
    (or the server is Oracle MySQL, which this rehearsal does not set up)."""
    server = _which(("mariadbd", "mysqld"))
    install_db = _which(("mariadb-install-db", "mysql_install_db"))
    client = _which(("mariadb", "mysql"))
    if server is None or install_db is None or client is None:
        return None
    try:
        version = subprocess.run(
            [server, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if "mariadb" not in version.lower():
        log.info("%s is not MariaDB (%s); the rehearsal uses its stand-in databases",
                 server, version)
        return None
    return MariaDB(server, install_db, client, version)


def choose_kind(asked: str | None = None) -> str:
    """mariadb or fake: as asked (argument, else RUNBOOK_REHEARSAL_DATABASES),
    else MariaDB where it is installed."""
    wanted = (asked or os.environ.get(KIND_ENV, "") or "auto").strip().lower()
    if wanted not in (MARIADB, FAKE, "auto"):
        raise RehearsalError(f"{KIND_ENV} must be mariadb, fake or auto, not {wanted!r}")
    if wanted == FAKE:
        return FAKE
    if find_mariadb() is not None:
        return MARIADB
    if wanted == MARIADB:
        raise RehearsalError("the rehearsal's databases are to be MariaDB servers, but no "
                             "MariaDB server (mariadbd, mariadb-install-db, mariadb) is installed")
    return FAKE


def sql_string(value: str) -> str:
    """A quoted SQL string literal (backslashes doubled: an undoubled `\\=`
    silently loses its backslash, shared/notes/mariadb.md section 2)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0") + "'"


# --- one server -----------------------------------------------------------------------


class AddressInUse(OSError):
    pass


class Server(Protocol):
    label: str
    home: Path
    address: tuple[str, int]

    def provisioned(self) -> bool: ...

    async def launch(self, host: str, port: int) -> None: ...

    async def stop(self) -> None: ...

    async def set_password(self, user: str, password: str) -> None:
        """Give an existing account another password (a rehearsed fault)."""

    async def set_max_connections(self, count: int) -> None:
        """Allow `count` connections at once (a server's max_connections)."""


class StandInDatabase:
    """A stand-in server: a listener in this process over stand-in.json."""

    def __init__(self, home: Path, label: str) -> None:
        self.home = home
        self.label = label
        self.state_path = home / "stand-in.json"
        self.address: tuple[str, int] = ("", 0)
        self._server: mysqlfake.StandInServer | None = None

    def provisioned(self) -> bool:
        return self.state_path.is_file()

    def provision(self, account: Account, schema: str | None) -> None:
        _private_dir(self.home)
        mysqlfake.provision(self.state_path, account=account, schema=schema)

    async def launch(self, host: str, port: int) -> None:
        server = mysqlfake.StandInServer(self.label, self.state_path)
        try:
            await server.start(host, port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUse(exc.errno, exc.strerror) from exc
            raise
        self._server = server
        self.address = server.address

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def set_password(self, user: str, password: str) -> None:
        # The running server's own copy when it runs, so its next login sees it.
        state = self._server.state if self._server is not None else \
            mysqlfake.ServerState.load(self.state_path)
        account = state.accounts[user]
        state.create_user(user, password, account["grants"])
        await asyncio.to_thread(state.save)

    async def set_max_connections(self, count: int) -> None:
        state = self._server.state if self._server is not None else \
            mysqlfake.ServerState.load(self.state_path)
        state.max_connections = count
        await asyncio.to_thread(state.save)


class MariaDBServer:
    """A mariadbd on its own datadir in the sandbox, a child of this process."""

    def __init__(self, tools: MariaDB, home: Path, label: str) -> None:
        self.tools = tools
        self.home = home
        self.label = label
        self.datadir = home / "data"
        self.pid_file = home / "mariadbd.pid"
        self.error_log = home / "error.log"
        self.marker = home / "provisioned"
        self.address: tuple[str, int] = ("", 0)
        self._proc: asyncio.subprocess.Process | None = None
        self._socket_dir: Path | None = None

    @property
    def socket(self) -> Path:
        if self._socket_dir is None:
            raise RehearsalError(f"the {self.label} database server is not running")
        return self._socket_dir / "mysqld.sock"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def admin(self) -> str:
        """The administrator: the OS user, by unix_socket authentication."""
        return "root" if os.geteuid() == 0 else getpass.getuser()

    def provisioned(self) -> bool:
        return self.marker.is_file() and self.datadir.is_dir()

    # --- life cycle ----------------------------------------------------------------

    async def install(self) -> None:
        """A fresh datadir (mariadb-install-db)."""
        self._clear()
        args = [
            self.tools.install_db, "--no-defaults", f"--datadir={self.datadir}",
            "--auth-root-authentication-method=socket", "--skip-test-db", *SMALL_FOOTPRINT,
        ]
        if os.geteuid() != 0:
            args.append(f"--auth-root-socket-user={self.admin}")
        status, output = await _run(args)
        if status != 0:
            raise RehearsalError(
                f"mariadb-install-db failed for the {self.label} database: {_tail(output)}")

    def copy_datadir(self, datadir: Path) -> None:
        """Start from a copy of a stopped server's datadir: faster than install-db."""
        self._clear()
        shutil.copytree(datadir, self.datadir, symlinks=True)

    def _clear(self) -> None:
        _private_dir(self.home)
        self.marker.unlink(missing_ok=True)
        shutil.rmtree(self.datadir, ignore_errors=True)

    async def launch(self, host: str | None, port: int = 0) -> None:
        """Start the server on host:port (with no host: on its socket only) and
        wait until it greets."""
        # Named by its maker: a folder whose maker and server are gone is a
        # leftover (remove_stale_socket_dirs).
        self._socket_dir = Path(tempfile.mkdtemp(prefix=f"{SOCKET_DIR_PREFIX}{os.getpid()}-"))
        offset = self.error_log.stat().st_size if self.error_log.exists() else 0
        network = ([f"--port={port}", f"--bind-address={host}"] if host is not None
                   else ["--skip-networking"])
        args = [
            self.tools.server, "--no-defaults",
            *(["--user=root"] if os.geteuid() == 0 else []),
            f"--datadir={self.datadir}", f"--socket={self.socket}", *network,
            f"--pid-file={self.pid_file}", f"--log-error={self.error_log}", *SMALL_FOOTPRINT,
        ]
        # mariadbd makes its files 0660 unless told otherwise: the rehearsal's
        # state is its owner's alone, passwords included.
        private = {**os.environ, "UMASK": "0600", "UMASK_DIR": "0700"}
        self._proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True, env=private,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self._proc.returncode is not None:
                text = _read_from(self.error_log, offset)
                await self.stop()
                if "Address already in use" in text or "errno: 98" in text:
                    raise AddressInUse(errno.EADDRINUSE, f"{host}:{port} is in use")
                raise RehearsalError(
                    f"the {self.label} MariaDB server exited at start: {_tail(text)}")
            if await asyncio.to_thread(_greets, host, port, self.socket):
                break
            if time.monotonic() > deadline:
                await self.stop()
                raise RehearsalError(f"the {self.label} MariaDB server did not answer on "
                                     f"{host}:{port} within {READY_TIMEOUT_S:.0f} s")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 0.02)
        self.address = (host or "", port)

    async def sql(self, script: str, database: str | None = None) -> str:
        """Run SQL as the administrator, on stdin (so nothing shows in ps)."""
        args = [self.tools.client, "--no-defaults", "--protocol=socket",
                f"--socket={self.socket}", f"--user={self.admin}", "-N", "-B"]
        if database is not None:
            args.append(database)
        status, output = await _run(args, stdin=script)
        if status != 0:
            raise RehearsalError(f"the {self.label} database refused: {_tail(output)}")
        return output

    async def import_schema(self, schema: str) -> None:
        """The `cluster` database with ``schema`` (a cluster.sql) imported."""
        await self.sql(f"CREATE DATABASE `{DATABASE}`;\n")
        await self.sql(schema, DATABASE)

    async def provision(self, account: Account) -> None:
        """The account, granted on `cluster`.*; then the server is set up."""
        user, password = account
        grantee = f"{sql_string(user)}@'%'"
        await self.sql(f"CREATE USER {grantee} IDENTIFIED BY {sql_string(password)};\n"
                       f"GRANT ALL PRIVILEGES ON `{DATABASE}`.* TO {grantee};\n")
        self.marker.write_text("the account and the schema are in place\n")

    async def set_password(self, user: str, password: str) -> None:
        await self.sql(f"ALTER USER {sql_string(user)}@'%' IDENTIFIED BY {sql_string(password)};\n")

    async def set_max_connections(self, count: int) -> None:
        # Until the server restarts, as SET GLOBAL is (no option file keeps it).
        await self.sql(f"SET GLOBAL max_connections = {int(count)};\n")

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("the %s MariaDB server ignored SIGTERM; killing it", self.label)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None


# --- fresh datadirs, made once -----------------------------------------------------------
# mariadb-install-db takes 1-4 s and an import about one more: each fresh
# server starts from a copy of a datadir made once per MariaDB version and
# schema instead (no accounts but the administrator's; 30-40 MB each) in an
# owner-only folder of the temporary directory, which any rehearsal of this
# user reuses (at most one datadir per MariaDB version and cluster.sql). Where
# that folder cannot be trusted, this process keeps its own until it exits.

_BUILD_PREFIX = ".build-"
_STALE_BUILD_S = 3600.0
_TEMPLATE_FORMAT = "v1"


@functools.cache
def _template_root() -> Path:
    root = Path(tempfile.gettempdir()) / f"runbook-mariadb-{os.geteuid()}"
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=0o700)
    info = os.lstat(root)
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077:
        return root
    log.warning("%s is not a private folder of this user; keeping datadirs elsewhere", root)
    own = Path(tempfile.mkdtemp(prefix="runbook-mariadb-"))
    atexit.register(shutil.rmtree, own, True)
    return own


async def template(tools: MariaDB, schema: str | None) -> Path:
    """A stopped, fresh datadir: bare, or with `cluster` and ``schema`` imported."""
    root = _template_root()
    version = re.sub(r"[^A-Za-z0-9.]+", "-", tools.version.split(" for ")[0]).strip("-")
    key = "bare" if schema is None else hashlib.sha256(schema.encode()).hexdigest()[:16]
    done = root / f"{_TEMPLATE_FORMAT}-{version}-{key}"
    if (done / "complete").is_file():
        return done / "data"
    _remove_stale_builds(root)
    build = Path(tempfile.mkdtemp(prefix=_BUILD_PREFIX, dir=root))
    server = MariaDBServer(tools, build, "template")
    try:
        if schema is None:
            await server.install()
        else:
            await asyncio.to_thread(server.copy_datadir, await template(tools, None))
            await server.launch(None)
            await server.import_schema(schema)
        await server.stop()
        (build / "complete").write_text(f"{tools.version}\n")
        try:
            build.rename(done)
        except OSError:  # another rehearsal made it meanwhile
            shutil.rmtree(build, ignore_errors=True)
        return done / "data"
    except BaseException:
        await server.stop()
        shutil.rmtree(build, ignore_errors=True)
        raise


def _remove_stale_builds(root: Path) -> None:
    """Builds a killed rehearsal left half done (and a server still on one)."""
    for path in root.glob(_BUILD_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if time.time() - path.stat().st_mtime > _STALE_BUILD_S:
                for pid in servers_on(path / "data"):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                shutil.rmtree(path, ignore_errors=True)


# --- the pair -------------------------------------------------------------------------


class DatabaseServers:
    """The live (old) and the new database server together."""

    def __init__(self) -> None:
        self.kind = ""
        self.old: Server = _Unstarted(LIVE)
        self.new: Server = _Unstarted(NEW)

    async def start(
        self,
        root: Path,
        kind: str,
        *,
        account: Account,
        live_schema: str,
        old: tuple[str, int] | None = None,
        new: tuple[str, int] | None = None,
        fresh: bool = False,
    ) -> None:
        """Start both servers (setting up what ``root`` does not hold yet) on the
        remembered addresses, or on fresh ones when there are none.

        Remembered addresses are not negotiable: the live install's
        red5-web.properties and the fake cloud's databases name them.
        ``fresh`` throws away what ``root`` holds from a sandbox never finished.
        """
        self.kind = kind
        _private_dir(root)
        # Before anything else, whatever the kind: a server a killed rehearsal
        # left on one of these datadirs.
        for label in (LIVE, NEW):
            await stop_leftovers(root / label / "data", label)
        if kind == MARIADB:
            tools = find_mariadb()
            if tools is None:
                raise RehearsalError(
                    "this sandbox's databases are MariaDB servers, and MariaDB is not "
                    "installed (any more); use a new --sandbox")
            self.old = MariaDBServer(tools, root / LIVE, LIVE)
            self.new = MariaDBServer(tools, root / NEW, NEW)
        else:
            self.old = StandInDatabase(root / LIVE, LIVE)
            self.new = StandInDatabase(root / NEW, NEW)
        try:
            await self._start(account, live_schema, old, new, fresh)
        except BaseException:
            await self.close()
            raise

    async def _start(self, account: Account, live_schema: str, old: tuple[str, int] | None,
                     new: tuple[str, int] | None, fresh: bool) -> None:
        servers = (self.old, self.new)
        for server in servers:
            if fresh:
                shutil.rmtree(server.home, ignore_errors=True)
        missing = [s for s in servers if not s.provisioned()]
        schemas = {LIVE: live_schema, NEW: None}
        stand_ins = [s for s in missing if isinstance(s, StandInDatabase)]
        for stand_in in stand_ins:
            await asyncio.to_thread(stand_in.provision, account, schemas[stand_in.label])
        real = [s for s in missing if isinstance(s, MariaDBServer)]
        for server in real:
            log.info("setting up the %s database (MariaDB)", server.label)
            await asyncio.to_thread(server.copy_datadir,
                                    await template(server.tools, schemas[server.label]))
        if old is not None and new is not None:
            await self._launch_exact(old, new)
        else:
            await self._launch_fresh()
        for server in real:
            await server.provision(account)

    async def _launch_exact(self, old: tuple[str, int], new: tuple[str, int]) -> None:
        for server, address in ((self.old, old), (self.new, new)):
            try:
                await server.launch(*address)
            except OSError as exc:
                raise RehearsalError(
                    f"cannot listen as the {server.label} database on {address[0]}:{address[1]}"
                    f" ({exc.strerror or exc}); is another rehearsal using this sandbox?"
                ) from exc

    async def _launch_fresh(self) -> None:
        for _ in range(_PORT_ATTEMPTS):
            old, new = _free_addresses()
            try:
                await self.old.launch(*old)
                await self.new.launch(*new)
                return
            except AddressInUse:
                # Taken between the probe and the bind: try other ports.
                await self.old.stop()
                await self.new.stop()
        raise RehearsalError("found no free port for the rehearsal's databases")

    async def close(self) -> None:
        await self.old.stop()
        await self.new.stop()


class _Unstarted:
    def __init__(self, label: str) -> None:
        self.label = label
        self.home = Path()
        self.address: tuple[str, int] = ("", 0)

    def provisioned(self) -> bool:
        return False

    async def launch(self, host: str, port: int) -> None:
        raise RehearsalError("the databases have not been set up")

    async def stop(self) -> None:
        pass

    async def set_password(self, user: str, password: str) -> None:
        raise RehearsalError("the databases have not been set up")

    async def set_max_connections(self, count: int) -> None:
        raise RehearsalError("the databases have not been set up")


def _free_addresses() -> tuple[tuple[str, int], tuple[str, int]]:
    """127.0.0.2:P and 127.0.0.3:P with P free on both, else two ports on 127.0.0.1."""
    try:
        port = ports.listening_port((OLD_HOST, NEW_HOST))
    except OSError as exc:
        log.info("no port on %s and %s (%s); using %s", OLD_HOST, NEW_HOST, exc, FALLBACK_HOST)
    else:
        return (OLD_HOST, port), (NEW_HOST, port)
    first = ports.listening_port((FALLBACK_HOST,))
    while (second := ports.listening_port((FALLBACK_HOST,))) == first:
        pass
    return (FALLBACK_HOST, first), (FALLBACK_HOST, second)


# --- the stream manager's check ---------------------------------------------------------


class CheckFailed(Exception):
    """The database refused or could not be asked; ``code`` is MySQL's error number."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_cluster(host: str, port: int, user: str, password: str, timeout: float) -> int:
    """Log in to host:port with the stream manager's account, using `cluster`,
    and count its tables, as the stream manager's start does; CheckFailed
    with the server's (or the client's) error otherwise."""
    return count_in_cluster(host, port, user, password, COUNT_TABLES, timeout)


def count_in_cluster(host: str, port: int, user: str, password: str, count: str,
                     timeout: float) -> int:
    """The number the query `count` (a SELECT COUNT) answers in `cluster`, asked
    with the stream manager's account; CheckFailed with the server's (or the
    client's) error otherwise."""
    try:
        connection = mysqlclient.Connection.open(host, port, timeout)
    except mysqlclient.NotTheStandIn:
        words = _run_with_client(host, port, user, password, timeout,
                                 ["-N", "-B", DATABASE, "-e", count]).split()
        return int(words[0]) if words and words[0].isdigit() else 0
    except mysqlclient.SqlError as exc:
        raise CheckFailed(exc.code, exc.message) from None
    try:
        with connection:
            connection.login(user, password, DATABASE)
            rows = connection.query(count).rows
    except mysqlclient.SqlError as exc:
        raise CheckFailed(exc.code, exc.message) from None
    return int(rows[0][0] or 0) if rows else 0


def run_in_cluster(host: str, port: int, user: str, password: str, sql: str,
                   timeout: float) -> None:
    """Run the statements of `sql` in `cluster` with the stream manager's
    account, as a stream manager does with its own cluster.sql on an empty
    database and with the rows it keeps; CheckFailed with the server's error
    otherwise."""
    try:
        connection = mysqlclient.Connection.open(host, port, timeout)
    except mysqlclient.NotTheStandIn:
        _run_with_client(host, port, user, password, timeout, [DATABASE], sql)
        return
    except mysqlclient.SqlError as exc:
        raise CheckFailed(exc.code, exc.message) from None
    try:
        with connection:
            connection.login(user, password, DATABASE)
            for _line, statement in mysqlclient.split_statements(sql):
                connection.query(statement)
    except mysqlclient.SqlError as exc:
        raise CheckFailed(exc.code, exc.message) from None


def _run_with_client(host: str, port: int, user: str, password: str, timeout: float,
                     args: list[str], stdin: str | None = None) -> str:
    """The installed mysql client's output for `args` (and `stdin`) on
    host:port as `user`; CheckFailed with its error otherwise."""
    client = _which(("mariadb", "mysql"))
    if client is None:
        raise CheckFailed(None, f"{host}:{port} is a real MySQL server and no mysql client is "
                          "installed to log in with")
    fd, name = tempfile.mkstemp(prefix="red5-db-", suffix=".cnf")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(option_file(user, password))
        result = subprocess.run(
            [client, f"--defaults-extra-file={name}", "--protocol=tcp", "-h", host, "-P",
             str(port), f"--connect-timeout={max(1, math.ceil(timeout))}", *args],
            capture_output=True, text=True, timeout=timeout + 30, check=False,
            input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise CheckFailed(None, f"cannot run {client}: {exc}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
    if result.returncode != 0:
        match = re.search(r"ERROR (\d+) \(\w+\)(?: at line \d+)?: (.*)", result.stderr)
        if match is None:
            raise CheckFailed(None, result.stderr.strip() or f"{client} failed")
        raise CheckFailed(int(match.group(1)), match.group(2).strip())
    return result.stdout


# --- helpers --------------------------------------------------------------------------


async def stop_leftovers(datadir: Path, label: str) -> None:
    """Stop the servers running on ``datadir`` (left by a killed rehearsal),
    and remove the private folder of their socket."""
    for pid in servers_on(datadir):
        log.warning("stopping the %s database server (pid %d) an earlier rehearsal left "
                    "running", label, pid)
        socket_dir = socket_dir_of(pid)
        await _end(pid, STOP_TIMEOUT_S)
        if socket_dir is not None:
            shutil.rmtree(socket_dir, ignore_errors=True)
    if servers_on(datadir):
        raise RehearsalError(f"a MariaDB server on {datadir} does not stop; end it and try again")


def remove_stale_socket_dirs(under: Path | None = None) -> list[Path]:
    """Remove the socket folders (runbook-db-*) in `under` (the temp folder)
    that runs killed with their servers left: their maker is gone, no running
    process names them, and they are older than a start takes. A folder of a
    run going on beside this one stays. The folders removed."""
    from runbook.rehearsal.sandbox import is_running, proc_cmdline

    under = under or Path(tempfile.gettempdir())
    named = " ".join(proc_cmdline(int(pid)) for pid in os.listdir("/proc")
                     if pid.isdigit() and is_running(int(pid)))
    removed = []
    for folder in under.glob(f"{SOCKET_DIR_PREFIX}*"):
        maker = folder.name.removeprefix(SOCKET_DIR_PREFIX).split("-", 1)[0]
        try:
            young = time.time() - folder.lstat().st_mtime < _SOCKET_DIR_GRACE_S
        except OSError:
            continue
        if young or not folder.is_dir() or f"{folder}{os.sep}" in named or (
                maker.isdigit() and is_running(int(maker))):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def socket_dir_of(pid: int) -> Path | None:
    """The runbook-db-* folder a server's --socket is in, if that is where it is."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            args = handle.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return None
    for arg in args:
        if arg.startswith("--socket="):
            folder = Path(arg.split("=", 1)[1]).parent
            if folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith(
                SOCKET_DIR_PREFIX
            ):
                return folder
    return None


def servers_on(datadir: Path) -> list[int]:
    """Running processes started with --datadir=``datadir``."""
    token = f"--datadir={datadir}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                args = handle.read().split(b"\0")
        except OSError:
            continue
        if token in args and _running(int(name)):
            found.append(int(name))
    return found


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return False
    return raw[raw.rfind(b")") + 2 :][:1] not in (b"Z", b"X")


async def _end(pid: int, grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds, for a process that is
    not our child (it may linger as a zombie until init reaps it: that is ended)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _running(pid):
            await asyncio.sleep(0.02)
        if not _running(pid):
            return


def _greets(host: str | None, port: int, unix: Path) -> bool:
    """Something on host:port (or the Unix socket) accepts a connection and
    sends its first bytes."""
    try:
        if host is None:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(1.0)
                probe.connect(str(unix))
                return bool(probe.recv(5))
        with socket.create_connection((host, port), timeout=1.0) as probe:
            return bool(probe.recv(5))
    except OSError:
        return False


async def _run(args: list[str], stdin: str | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate(stdin.encode("utf-8") if stdin is not None else None)
    return proc.returncode or 0, output.decode("utf-8", "replace")


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " / ".join(kept) or "no output"
