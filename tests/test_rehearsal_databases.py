"""The rehearsal's databases: real MariaDB servers where MariaDB is installed,
the built-in stand-in elsewhere, and both answer the runbook's mysql commands
alike (the same output, ERROR lines and exit codes).

Tests that take a ``kind`` run once with the stand-in and once with MariaDB;
the MariaDB runs skip where no MariaDB server is installed. The real-MariaDB
tier imports the real 6.2.0 and 5.1.1 cluster.sql files
(shared/notes/mariadb.md section 3: 26 and 19 tables).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import javaproperties
import pytest

from runbook.option_file import option_file
from runbook.rehearsal import databases, mysqlclient, mysqlfake, sandbox, service
from runbook.rehearsal.host import RehearsalHost
from runbook.rehearsal.sandbox import processes_mentioning
from steps import database
from tests.conftest import SSHConnect
from tests.test_fake_service import (  # noqa: F401  (start_service is a fixture)
    Install,
    StartService,
    make_install,
    start_service,
)

needs_mariadb = pytest.mark.skipif(databases.find_mariadb() is None,
                                   reason="no MariaDB server installed")
KINDS = [databases.FAKE, pytest.param(databases.MARIADB, marks=needs_mariadb)]

TABLES_6_2 = {
    "active_alarms", "alarms", "alarm_conditions", "alarm_target", "autoscalelog",
    "cluster_link", "cluster_relations", "cors_config", "crons", "group_statistics",
    "launch_configs", "loc_geozones", "loc_regions", "managers", "node", "node_group",
    "node_info", "node_meta", "publish_config", "scale_policies", "schedule_event",
    "short_term_stream_info", "stream_info", "stream_meta", "subscribe_config",
    "vod_stream_info",
}
NOT_IN_5_1 = {"cors_config", "loc_geozones", "loc_regions", "publish_config", "schedule_event",
              "short_term_stream_info", "subscribe_config"}
TABLES_5_1 = TABLES_6_2 - NOT_IN_5_1
SCHEMAS = {"cluster.sql.6.2.0.b406": TABLES_6_2, "cluster.sql.5.1.1.236": TABLES_5_1}
WEBINF = "webapps/streammanager/WEB-INF"
ODD_PASSWORD = "Old#Db: Pa55\\=word! \"q\" 's' $x `y` "
COUNT = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='cluster'"
NAMES = "SELECT table_name FROM information_schema.tables WHERE table_schema='cluster'"
HANDSHAKE_TIMEOUT = ("ERROR 2013 (HY000): Lost connection to server at 'handshake: reading "
                     "initial communication packet', system error: 110\n")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_peer() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def live_account(host: RehearsalHost) -> tuple[str, str]:
    props = javaproperties.loads((host.red5_home / WEBINF / "red5-web.properties").read_text())
    return props["config.dbUser"], props["config.dbPass"]


# --- through the host's own mysql -------------------------------------------------------


@pytest.fixture(params=KINDS)
async def db_host(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RehearsalHost]:
    host = RehearsalHost(tmp_path / "sandbox", boot_service=False, databases=request.param)
    await host.start()
    try:
        yield host
    finally:
        await host.stop()
    assert processes_mentioning(host.sandbox) == []


class HostMysql:
    """The runbook's command forms, run over SSH on the rehearsal host."""

    def __init__(self, conn: asyncssh.SSHClientConnection, host: RehearsalHost) -> None:
        self.conn = conn
        self.host = host

    async def write_options(self, name: str, user: str, password: str) -> None:
        options = option_file(user, password)
        await self.conn.run(f"umask 077; cat > {name}", input=options, check=True)

    async def run(self, where: tuple[str, int], tail: str, *, cnf: str = "db.cnf",
                  timeout: int = 10) -> asyncssh.SSHCompletedProcess:
        command = (f"mysql --defaults-extra-file={cnf} --protocol=tcp -h {where[0]} "
                   f"-P {where[1]} --connect-timeout={timeout} {tail}")
        return await self.conn.run(command)

    async def query(self, where: tuple[str, int], sql: str, **options: object
                    ) -> asyncssh.SSHCompletedProcess:
        return await self.run(where, f"-N -B -e {shlex.quote(sql)}", **options)  # type: ignore[arg-type]


@pytest.fixture
async def mysql(db_host: RehearsalHost, ssh_connect: SSHConnect) -> HostMysql:
    client = HostMysql(await ssh_connect(db_host), db_host)
    await client.write_options("db.cnf", *live_account(db_host))
    return client


async def test_the_runbook_meets_a_live_and_an_empty_new_database(
    db_host: RehearsalHost, mysql: HostMysql
) -> None:
    assert db_host.db_kind == db_host.state["databases"]
    which = (await mysql.conn.run("command -v mysql")).stdout.strip()
    if db_host.db_kind == databases.FAKE:
        assert which == str(sandbox.bin_dir(db_host.sandbox) / "mysql")
        assert (sandbox.bin_dir(db_host.sandbox) / "mariadb").is_file()
    else:
        assert not which.startswith(str(db_host.sandbox)), "the real client answers"
    old, new = db_host.old_db, db_host.new_db
    for where in (old, new):
        result = await mysql.query(where, "SELECT 1")
        assert (result.exit_status, result.stdout, result.stderr) == (0, "1\n", "")
    assert (await mysql.query(old, "SHOW DATABASES LIKE 'cluster'")).stdout == "cluster\n"
    assert (await mysql.query(new, "SHOW DATABASES LIKE 'cluster'")).stdout == ""
    assert (await mysql.query(old, COUNT)).stdout == "26\n"
    assert set((await mysql.query(old, NAMES)).stdout.split()) == TABLES_6_2
    new_count = await mysql.query(new, COUNT)
    assert (new_count.exit_status, new_count.stdout) == (0, "0\n")


async def test_the_schema_step_creates_and_imports_once(
    db_host: RehearsalHost, mysql: HostMysql
) -> None:
    new = db_host.new_db
    sql_file = db_host.red5_home / WEBINF / "sql" / "cluster.sql"
    early = await mysql.run(new, f"cluster < {sql_file}")
    assert (early.exit_status, early.stderr) == (
        1, "ERROR 1049 (42000): Unknown database 'cluster'\n")
    for _ in range(2):
        created = await mysql.query(new, "CREATE DATABASE IF NOT EXISTS cluster")
        assert (created.exit_status, created.stdout, created.stderr) == (0, "", "")
    imported = await mysql.run(new, f"cluster < {sql_file}")
    assert (imported.exit_status, imported.stdout, imported.stderr) == (0, "", "")
    assert (await mysql.query(new, COUNT)).stdout == "26\n"

    again = await mysql.run(new, f"cluster < {sql_file}")
    assert again.exit_status == 1
    assert str(again.stderr).startswith("--------------\nCREATE TABLE `active_alarms` (\n")
    assert str(again.stderr).endswith(
        "--------------\n\nERROR 1050 (42S01) at line 30: Table 'active_alarms' already exists\n")
    assert set((await mysql.query(new, NAMES)).stdout.split()) == TABLES_6_2


async def test_client_failures_read_like_the_real_clients(
    db_host: RehearsalHost, mysql: HostMysql, silent_peer: int
) -> None:
    user, password = live_account(db_host)
    old = db_host.old_db
    await mysql.write_options("wrong.cnf", user, password + "x")
    wrong = await mysql.query(old, "SELECT 1", cnf="wrong.cnf")
    assert (wrong.exit_status, wrong.stderr) == (
        1, f"ERROR 1045 (28000): Access denied for user '{user}'@'localhost' "
           "(using password: YES)\n")

    closed = await mysql.query(("127.0.0.1", free_port()), "SELECT 1")
    assert (closed.exit_status, closed.stderr) == (
        1, "ERROR 2002 (HY000): Can't connect to server on '127.0.0.1' (115)\n")
    unknown = await mysql.query(("db.invalid", 3306), "SELECT 1")
    assert unknown.exit_status == 1
    assert str(unknown.stderr).startswith("ERROR 2005 (HY000): Unknown server host 'db.invalid' (-")
    silent = await mysql.query(("127.0.0.1", silent_peer), "SELECT 1", timeout=1)
    assert (silent.exit_status, silent.stderr) == (1, HANDSHAKE_TIMEOUT)

    ungranted = await mysql.query(old, "CREATE DATABASE IF NOT EXISTS other")
    assert ungranted.exit_status == 1
    assert str(ungranted.stderr).endswith(
        f"ERROR 1044 (42000) at line 1: Access denied for user '{user}'@'%' to database 'other'\n")
    # The option file must come first, or the client stops before connecting.
    late = await mysql.conn.run(f"mysql --protocol=tcp --defaults-extra-file=db.cnf -h {old[0]} "
                                f"-P {old[1]} -N -B -e 'SELECT 1'")
    assert (late.exit_status, late.stderr) == (
        7, "mysql: unknown variable 'defaults-extra-file=db.cnf'\n")


async def test_a_sandbox_keeps_the_kind_of_databases_it_was_made_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "sandbox"
    async with RehearsalHost(root, boot_service=False, databases=databases.FAKE) as host:
        account = live_account(host)
    monkeypatch.delenv(databases.KIND_ENV, raising=False)
    async with RehearsalHost(root, boot_service=False) as host:
        assert host.db_kind == databases.FAKE
        assert (sandbox.bin_dir(root) / "mysql").is_file()
        assert live_account(host) == account
        state = json.loads((root / ".rehearsal/mysql/live/stand-in.json").read_text())
        assert account[1] not in json.dumps(state), "only a salted hash is kept"
        assert sorted(state["databases"]["cluster"]["tables"]) == sorted(TABLES_6_2)


# --- servers on their own ---------------------------------------------------------------


def client_command(kind: str) -> list[str]:
    if kind == databases.MARIADB:
        tools = databases.find_mariadb()
        assert tools is not None
        return [tools.client]
    return [sys.executable, "-m", "runbook.rehearsal.mysqlclient"]


def run_client(kind: str, cnf: Path, where: tuple[str, int], *args: str,
               stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*client_command(kind), f"--defaults-extra-file={cnf}", "--protocol=tcp", "-h", where[0],
         "-P", str(where[1]), "--connect-timeout=10", *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )


def write_options(path: Path, user: str, password: str, *, quoted: bool = True) -> Path:
    text = (option_file(user, password) if quoted
            else f"[client]\nuser={user}\npassword={password}\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


async def start_servers(root: Path, kind: str, account: tuple[str, str],
                        live_schema: str) -> databases.DatabaseServers:
    servers = databases.DatabaseServers()
    await servers.start(root, kind, account=account, live_schema=live_schema, fresh=True)
    return servers


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("schema", sorted(SCHEMAS))
async def test_each_releases_cluster_sql_imports_with_its_tables(
    tmp_path: Path, kind: str, schema: str
) -> None:
    account = ("smadmin", ODD_PASSWORD)
    servers = await start_servers(tmp_path / "mysql", kind, account, sandbox.data_text(schema))
    try:
        cnf = write_options(tmp_path / "db.cnf", *account)
        listed = await asyncio.to_thread(run_client, kind, cnf, servers.old.address, "-N", "-B",
                                         "-e", NAMES)
        assert listed.returncode == 0, listed.stderr
        assert set(listed.stdout.split()) == SCHEMAS[schema]
        assert len(listed.stdout.split()) == len(SCHEMAS[schema])
        # The new server has the same account and no cluster database.
        shown = await asyncio.to_thread(run_client, kind, cnf, servers.new.address, "-N", "-B",
                                        "-e", "SHOW DATABASES LIKE 'cluster'")
        assert (shown.returncode, shown.stdout) == (0, "")
    finally:
        await servers.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_an_odd_password_survives_a_quoted_option_file_only(
    tmp_path: Path, kind: str
) -> None:
    account = ("cluster", ODD_PASSWORD)
    servers = await start_servers(tmp_path / "mysql", kind, account,
                                  sandbox.data_text("cluster.sql.5.1.1.236"))
    try:
        good = write_options(tmp_path / "good.cnf", *account)
        bare = write_options(tmp_path / "bare.cnf", *account, quoted=False)
        ok = await asyncio.to_thread(run_client, kind, good, servers.new.address, "-N", "-B",
                                     "-e", "SELECT 1")
        assert (ok.returncode, ok.stdout, ok.stderr) == (0, "1\n", "")
        # Unquoted, '#' starts a comment: the password is cut to "Old".
        cut = await asyncio.to_thread(run_client, kind, bare, servers.new.address, "-N", "-B",
                                      "-e", "SELECT 1")
        assert (cut.returncode, cut.stderr) == (
            1, "ERROR 1045 (28000): Access denied for user 'cluster'@'localhost' "
               "(using password: YES)\n")
    finally:
        await servers.close()


def the_runbooks_client(kind: str, folder: Path) -> dict[str, str]:
    """The environment steps.database.client runs in here: `mysql` on the PATH
    is the client of `kind`, and mktemp writes into folder/tmp."""
    bin_dir, tmp = folder / "bin", folder / "tmp"
    bin_dir.mkdir()
    tmp.mkdir()
    shim = bin_dir / "mysql"
    shim.write_text("#!/bin/sh\nexec " + shlex.join(client_command(kind)) + ' "$@"\n')
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "TMPDIR": str(tmp),
            "HOME": str(folder)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("password", [ODD_PASSWORD, "two\nlines\tand a tab\r"],
                         ids=["odd", "line-break"])
async def test_the_runbooks_client_logs_in_with_the_login_on_its_stdin(
    tmp_path: Path, kind: str, password: str
) -> None:
    """The command the steps run (steps/database.py): the option file comes
    on stdin, an odd password whole (a line break too, which a .properties
    value can hold as \\n), and an import still reads its file."""
    account = ("cluster", password)
    servers = await start_servers(tmp_path / "mysql", kind, account,
                                  sandbox.data_text("cluster.sql.5.1.1.236"))
    try:
        env = the_runbooks_client(kind, tmp_path)
        login = database.Login(*account, *servers.new.address)
        host, port = servers.new.address
        (tmp_path / "one.sql").write_text("SELECT 1;\n")
        for tail, said in ((f"-N -B -e {shlex.quote('SELECT 1')}", "1\n"),
                           (f"-N -B < {tmp_path / 'one.sql'}", "1\n")):
            done = await asyncio.to_thread(
                subprocess.run, ["bash", "-c", database.client(host, port, tail)],
                input=login.option_file(), capture_output=True, text=True, env=env,
                timeout=60, check=False)
            assert (done.returncode, done.stdout, done.stderr) == (0, said, ""), tail
    finally:
        await servers.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_client_leaves_no_password_on_the_host(tmp_path: Path, kind: str) -> None:
    """Left from stop 36: the login went into a mktemp file that an EXIT trap
    removed; a step stopped with SIGKILL (the last of a job's stop) runs no
    trap, and the live database's password stayed in the host's /tmp."""
    env = the_runbooks_client(kind, tmp_path)
    login = database.Login("cluster", ODD_PASSWORD, "127.0.0.1", 0)
    with socket.socket() as silent:  # accepts, and never greets: the client waits
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        silent.settimeout(30)
        command = database.client("127.0.0.1", silent.getsockname()[1], "-N -B -e 'SELECT 1'")
        client = subprocess.Popen(["bash", "-c", command], stdin=subprocess.PIPE, env=env,
                                  start_new_session=True)
        try:
            assert client.stdin is not None
            client.stdin.write(login.option_file().encode())
            client.stdin.close()
            connection, _ = silent.accept()  # options read: it connects only after
            connection.close()
        finally:
            os.killpg(client.pid, signal.SIGKILL)
            client.wait(timeout=30)
    # (The file holds it quoted: what gives it away is the option itself.)
    left = [path for path in (tmp_path / "tmp").rglob("*")
            if path.is_file() and "password=" in path.read_text(errors="replace")]
    assert left == [], "the password was left on disk"


# --- the stream manager's start ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_the_stream_manager_starts_only_on_its_schema(
    tmp_path: Path, kind: str, start_service: StartService  # noqa: F811
) -> None:
    # The account the test installs carry (tests/test_fake_service.py make_install).
    account = ("cluster", "db-secret-771")
    servers = await start_servers(tmp_path / ".rehearsal" / "mysql", kind, account,
                                  sandbox.data_text("cluster.sql.6.2.0.b406"))
    try:
        old, new = servers.old.address, servers.new.address
        no_schema = make_install(tmp_path, name="red5pro-new", db_host=new[0], db_port=new[1])
        live = make_install(tmp_path, name="red5pro-live", db_host=old[0], db_port=old[1])
        wrong = make_install(tmp_path, name="red5pro-wrong", db_host=old[0], db_port=old[1])
        props = wrong.home / WEBINF / "red5-web.properties"
        props.write_text(props.read_text().replace("db-secret-771", "db-secret-772"))
        for install in (no_schema, live, wrong):
            await start_service(install).settled()
        assert service.READY_LINE in live.log, live.log
        assert "Database check passed" in live.log
        for install in (no_schema, wrong):
            assert service.READY_LINE not in install.log
            assert service.UNAVAILABLE_LINE in install.log
        assert "Unknown database 'cluster'" in no_schema.log
        assert "Access denied for user 'cluster'@'localhost'" in wrong.log

        cnf = write_options(tmp_path / "db.cnf", *account)
        created = await asyncio.to_thread(run_client, kind, cnf, new, "-N", "-B", "-e",
                                          "CREATE DATABASE IF NOT EXISTS cluster")
        assert created.returncode == 0, created.stderr
        # Only the SM 9+ docs say the stream manager fills an empty cluster
        # database itself (FACTS §7): a 6.2.0 one, of which no source says so,
        # does not load on it (facts audit: a 5.1-to-6.2 rehearsal with the
        # schema step skipped went through, teaching the skip was harmless).
        older = make_install(tmp_path, name="red5pro-older", db_host=new[0], db_port=new[1],
                             api_version="3.1", release="6.2.0.b406")
        await start_service(older).settled()
        assert service.READY_LINE not in older.log, older.log
        assert "has no tables" in older.log
        # A 9+ one fills it at its start, from its own cluster.sql (FACTS §5:
        # the DigitalOcean page; FACTS-scenarios infers it from Red5's
        # installers): the fake refused to load on it, teaching that the
        # import is a must.
        empty = make_install(tmp_path, name="red5pro-empty", db_host=new[0], db_port=new[1])
        await start_service(empty).settled()
        assert service.READY_LINE in empty.log, empty.log
        counted = await asyncio.to_thread(run_client, kind, cnf, new, "-N", "-B", "-e",
                                          databases.COUNT_TABLES)
        assert counted.returncode == 0 and int(counted.stdout.split()[0]) > 0, counted
    finally:
        await servers.close()


# --- MariaDB servers come and go with the rehearsal ------------------------------------


def mariadb_processes(root: Path) -> list[int]:
    return [pid for pid in processes_mentioning(root)
            if "--datadir=" in sandbox.proc_cmdline(pid)]


@needs_mariadb
async def test_mariadb_servers_of_a_killed_rehearsal_are_stopped_and_their_data_kept(
    tmp_path: Path,
) -> None:
    root = tmp_path / "sandbox"
    env = {**os.environ, databases.KIND_ENV: databases.MARIADB}
    child = subprocess.Popen(
        [sys.executable, "-m", "runbook.rehearsal.host", "--sandbox", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        assert child.stdout is not None
        json.loads(await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 60))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    orphans = mariadb_processes(root)
    assert len(orphans) == 2, "the killed rehearsal's servers run on"
    sockets = [Path(arg.split("=", 1)[1]).parent for pid in orphans
               for arg in sandbox.proc_cmdline(pid).split() if arg.startswith("--socket=")]
    assert len(sockets) == 2 and all(folder.is_dir() for folder in sockets)

    async with RehearsalHost(root, boot_service=False) as host:
        assert host.db_kind == databases.MARIADB
        assert not any(sandbox.is_running(pid) for pid in orphans)
        assert not any(folder.exists() for folder in sockets)
        running = mariadb_processes(root)
        assert len(running) == 2 and not set(running) & set(orphans)
        user, password = live_account(host)
        for pid in processes_mentioning(root):
            assert password not in sandbox.proc_cmdline(pid)
        cnf = write_options(tmp_path / "db.cnf", user, password)
        count = await asyncio.to_thread(run_client, databases.MARIADB, cnf, host.old_db,
                                        "-N", "-B", "-e", COUNT)
        assert (count.returncode, count.stdout) == (0, "26\n"), count.stderr
    assert mariadb_processes(root) == []
    assert processes_mentioning(root) == []


# --- the pieces -------------------------------------------------------------------------


def test_statements_are_cut_where_the_client_cuts_them() -> None:
    text = ("-- a comment; not a statement\n"
            "/*!40101 SET NAMES utf8mb4 */;\n"
            "INSERT INTO `t` VALUES ('a;b', \"c\\\";d\"); # trailing; comment\n"
            "\n"
            "CREATE TABLE `x` (\n  `id` int /* inline; */ NOT NULL\n);\n"
            " --\n"
            "SELECT 1")
    assert mysqlclient.split_statements(text) == [
        (2, "/*!40101 SET NAMES utf8mb4 */"),
        (3, "INSERT INTO `t` VALUES ('a;b', \"c\\\";d\")"),
        (5, "CREATE TABLE `x` (\n  `id` int   NOT NULL\n)"),
        (9, "SELECT 1"),
    ]
    statements = mysqlclient.split_statements(sandbox.data_text("cluster.sql.6.2.0.b406"))
    creates = [(at, sql) for at, sql in statements if sql.startswith("CREATE TABLE")]
    assert len(creates) == 26 and creates[0][0] == 30


def test_option_files_read_as_mariadb_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "c.cnf"
    for password in (ODD_PASSWORD, "plain", "", "tab\there\nnewline\\"):
        write_options(path, "u", password)
        assert dict(mysqlclient.read_option_file(path)) == {"user": "u", "password": password}
    path.write_text('[mysqld]\nuser=nobody\n[client]\nuser = u # note\npassword=a#b\n'
                    'password2="x\\=y" # comment\n')
    assert mysqlclient.read_option_file(path) == [
        ("user", "u"), ("password", "a"), ("password2", "x\\=y")]
    path.chmod(0o666)
    warned: list[str] = []
    assert mysqlclient.read_option_file(path, warn=warned.append) == []
    assert warned == [f"Warning: World-writable config file '{path}' is ignored"]


def test_the_stand_in_refuses_what_a_server_refuses(tmp_path: Path) -> None:
    state = mysqlfake.ServerState.create(tmp_path / "s.json")
    state.create_user("smadmin", "pw", ["cluster"])
    session = mysqlfake.Session(state, "smadmin")
    with pytest.raises(mysqlclient.SqlError, match="1046"):
        session.execute("CREATE TABLE t (a int)")
    session.execute("CREATE DATABASE cluster")
    session.use("cluster")
    session.execute("CREATE TABLE `t` (a int)")
    with pytest.raises(mysqlclient.SqlError) as exists:
        session.execute("CREATE TABLE t (a int)")
    assert exists.value.line(4) == "ERROR 1050 (42S01) at line 4: Table 't' already exists"
    with pytest.raises(mysqlclient.SqlError, match="1146"):
        session.execute("INSERT INTO nope VALUES (1)")
    with pytest.raises(mysqlclient.SqlError, match="1064"):
        session.execute("GRANT ALL ON *.* TO smadmin")
    assert session.execute("SHOW TABLES").rows == [["t"]]
    assert state.authenticate("smadmin", "pw") and not state.authenticate("smadmin", "pW")


def test_the_stand_in_shows_the_tables_of_a_database_named_in_the_statement(
        tmp_path: Path) -> None:
    """`SHOW TABLES FROM cluster`, as the scenario and refusal tests ask it: on a
    machine without MariaDB the stand-in refused it with ERROR 1064, and four
    tests failed there (stop 26). A database the account may not see, or that
    is not there, is refused as a server refuses it."""
    state = mysqlfake.ServerState.create(tmp_path / "s.json")
    state.create_user("smadmin", "pw", ["cluster"])
    admin = mysqlfake.Session(state, "root", admin=True)
    admin.execute("CREATE DATABASE cluster")
    admin.execute("CREATE DATABASE other")
    admin.execute("CREATE TABLE cluster.`t` (a int)")
    session = mysqlfake.Session(state, "smadmin")
    assert session.execute("SHOW TABLES FROM cluster").rows == [["t"]]
    assert session.execute("show tables in `cluster`").rows == [["t"]]
    with pytest.raises(mysqlclient.SqlError, match="1044"):
        session.execute("SHOW TABLES FROM other")
    with pytest.raises(mysqlclient.SqlError, match="1049"):
        admin.execute("SHOW TABLES FROM nothere")


@pytest.mark.parametrize("kind", KINDS)
async def test_the_stand_in_counts_rows_as_mariadb_does(tmp_path: Path, kind: str) -> None:
    """The schema step counts the new database's nodegroups, so the stand-in
    counts rows: those cluster.sql inserts, a multi-row INSERT whose strings
    hold parentheses, commas, quotes and backslashes, and none after DELETE."""
    account = ("smadmin", ODD_PASSWORD)
    servers = await start_servers(tmp_path / "mysql", kind, account,
                                  sandbox.data_text("cluster.sql.6.2.0.b406"))
    try:
        cnf = write_options(tmp_path / "db.cnf", *account)

        async def ask(sql: str) -> str:
            done = await asyncio.to_thread(run_client, kind, cnf, servers.old.address,
                                           "-N", "-B", "cluster", "-e", sql)
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert await ask("SELECT COUNT(*) FROM alarms") == "8\n"
        await ask("INSERT INTO launch_configs (id, name, data, updated) VALUES "
                  "(1, 'a', '{\"x\": \"(1, 2)\"}', 5), (2, 'it''s', 'a \\\\ b \\' c', 6),"
                  "(3, 'c', ')(', 7)")
        assert await ask("SELECT COUNT(*) FROM cluster.launch_configs") == "3\n"
        await ask("DELETE FROM launch_configs")
        assert await ask("SELECT COUNT(*) FROM `launch_configs`") == "0\n"
    finally:
        await servers.close()
