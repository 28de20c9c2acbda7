"""What the host says of a start of the red5pro service, for start-service
(steps/start_service.py) and the way back's start: the red5.log of that
start, the database the install's red5-web.properties and red5.log name,
whether that file was written since the service started, and the limit a
slow start ran into. Each is a look over SSH (a root shell where it reads
the install), in the downtime: few and small."""

from __future__ import annotations

import asyncio
import re
from typing import Any, TypeAlias

from runbook.shell import privileged_script, quote
from runbook.step import StepFailed
from steps import red5
from steps.common import live_dir, root
from steps.database import DEFAULT_PORT, live_address, same_database
from steps.facts import Ctx

# --- red5-web.properties against the service's start --------------------------
# A token or database written to the file since the service started is not
# what it read: only a restart reads it.

# How closely /proc and `date` tell a file's time from a process's start: the
# start is in clock ticks (a hundredth of a second on Linux).
_PROC_SLACK_S = 0.02


def written_after_start(now: float, changed: float, ran_for: float, *, slack: float) -> bool:
    """Whether a file changed at `changed` may have been written after a
    process that has run `ran_for` seconds started, as the host's clock says
    `now`, each told to within `slack`: within it, the file counts as written
    since (a restart too many costs seconds, one too few leaves the token
    unread). In whole seconds (`ps -o etimes=`, `date +%s`) the slack is a
    second: both are cut, so the start can read a second late."""
    return changed >= now - ran_for - slack


def _started_and_written(said: str, processes: int) -> tuple[float, float, float] | None:
    """(now, the file's time, the oldest process's running time) from the
    fine look's lines: `date +%s.%N`, the file's, /proc/uptime's first field,
    CLK_TCK, then each process's start in ticks. None where any is missing
    (no /proc, a date without %N, a process gone)."""
    words = said.split()
    if len(words) != 4 + processes:
        return None
    try:
        now, changed, up = float(words[0]), float(words[1]), float(words[2])
        tick = int(words[3])
        starts = [int(word) for word in words[4:]]
    except ValueError:
        return None
    if tick <= 0:
        return None
    return now, changed, up - min(starts) / tick


async def written_since_it_started(ctx: Ctx, pids: list[int]) -> bool:
    """Whether the install's red5-web.properties was written since the
    oldest of its server's processes `pids` started: a token or database
    set there since is not read until a restart. False when that cannot
    be told.

    Told to a hundredth of a second where the host has /proc (a process's
    start in clock ticks, the file's time in nanoseconds): in whole
    seconds, a file written just before the start cannot be told from one
    written just after, and either answer was wrong once (a fix read as
    older, then a properties step's own write read as newer: a serving
    release restarted for a wrong token in the shell)."""
    if not pids:
        return False
    path = quote(f"{live_dir(ctx)}/{red5.PROPERTIES}")
    told = await _written_since_by_proc(ctx, path, pids)
    if told is not None:
        return told
    return await _written_since_in_seconds(ctx, path, pids)


async def _written_since_by_proc(ctx: Ctx, path: str, pids: list[int]) -> bool | None:
    """The same, told from /proc and `date +%N`; None where the host
    cannot tell it so."""
    sudo = ctx.settings.host.sudo
    fine = await ctx.probe(
        f"date +%s.%N; {privileged_script(f'date -r {path} +%s.%N', sudo)}; "
        "read up _ < /proc/uptime && echo \"$up\" && getconf CLK_TCK && "
        f"for p in {' '.join(map(str, pids))}; do "
        "sed 's/.*) //' /proc/$p/stat | cut -d' ' -f20; done")
    told = _started_and_written(fine.stdout, len(pids))
    if told is None:
        return None
    return written_after_start(*told, slack=_PROC_SLACK_S)


async def _written_since_in_seconds(ctx: Ctx, path: str, pids: list[int]) -> bool:
    """The same, told in whole seconds (`ps -o etimes=`, `stat %Y`)."""
    written = privileged_script(f"stat -L -c %Y -- {path}", ctx.settings.host.sudo)
    found = await ctx.probe(f"date +%s; {written}; ps -o etimes= -p "
                            f"{','.join(map(str, pids))}")
    numbers = [int(word) for word in found.stdout.split() if word.isdigit()]
    if len(numbers) < 3:
        return False
    return written_after_start(numbers[0], numbers[1], max(numbers[2:]), slack=1)


async def seconds_running(ctx: Ctx, pids: list[int]) -> int | None:
    """How long the oldest of this install's `pids` has run, in seconds."""
    if not pids:
        return None
    result = await ctx.probe("ps -o etimes= -p " + ",".join(map(str, pids)))
    ages = [int(word) for word in result.stdout.split() if word.isdigit()]
    return max(ages) if ages else None


# --- the red5.log of this start -----------------------------------------------
# Read from the offset start-service keeps (Red5Scratch.red5_log_start_offset),
# so that an earlier start's lines are not taken for this one's.

def _this_starts_log(ctx: Ctx, pipe: str) -> str:
    """The shell pipeline that passes the red5.log of the last start
    (from red5_log_start_offset; the whole log where it is not known, or
    where it was rotated since and is smaller) through `pipe`."""
    log = quote(f"{live_dir(ctx)}/{red5.SERVICE_LOG}")
    since = ctx.facts.scratch.red5_log_start_offset or 0
    return (f"if [ \"$(stat -L -c %s -- {log})\" -ge {since} ]; then tail -c +{since + 1} "
            f"-- {log}; else cat -- {log}; fi | {pipe}")


async def log_size(ctx: Ctx) -> int:
    """The size of red5.log now (0 when it is not there yet)."""
    log = quote(f"{live_dir(ctx)}/{red5.SERVICE_LOG}")
    found = await ctx.probe(root(ctx, f"stat -L -c %s -- {log}"))
    size = found.stdout.strip()
    return int(size) if found.ok and size.isdigit() else 0


class ControllerClassNotFound(Exception):
    """The red5.log of this start says the webapp's cloud-controller bean's
    class was not found: a restart loads the same jars, so neither waiting
    nor a restart mends it. `line`: the log's line; `bean`: the class."""

    def __init__(self, line: str, bean: str) -> None:
        super().__init__(line)
        self.line, self.bean = line, bean


async def log_names_a_class_not_found(ctx: Ctx) -> bool:
    """Whether the red5.log of this start has any ClassNotFoundException
    line (cheap: the log is not read back)."""
    found = await ctx.probe(privileged_script(
        _this_starts_log(ctx, "grep -a -q 'ClassNotFoundException'"),
        ctx.settings.host.sudo))
    return found.ok


async def active_controller_class(ctx: Ctx) -> str | None:
    """The class of the install's active cloud-controller bean, as its
    applicationContext.xml names it (None where it cannot be read)."""
    context = quote(f"{live_dir(ctx)}/{red5.APP_CONTEXT}")
    xml = await ctx.probe(root(ctx, f"cat -- {context}"))
    return red5.active_controller(xml.stdout) if xml.ok else None


async def raise_if_the_class_not_found(ctx: Ctx, controller_class: str) -> None:
    """ControllerClassNotFound when the red5.log of this start says the
    class of the install's active cloud-controller bean was not found (a
    jar holding no controller passes preflight with a warning, trial 58).
    Only that class's ClassNotFoundException: the line's other words are
    not in the sources (data README), and another class's may be
    harmless. The bean's own line is looked for, however many others come
    first (review 59c L4: only the first five were read); one line at
    most comes back."""
    # The class's name, a whole word, in grep's extended syntax.
    named = re.sub(r"([.$])", r"\\\1", controller_class)
    wanted = f"ClassNotFoundException:[[:space:]]*{named}([^[:alnum:]_$.]|$)"
    found = await ctx.probe(privileged_script(
        _this_starts_log(ctx, f"grep -a -m 1 -E {quote(wanted)}"),
        ctx.settings.host.sudo))
    for line in (line.strip() for line in found.stdout.splitlines()):
        if re.search(rf"ClassNotFoundException:\s*{re.escape(controller_class)}\b", line):
            raise ControllerClassNotFound(line, controller_class)


async def start_limit_ran_out(ctx: Ctx, took: float) -> red5.StartLimit | None:
    """The limit of the unit's start (red5.start_limit: jsvc's -wait,
    which gives up about 10 s past its seconds, or systemd's start
    timeout, whichever ends first), where a failed start took at least
    that long and this start's red5.log has no ERROR line: the server was
    still loading when the start gave up. None otherwise (a server that
    ended on its own is said by its log)."""
    unit = await ctx.probe(root(ctx, f"cat -- {quote(ctx.settings.unit_file)}"))
    # The timeout in effect, drop-ins and all; the file's where systemd
    # gives none (review 61b, F8).
    shown = await ctx.probe(root(ctx, "systemctl show -p TimeoutStartUSec red5pro"))
    limit = red5.start_limit(unit.stdout, shown.stdout if shown.ok else "") \
        if unit.ok else None
    if limit is None or took < limit.seconds:
        return None
    errors = await ctx.probe(privileged_script(
        _this_starts_log(ctx, "grep -a -q ' ERROR '"), ctx.settings.host.sudo))
    return None if errors.ok else limit


# --- the database the new release uses ----------------------------------------
# What its red5-web.properties names, what its red5.log names (5.1 only), and
# whether the host can log in to it.

class NewDatabaseUnusable(Exception):
    """The new release's API is silent and the host cannot use the new database."""


class UsesAnotherDatabase(Exception):
    """The new release's API is silent and its red5.log names a database other
    than [new_database]: neither waiting nor a restart mends its file."""


# The API versions of the releases known to log dbURL = ... (_DB_URL): 5.1.x.
_LOGS_ITS_DATABASE = ("3.0",)


# What a stream manager may log as it starts: the database it uses (dbURL =
# jdbc:mysql://<config.dbHost>:<config.dbPort>/cluster, FACTS §3 and §5). Only
# 5.1.1's red5.log has it (amanaviral/red5pro:log/red5.log); 6.2.0's has none
# (andrelsouto/red5:log/red5.log), and no later one is known to write it. So it
# only confirms: the installed file is compared with [new_database] before the
# start (facts audit 56a H1).
_DB_URL = re.compile(r"dbURL = jdbc:mysql://(\[[^\]]*\]|[^:/\s]*)(?::(\d+))?/")


def log_may_name_the_database(ctx: Ctx, *, file_proven: bool) -> bool:
    """Whether red5.log is worth reading for the database this start uses:
    only a release known to log it (5.1.1; 6.2.0's log has no dbURL line,
    facts audit 56a H1), and not for a start runbook made from a file it
    had just found naming [new_database] (`file_proven`), which the line
    would only repeat. A service found running may have read the file
    before it was put right: there the line is what tells."""
    if red5.api_version(ctx.facts.new_version) not in _LOGS_ITS_DATABASE:
        return False
    return not (file_proven and ctx.facts.scratch.red5_log_start_offset is not None)


async def look_at_the_database(ctx: Ctx, *, read_log: bool) -> Any:
    """NewDatabaseUnusable when the host cannot log in to the new
    database; UsesAnotherDatabase when the red5.log of this start names another one
    (looked for only where `read_log`). The new database's login when its
    log names none yet, for a later look (None once it named the new one,
    or where it is not read)."""
    from steps import database

    try:
        where = await database.login(ctx)
    except StepFailed as exc:
        raise NewDatabaseUnusable(str(exc)) from None
    named = await logs_the_database(ctx, where) if read_log else True
    try:
        await database.probe_sql(ctx, where, database.query(ctx, "SELECT 1",
                                                            port=where.port))
    except StepFailed as exc:
        raise NewDatabaseUnusable(str(exc)) from None
    return None if named else where


async def logs_the_database(ctx: Ctx, where: Any) -> bool:
    """Whether the red5.log of this start names the database it uses
    (False while it names none); UsesAnotherDatabase when that is not the new
    database `where`."""
    used = await database_logged(ctx)
    if used is None:
        return False
    # As F11's comparison: loopback names alike, case and a trailing dot aside.
    if same_database(used[0], used[1], where.host, where.port):
        return True
    if ctx.facts.scratch.red5_log_start_offset is None and \
            await _file_names_now(ctx, where):
        # A start runbook did not make, read from the top: the line can be
        # an earlier start's, from before the file was put right and the
        # service restarted by hand. This start's is waited for; one that
        # read the file before the fix never answers, and the restart
        # after the limit reads it.
        return False
    raise UsesAnotherDatabase(
        _another_database_words(ctx, f"{used[0]}:{used[1]}", where))


async def database_logged(ctx: Ctx) -> tuple[str, int] | None:
    """The database (host, port) the red5.log of the last start names in
    its dbURL line; None when it has written none yet."""
    # A log rotated since is smaller than the offset: read it whole.
    read = _this_starts_log(ctx, "grep -a -o 'dbURL = jdbc:mysql://[^/]*/' | tail -n 1")
    found = await ctx.probe(privileged_script(read, ctx.settings.host.sudo))
    match = _DB_URL.search(found.stdout) if found.ok else None
    if match is None:
        return None
    # The driver's default port where the URL gives none.
    return match.group(1).strip("[]"), int(match.group(2) or DEFAULT_PORT)


def _another_database_words(ctx: Ctx, used: str, where: Any) -> str:
    """The red5.log of this start names the database at `used`, not the new
    one, `where`."""
    path = f"{live_dir(ctx)}/{red5.PROPERTIES}"
    return (f"the new stream manager uses the database at {used} (its {red5.SERVICE_LOG} "
            f"says dbURL = jdbc:mysql://{used}/cluster), not the new database at "
            f"{where.address} ([new_database] in {ctx.settings.source}): config.dbHost and "
            f"config.dbPort in {path} disagree with [new_database], which neither waiting "
            f"nor a restart mends. Set them there to {where.host} and {where.port} (or, if "
            f"{used} is the new database by another name, give that in [new_database]), "
            "then try the step again, which restarts the service; or roll back to the old "
            "stream manager")


async def _file_names_now(ctx: Ctx, where: Any) -> bool:
    """Whether config.dbHost and config.dbPort of the install's file name
    the new database `where` now (False when they cannot be read)."""
    written = await _database_in_file(ctx)
    if written is None:
        return False
    host, port = live_address(written)
    return same_database(host, port, where.host, where.port)


async def _database_in_file(ctx: Ctx) -> dict[str, str] | None:
    """config.dbHost and config.dbPort as the install's red5-web.properties
    gives them (a key it lacks is left out); None when the file cannot be
    read."""
    import javaproperties  # here: only a start asks, and start-up need not load it

    path = f"{live_dir(ctx)}/{red5.PROPERTIES}"
    keys = quote(r"^[[:space:]]*config\.db(Host|Port)[[:space:]=:]")
    # grep: 0 found, 1 none found (the file has neither key), else unread.
    script = f"grep -E {keys} -- {quote(path)}; s=$?; [ $s -le 1 ] && echo '#read'"
    found = await ctx.probe(privileged_script(script, ctx.settings.host.sudo))
    if not found.ok or "#read" not in found.stdout:
        return None
    return dict(javaproperties.loads(found.stdout))


# What look_at_the_file found: the file's config.dbHost and config.dbPort
# (None: unread), and the live login aimed at the new database; each a look's
# failure where it failed, to be raised in the order the judgement meets it.
FileLook: TypeAlias = "tuple[dict[str, str] | BaseException | None, Any]"


async def look_at_the_file(ctx: Ctx) -> FileLook:
    """The looks prove_the_file_names_the_new_database judges: the file's
    database and the live login, asked at once (each is a round trip, in
    the downtime: issue 12). Neither raises here: a look that failed is
    returned, and raised only where the judgement would have met it had
    the looks run one after the other, once both have ended (review R2)."""
    from steps import database

    found = await asyncio.gather(_database_in_file(ctx), database.login(ctx),
                                 return_exceptions=True)
    return found[0], found[1]


def the_file_names_the_new_database(ctx: Ctx, looked: FileLook, *, running: bool = False,
                                    answers: bool = True) -> bool:
    """prove_the_file_names_the_new_database's judgement of what
    look_at_the_file found (`looked`): the login's answer counts only where
    the file was read and names a host, as when it was asked only then."""
    from runbook.properties.codec import has_placeholder

    written, where = looked
    if isinstance(written, BaseException):
        raise written
    if written is None:
        return False
    host, port = live_address(written)
    if not host or has_placeholder(host):
        raise StepFailed(_no_database_host(ctx, host, running=running, answers=answers))
    if isinstance(where, BaseException):
        raise where
    if port is not None and same_database(host, port, where.host, where.port):
        return True
    named = f"{host}:{port}" if port is not None else \
        f"{host} (config.dbPort={written.get('config.dbPort', '').strip()})"
    raise StepFailed(_another_database_in_file(ctx, named, where, running=running,
                                               answers=answers))


async def prove_the_file_names_the_new_database(ctx: Ctx, *, running: bool = False,
                                                 answers: bool = True) -> bool:
    """Whether the new release's red5-web.properties names [new_database]
    (False when it cannot be read). A webapp started on another database
    that answers loads on it and its API answers, and of the releases
    whose red5.log the sources show only 5.1.1 says which database it
    uses (facts audit 56a H1): once started, a wrong one is not seen.
    StepFailed when the file names another: before a start, nothing
    started; for a service found `running` (started by hand; `answers`:
    its API answers), it is left running as it is. Nothing is said when
    the file cannot be read (the wait that follows reports what the
    server says)."""
    return the_file_names_the_new_database(ctx, await look_at_the_file(ctx),
                                           running=running, answers=answers)


async def database_host_unset(ctx: Ctx) -> str | None:
    """What the install's config.dbHost says, when it is still the
    template's placeholder (the properties step skipped, say); else None."""
    import javaproperties  # here: only a failure asks, and start-up need not load it

    from runbook.properties.codec import has_placeholder

    path = f"{live_dir(ctx)}/{red5.PROPERTIES}"
    line = quote(r"^[[:space:]]*config\.dbHost[[:space:]=:]")
    found = await ctx.probe(root(ctx, f"grep -m 1 -E {line} -- {quote(path)}"))
    value = dict(javaproperties.loads(found.stdout)).get("config.dbHost") \
        if found.ok else None
    if value is None or not (value == "" or has_placeholder(value)):
        return None
    return f"config.dbHost in {path} is still {value or 'blank'}"


# Said where the new release's file names no database, or another than
# [new_database]: the way back, and, for a service found running, the stop by
# hand: a service found answering has read the file already, so that the
# start that follows is runbook's, from the file it has just compared.
_OR_ROLL_BACK = "; or roll back to the old stream manager"
_STOP_IT = "Stop it (systemctl stop red5pro), "


def _as_left(*, running: bool, answers: bool) -> str:
    """How the service is, where the file's database is wrong: a service
    found `running` (`answers`: its API answers) is left as it is."""
    if not running:
        return "runbook did not start the service"
    return ("the red5pro service runs" + (" and its API answers" if answers else
                                          ", its API not answering yet")
            + "; runbook leaves it running")


def _no_database_host(ctx: Ctx, host: str, *, running: bool, answers: bool) -> str:
    """The file's config.dbHost is blank or the template's placeholder."""
    path = f"{live_dir(ctx)}/{red5.PROPERTIES}"
    state = _as_left(running=running, answers=answers)
    go_on = ctx.settings.goes_on
    if running:
        return (f"config.dbHost in {path} is {host or 'blank'}, so the new release has no "
                f"database to use; {state}. {_STOP_IT}then {go_on} and let the "
                "properties step run (or set it there to the new database's host by hand "
                f"and try this step again){_OR_ROLL_BACK}")
    return (f"config.dbHost in {path} is {host or 'blank'}, so the new release would start "
            f"with no database; {state}. The properties step ports it: stop, then {go_on} "
            "and let that step run (or set it there to the new database's "
            f"host by hand and try this step again){_OR_ROLL_BACK}")


def _another_database_in_file(ctx: Ctx, named: str, where: Any, *, running: bool,
                              answers: bool) -> str:
    """The file names the database at `named`, not the new one, `where`."""
    path = f"{live_dir(ctx)}/{red5.PROPERTIES}"
    state = _as_left(running=running, answers=answers)
    mend = (f"{_STOP_IT}set them there to" if running else "Set them there to")
    return (f"config.dbHost and config.dbPort in {path} name the database at {named}, which "
            f"disagrees with the new database at {where.address} ([new_database] in "
            f"{ctx.settings.source}); {state}. {mend} {where.host} and {where.port} (or, if "
            f"{named} is the new database by another name, give that in [new_database]), then "
            f"try the step again{', which starts it' if running else ''}{_OR_ROLL_BACK}")
