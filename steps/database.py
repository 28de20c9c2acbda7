"""Talking to the new database from the stream manager host, with its mysql client.

The stream manager logs in with the live red5-web.properties' config.dbUser and
config.dbPass; the procedure's new database has "the same instance
configuration and credentials". The password never appears on a command line,
in `ps`, in the journal or on the host's disk: the option file travels on the
command's stdin, and the client reads it from that pipe (/dev/fd/3). A file
in /tmp, removed by a trap, stayed behind whenever the client was killed
(SIGKILL runs no trap).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from runbook.config import Settings
from runbook.option_file import option_file
from runbook.shell import CommandResult, quote
from runbook.step import StepFailed
from steps import red5
from steps.common import read_properties, trees
from steps.facts import AnyContext, Ctx, Red5Facts

# The database name is fixed in the streammanager's Spring config (FACTS §5).
DATABASE = "cluster"
_CREATE_TABLE = re.compile(
    r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?([A-Za-z0-9_$]+)", re.I | re.M)
_ERROR = re.compile(r"ERROR (\d+) \([0-9A-Z]+\)(?: at line \d+)?: (.*)")


@dataclass(frozen=True)
class Login:
    """The live properties' user and password, aimed at the new database's host and port."""
    user: str
    password: str = field(repr=False)  # a traceback or a log of the login shows no password
    host: str
    port: int

    @property
    def address(self) -> str:
        """host:port, as the operator reads it and schema records it."""
        return f"{self.host}:{self.port}"

    def option_file(self) -> str:
        """[client] options; user and password quoted so any character survives."""
        return option_file(self.user, self.password)


def client(login_host: str, port: str | int, tail: str) -> str:
    """The command that runs the host's mysql client against the new database.

    stdin carries the option file. It is given to the client as descriptor 3
    before `tail`'s own redirections, so an import may still point the
    client's stdin at its file. (MariaDB's and MySQL's clients read an option
    file from a pipe as from a file: data/README.md.)"""
    return ('c=$(command -v mysql || command -v mariadb) || '
            '{ echo "no mysql client on this host" >&2; exit 127; }; '
            f'"$c" 3<&0 --defaults-extra-file=/dev/fd/3 --protocol=tcp -h {quote(login_host)} '
            f"-P {port} --connect-timeout=10 {tail}")


def drop_command(host: str, port: int | str | None, user: str) -> str:
    """The command an operator types to drop the new cluster database: over
    TCP, as runbook's own client goes, since with `-h localhost` mysql takes
    the local socket whatever -P says, and that may be the live database's
    (second review). -p asks for the password, which is never shown."""
    return shlex.join(["mysql", "--protocol=tcp", "-h", host,
                       *(["-P", str(port)] if port else []), "-u", user, "-p",
                       "-e", f"DROP DATABASE {DATABASE}"])


# The JDBC drivers of MySQL, the only database runbook talks to (its mysql
# client, cluster.sql): the streammanager webapp's default when
# config.dbDriver is not set (applicationContext.xml: FACTS section 5), and
# the name Connector/J 8.0 gave that class (dev.mysql.com/doc/connector-j/en/
# connector-j-api-changes.html). 6.2.0's template offers
# org.postgresql.Driver as well, with postgreSQL_cluster.sql (FACTS 1.3, 5).
MYSQL_DRIVERS = frozenset({"com.mysql.jdbc.Driver", "com.mysql.cj.jdbc.Driver"})
_DRIVER_NAMES = {"org.postgresql.Driver": "PostgreSQL"}


def driver_refusal(live: Mapping[str, str], live_file: str) -> str | None:
    """Why a live stream manager is refused for its database driver: one
    other than MySQL's (facts audit 60b, M3). None where config.dbDriver is
    not set (the webapp then uses MySQL's) or names MySQL's."""
    driver = live.get("config.dbDriver", "").strip()
    if not driver or driver in MYSQL_DRIVERS:
        return None
    named = _DRIVER_NAMES.get(driver)
    uses = f"{named} ({driver})" if named else driver
    return (f"runbook handles MySQL-backed stream managers only, and this one uses {uses}: "
            f"config.dbDriver in the live {live_file}. Nothing was changed; upgrade this "
            "stream manager by hand")


# MySQL's port, which every shipped template gives as config.dbPort (FACTS
# section 1; the DigitalOcean docs' sample uses 25060 instead). A file without
# config.dbPort would not load the webapp (it reads ${config.dbPort} with no
# default: applicationContext.xml, and the data README's placeholder row), so
# no stream manager runs on this "by default": 3306 is only runbook's guess,
# for comparing, and for login() where the live file gives none.
DEFAULT_PORT = 3306
# One machine's own address, written either way: the same database from the
# stream manager host. Other names are compared as written: whether a
# hostname and an address are one machine cannot be told reliably from here.
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _host_key(host: str) -> str:
    name = host.strip().strip("[]").rstrip(".").lower()
    return "localhost" if name in _LOOPBACK else name


def live_address(live: Mapping[str, str]) -> tuple[str, int | None]:
    """(config.dbHost, config.dbPort) of a live red5-web.properties; the port
    3306 where the file gives none (runbook's guess: DEFAULT_PORT), None
    where it is not a number."""
    written = live.get("config.dbPort", "").strip()
    port = DEFAULT_PORT if not written else int(written) if written.isdigit() else None
    return live.get("config.dbHost", "").strip(), port


def same_database(host: str, port: int | None, live_host: str, live_port: int | None) -> bool:
    """Whether host:port names the database at live_host:live_port: the same
    host as written (case aside, loopback names alike) and the same port (a
    port not known on either side: the host alone)."""
    if not live_host or _host_key(host) != _host_key(live_host):
        return False
    return port is None or live_port is None or port == live_port


def new_database_drop(settings: Settings, facts: Red5Facts) -> tuple[str, str | None]:
    """Where the new database is, as the config names it (its port where the
    config gives one or a step has read it), and the command to drop it from
    the stream manager host as the live login (-p asks for the password,
    which is never shown); no command where [new_database] names the live
    stream manager's database (trial 54, review 56d F3): journalled
    live_db_host and live_db_port, read by preflight, say which that is."""
    port = settings.new_db_port or facts.db_port
    where = settings.new_db_host + (f":{port}" if port else "")
    if facts.live_db_host and same_database(settings.new_db_host, port, facts.live_db_host,
                                            facts.live_db_port):
        return where, None
    return where, drop_command(settings.new_db_host, port, facts.db_user or "USER")


def names_the_live_database(where: str) -> str:
    """Said in place of a drop command where [new_database] names the live
    stream manager's database."""
    return (f"[new_database] in the config now names the live stream manager's database "
            f"({where}), which must not be dropped, so no command to drop it is given")


def config_file(settings: Settings) -> str | None:
    """The config file a refusal names, as an absolute path; None for
    `runbook rehearse`'s own, which is no file (Settings.sandboxed)."""
    return None if settings.sandboxed else os.path.abspath(settings.source)


def live_database_refusal(new_host: str, new_port: int | None, live: Mapping[str, str],
                          live_file: str, config: str | None) -> str | None:
    """Why the config's new database is refused: it is the live stream
    manager's own (trial 54: its fleet was taken for an earlier attempt's
    leftovers, and a DROP DATABASE printed for it). None when it is not.
    `config`: the file that names it; None for `runbook rehearse`'s own,
    built in memory, whose host is then upgraded already (trial 57, F19:
    the refusal named a rehearsal.toml that did not exist)."""
    live_host, live_port = live_address(live)
    if not same_database(new_host, new_port, live_host, live_port):
        return None
    at = f"{live_host}:{live_port}" if live_port is not None else live_host
    port = f"port {new_port}" if new_port is not None else \
        "no port (the live file's is taken)"
    keys = "config.dbHost and config.dbPort" if live.get("config.dbPort", "").strip() else \
        f"config.dbHost (with no config.dbPort, so port {DEFAULT_PORT})"
    if config is None:
        return (f"this rehearsal host is upgraded already: the live {live_file} uses {at}, "
                "the new database this rehearsal moves to. Nothing was touched. To rehearse "
                "again, start a fresh rehearsal: give --sandbox a new folder, or leave it out")
    return (f"the new database given is the one the live stream manager uses: {at} is "
            f"{keys} of the live {live_file}, and [new_database] in "
            f"{config} names it too (host {new_host}, {port}). runbook has not touched it; give "
            "[new_database] the address of the new database instance the upgrade moves to, "
            "and run again")


def _port(p: AnyContext) -> str | int:
    """The new database's port as far as it is known yet: the config's, else
    the one a step read from the live login (see login), else a placeholder."""
    return p.settings.new_db_port or p.facts.db_port or "<port>"


def query(p: AnyContext, sql: str, *, port: str | int | None = None) -> str:
    return client(p.settings.new_db_host, port or _port(p), f"-N -B -e {quote(sql)}")


def import_file(p: AnyContext, sql_file: str, *, port: str | int | None = None) -> str:
    return client(p.settings.new_db_host, port or _port(p), f"{DATABASE} < {quote(sql_file)}")


async def login(ctx: Ctx) -> Login:
    """The live stream manager's database login, aimed at the new database."""
    old, _new = await trees(ctx)
    # Read as Java reads it; the password goes to the client as UTF-8 (the input's
    # encoding), as the MySQL driver sends it (inferred: Connector/J's
    # passwordCharacterEncoding falls back to UTF-8).
    live = await read_properties(ctx, f"{old}/{red5.PROPERTIES}")
    from runbook.properties import is_placeholder

    user, password = live.get("config.dbUser", ""), live.get("config.dbPass", "")
    if not user or is_placeholder(user):
        raise StepFailed(f"the live {red5.PROPERTIES} names no config.dbUser; the new "
                         "database is reached with the live login")
    ctx.add_secret(password, name="config.dbPass")
    # Before any query: the live database is never taken for the new one.
    refused = live_database_refusal(
        ctx.settings.new_db_host, ctx.settings.new_db_port, live,
        f"{old}/{red5.PROPERTIES}", config_file(ctx.settings))
    if refused:
        raise StepFailed(refused)
    ctx.facts.live_db_host, ctx.facts.live_db_port = live_address(live)
    port = ctx.settings.new_db_port or ctx.facts.live_db_port
    if port is None:
        raise StepFailed(
            f"config.dbPort in the live {old}/{red5.PROPERTIES} is "
            f"{live.get('config.dbPort', '').strip()!r}, not a port number, and [new_database] "
            f"in {os.path.abspath(ctx.settings.source)} gives no port to take instead; give "
            "[new_database] port the new database's port, then try the step again")
    ctx.facts.db_port = port  # for the plans shown from here on
    ctx.facts.db_user = user  # for the command that drops it after the way back
    return Login(user, password, ctx.settings.new_db_host, port)


def failure(result: CommandResult, where: Login, *, cutover_under_way: bool,
            config: str) -> str:
    """The client's error as an operator reads it, with what to do."""
    text = result.stderr.strip() or result.stdout.strip()
    match = _ERROR.search(text)
    code, message = (int(match.group(1)), match.group(2)) if match else (None, text)
    at = where.address
    # Only prepare steps talk to the new database, so the live install is as it
    # was; unless a resumed run looks again mid-cutover, with the stream manager
    # down (operator trial: it was told the live one still served).
    unchanged = ("; the cutover is under way and the stream manager is down: try the step "
                 "again once that is fixed, or take the way back to the old stream manager, "
                 "which does not need the new database") if cutover_under_way else \
        ("; the live stream manager serves as before (only the new database may have "
         "changed), so the step can be tried again once that is fixed")
    if result.exit_status == 127:
        return ("the stream manager host has no mysql client; install one (Debian/Ubuntu: "
                "apt-get install default-mysql-client) and run the step again")
    if code == 1045:
        return (f"the new database at {at} refuses the live login {where.user} "
                f"({message}); create that user with the live password on the new "
                f"instance{unchanged}")
    if code == 2005:
        # A name the host cannot resolve is the config's to mend, not the
        # network's (operator trial 57, F11: sent to the firewall).
        return (f"the stream manager host cannot resolve {where.host} ({message}); check "
                f"[new_database] host in {config}{unchanged}")
    if code in (2002, 2003, 2013):
        # The client's (115) does not tell a refused port from a filtered one.
        return (f"the new database at {at} cannot be reached from the stream manager host "
                f"({message}); check [new_database] host and port in {config}, that the "
                "instance runs and listens there, and that its firewall or security group "
                f"lets the stream manager's address in{unchanged}")
    return f"the new database at {at} answered: {message or 'no reason given'}{unchanged}"


async def run_sql(ctx: Ctx, where: Login, command: str, *, quiet: bool = True) -> CommandResult:
    result = await ctx.sh(command, input=where.option_file(), check=False, quiet=quiet)
    if not result.ok:
        raise StepFailed(failure(result, where, cutover_under_way=ctx.cutover_under_way,
                                 config=os.path.abspath(ctx.settings.source)))
    return result


async def probe_sql(ctx: Ctx, where: Login, command: str) -> CommandResult:
    """The same, read-only and not journalled as an action (checks)."""
    result = await ctx.probe(command, input=where.option_file())
    if not result.ok:
        raise StepFailed(failure(result, where, cutover_under_way=ctx.cutover_under_way,
                                 config=os.path.abspath(ctx.settings.source)))
    return result


def tables_in(sql: str) -> set[str]:
    """The tables a cluster.sql creates (every CREATE TABLE at a line's start)."""
    return {name.lower() for name in _CREATE_TABLE.findall(sql)}
