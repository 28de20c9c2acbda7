"""Paths and small helpers every step of the procedure shares."""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, overload

from runbook.config import Settings
from runbook.hoststate import Snapshot

# The origins recreate rebuilds are counted beside the snapshot, so the
# report counts them the same (review 61, F3).
from runbook.hoststate import origins_to_rebuild as origins_to_rebuild
from runbook.hoststate import standing_origins as standing_origins
from runbook.model import Action, Shell
from runbook.redact import command_line_secrets, is_secret_key
from runbook.shell import (
    AS_IT_WAS,
    CommandResult,
    RemoteError,
    privileged,
    privileged_script,
    quote,
    sha256_command,
)
from runbook.step import NotInThisRun, StepFailed
from steps import red5
from steps.facts import AnyContext, Ctx, Red5Facts


def new_folder(settings: Settings, facts: Red5Facts) -> str:
    """Name of the folder the new distribution unpacks into.

    Read from the zip when it is on this machine (it is the truth); before
    that, a zip named by its release is named as its folder usually is, and
    one named otherwise (an account download's uuid) gives no guess."""
    if facts.new_top:
        return facts.new_top
    try:
        facts.new_top, facts.new_flat = red5.layout(settings.distribution)
    except (OSError, ValueError, KeyError):
        if red5.distribution_version(settings.distribution.name) is None:
            return "<the folder the zip unpacks into>"
        return settings.distribution.name.removesuffix(".zip")
    return str(facts.new_top)


def stood_in_for(p: AnyContext) -> str | None:
    """The new release ("11.1.0") whose red5-web.properties template and
    cluster.sql a rehearsal has stand-ins for (Settings.rehearsal_stand_ins),
    for the steps that use them to say so (trial 56, F10); None otherwise,
    and always in a production run."""
    if not (p.settings.rehearsal and p.settings.rehearsal_stand_ins):
        return None
    return (p.facts.new_version or "").split(".b")[0] or "the new release"


def install_dir(p: AnyContext) -> str:
    """The install folder as the host resolves it (realpath, found by preflight).

    Every command works on real paths: `find` does not descend into a symlink
    it is given, and a path through a symlink is a different string from the
    one the server was started with. Before preflight has looked, the
    configured path is all there is."""
    return str(p.facts.install_real or p.settings.install_dir)


_T = TypeVar("_T")
_U = TypeVar("_U")
_V = TypeVar("_V")
_W = TypeVar("_W")


async def known_answer(value: _T) -> _T:
    """No look, its answer known: in the place of a look in `together` that
    asks others at once."""
    return value


@overload
async def together(first: Awaitable[_T], second: Awaitable[_U], /) -> tuple[_T, _U]: ...
@overload
async def together(first: Awaitable[_T], second: Awaitable[_U], third: Awaitable[_V],
                   /) -> tuple[_T, _U, _V]: ...
@overload
async def together(first: Awaitable[_T], second: Awaitable[_U], third: Awaitable[_V],
                   fourth: Awaitable[_W], /) -> tuple[_T, _U, _V, _W]: ...
@overload
async def together(*looks: Awaitable[_T]) -> tuple[_T, ...]: ...
async def together(*looks: Awaitable[Any]) -> tuple[Any, ...]:
    """Looks asked at once (each a round trip, many in the downtime: issue
    12), their answers in the order asked. A failure is raised only once
    every look has ended, the first asked first: a bare gather raises the
    first to fail and leaves the others running past the step's end, into
    the operator's question, where a lost link's 'looking again' would be
    said as the failed step's (review R2). So a failure waits for the
    slowest look, each bounded as every remote action is: a command by its
    limit, an API request by the client's.

    Looks answer by returning; one that returns an exception would be taken
    for a failure."""
    answers = await asyncio.gather(*looks, return_exceptions=True)
    for answer in answers:
        if isinstance(answer, asyncio.CancelledError):
            here = asyncio.current_task()
            if here is None or not here.cancelling():
                # Not this step's stop: raised as it is, it would read as the
                # run being stopped (review 65).
                raise StepFailed("one of the step's looks was cancelled before it answered; "
                                 "try the step again") from answer
            raise answer
        if isinstance(answer, BaseException):
            raise answer
    return tuple(answers)


def live_dir(p: AnyContext) -> str:
    return f"{install_dir(p).rstrip('/')}/red5pro"


def backup_dir(p: AnyContext) -> str:
    return f"{install_dir(p).rstrip('/')}/bak.red5pro"


def new_dir(p: AnyContext) -> str:
    return f"{install_dir(p).rstrip('/')}/{new_folder(p.settings, p.facts)}"


async def trees(ctx: Ctx) -> tuple[str, str]:
    """(old install, new tree) wherever the procedure has put them so far.

    Before cutover that is red5pro and the unpacked folder; once promote-new
    has run, the new tree is red5pro and the old one bak.red5pro. A resumed
    run's checks must look in the right place, or they would redo work."""
    old, new, _there = await _trees_found(ctx)
    return old, new


async def _trees_found(ctx: Ctx) -> tuple[str, str, bool]:
    """trees(), and whether the new tree was found where it says."""
    live = live_dir(ctx)
    new = new_dir(ctx)
    # The three folders in one look: the way forward's start-service asks
    # this in the downtime, where each look is a round trip (issue 12).
    there, backup, (live_there, live_id) = await _folders(ctx, new, backup_dir(ctx), live)
    if await _promoted(ctx, live, backup=backup[0], live_id=live_id):
        # Once promote-new is done the trees are bak.red5pro and red5pro,
        # whatever else lies beside them (trial 59 F12: a distribution
        # unzipped again by hand was taken for the new tree, red5pro for the
        # old install, and new-database told the operator to change a
        # [new_database] that was right).
        if there[0] and ctx.facts.scratch.stray_said != new:
            ctx.facts.scratch.stray_said = new
            ctx.warn(f"warning: {new} lies beside the promoted {live}; it is not the "
                     f"release promote-new put in place, and runbook leaves it alone "
                     "(remove it once the upgrade is done)")
        old = backup_dir(ctx)
        ctx.facts.scratch.trees = (old, live)
        return old, live, True
    found = there[0]
    if not found:
        version = await install_version(ctx, live)
        if version is not None and version == ctx.facts.new_version:
            new, found = live, True  # a version read from it: the folder is there
    old = live
    if new == live or not live_there:
        old = backup_dir(ctx)
    ctx.facts.scratch.trees = (old, new)
    return old, new, found


async def _promoted(ctx: Ctx, live: str, *, backup: bool, live_id: str | None) -> bool:
    """Whether promote-new is done: bak.red5pro is there (`backup`) and
    red5pro holds the new release (the unpacked folder itself, `live_id`,
    where its identity is on record; else its version)."""
    if not backup:
        return False
    known = ctx.facts.new_tree
    if known:
        return live_id == known
    wanted = ctx.facts.new_version
    return wanted is not None and await install_version(ctx, live) == wanted


async def _folders(ctx: Ctx, *paths: str) -> list[tuple[bool, str | None]]:
    """For each of `paths`: whether it is a folder (test -d, as exists), and
    its identity (device:inode, as folder_id) where stat could read it. One
    look for all; where that look fails, none is there, as each of the
    single looks would have answered."""
    script = ("for p in " + " ".join(quote(path) for path in paths) + "; do "
              'if [ -d "$p" ]; then printf "d %s\\n" "$(stat -L -c %d:%i -- "$p" 2>/dev/null)"; '
              "else echo -; fi; done")
    result = await ctx.probe(script)
    lines = result.stdout.splitlines() if result.ok else []
    if len(lines) != len(paths):
        return [(False, None)] * len(paths)
    found: list[tuple[bool, str | None]] = []
    for line in lines:
        kind, _, identity = line.partition(" ")
        found.append((kind == "d", identity.strip() or None))
    return found


def planned_trees(p: AnyContext) -> tuple[str, str]:
    """trees() as a plan names them: where the step's check last found them,
    which is where its run acts (re-trial: resumed after promote-new, a
    skipped carry-over's plan named the unpacked folder, gone by then, and
    bak.red5pro -> red5pro ran); before any look, where they are before the
    cutover."""
    found = p.facts.scratch.trees
    return found if found is not None else (live_dir(p), new_dir(p))


async def trees_unpacked(ctx: Ctx) -> tuple[str, str]:
    """trees(), for a step that changes the new tree: one that is not there is
    said with why (unpack skipped, or not run), not in the words of the first
    command that trips on it (operator trial: cp's "No such file or
    directory", and no word that unpack was skipped)."""
    old, new, there = await _trees_found(ctx)
    if not there:
        why = ctx.skipped.get("unpack")
        raise StepFailed(f"{new} is not there: " + (
            f"unpack was skipped ({why}); unpack the distribution there first"
            if why is not None else "run unpack first"))
    return old, new


def find_server_folders(p: AnyContext) -> str:
    """The command that lists red5pro-server-* folders in the install dir."""
    return (f"find {quote(install_dir(p))} -mindepth 1 -maxdepth 1 -type d "
            "-name 'red5pro-server-*'")


async def server_folders(ctx: Ctx) -> list[str]:
    """Every red5pro-server-* folder now in the install dir (the unpacked one,
    and any an earlier upgrade or a hand-made unzip left there)."""
    found = await ctx.probe(find_server_folders(ctx))
    return [line for line in found.stdout.splitlines() if line.strip()]


async def run_shell(ctx: Ctx, actions: list[Action], *, timeout: float | None = None,
                    detach: bool = False) -> None:
    """Run the shell lines of a plan in order, exactly as the plan showed them
    (`detach`: each outlives a lost connection, see StepContext.sh)."""
    for action in actions:
        if isinstance(action, Shell):
            await ctx.sh(action.command, timeout=timeout, detach=detach)


def root(p: AnyContext, command: str) -> str:
    return privileged(command, p.settings.host.sudo)


def copy_whole(p: AnyContext, source: str, target: str, *, keep_times: bool = False,
               unless_there: bool = False) -> str:
    """The root script that puts a copy of `source` at `target` whole or not at
    all: the copy goes to a name beside it, then one rename puts it in place. A
    copy cut short (a full disk, a kill) leaves only that name, which the next
    attempt writes over; cp straight onto `target` would leave part of the file
    there (safety review: a unit backup cut short was later put back as the unit).

    `unless_there`: no copy where `target` is there already, asked by root in
    the same script. A `test` as the SSH user fails alike for "not there" and
    "cannot see into the folder" (code review: a retry saved the new unit over
    the old one's backup, in a folder the SSH user could not enter)."""
    beside = quote(target + ".runbook-copy")
    flags = "-p -- " if keep_times else "-- "
    copy = f"cp {flags}{quote(source)} {beside} && mv -f -- {beside} {quote(target)}"
    if unless_there:
        copy = f"[ -e {quote(target)} ] || {{ {copy}; }}"
    return privileged_script(copy, p.settings.host.sudo)


def uploaded(settings: Settings, local: Path) -> str:
    return f"{settings.upload_dir}/{local.name}"


async def sha256_local(path: Path) -> str:
    def digest() -> str:
        import hashlib  # here: the checklist's first paint has no use for it (issue 12)

        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()

    return await asyncio.to_thread(digest)


async def sha256_remote(ctx: Ctx, path: str, *, as_root: bool = False) -> str | None:
    """The host's sha256 of `path` (None when it cannot read it), by the
    fastest tool there (runbook.shell.sha256_command); `as_root` for a file
    root may keep to itself (a unit with secrets in its Environment=)."""
    command = sha256_command(path)
    if as_root:
        command = privileged_script(command, ctx.settings.host.sudo)
    result = await ctx.probe(command)
    return result.stdout.split()[0] if result.ok and result.stdout.strip() else None


async def size_remote(ctx: Ctx, path: str) -> int | None:
    """The size of the file `path` on the host; None when there is none."""
    result = await ctx.probe(f"stat -L -c %s -- {quote(path)} 2>/dev/null")
    text = result.stdout.strip()
    return int(text) if result.ok and text.isdigit() else None


async def exists(ctx: Ctx, path: str, kind: str = "-e", *, as_root: bool = False) -> bool:
    """Whether `path` is there (`kind`: test's -e, -f, -d, -L). `as_root`: asked
    by root, for a path in a folder the SSH user may not enter, where its own
    `test` fails alike for "not there" and "cannot see" (code review: the old
    unit's backup, unseen, was taken for none); a look root cannot take (sudo
    refused) fails the step rather than answer "not there"."""
    if not as_root:
        result = await ctx.probe(f"test {kind} {quote(path)}")
        return result.ok
    result = await ctx.probe(privileged_script(
        f"if [ {kind} {quote(path)} ]; then echo yes; else echo no; fi", ctx.settings.host.sudo))
    answer = result.stdout.strip()
    if not result.ok or answer not in ("yes", "no"):
        raise _cannot(("look for", "changed"), f"{path} on the host", result)
    return answer == "yes"


async def host_boot_clock(ctx: Ctx) -> tuple[str | None, float | None]:
    """The host's boot (its id) and the seconds since it: a clock of the
    host's that no one sets, against which a process's start (/proc) is told
    without any wall clock, this machine's or the host's (review 58a L4).
    (None, None) where the host does not say."""
    result = await ctx.probe("cat /proc/sys/kernel/random/boot_id && cut -d' ' -f1 /proc/uptime")
    words = result.stdout.split()
    if not result.ok or len(words) != 2:
        return None, None
    try:
        return words[0], float(words[1])
    except ValueError:
        return None, None


async def started_since_boot(ctx: Ctx, pids: list[int]) -> tuple[str | None, dict[int, float]]:
    """The host's boot (its id) and when each of `pids` started, in seconds
    since it (/proc/PID/stat's start in clock ticks); a process gone or not
    read is left out."""
    result = await ctx.probe(
        "cat /proc/sys/kernel/random/boot_id && getconf CLK_TCK && "
        f"for p in {' '.join(map(str, pids))}; do "
        "printf '%s ' \"$p\"; sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -d' ' -f20; "
        "echo; done")
    lines = result.stdout.splitlines()
    if not result.ok or len(lines) < 2 or not lines[1].strip().isdigit():
        return None, {}
    tick, started = int(lines[1].strip()), {}
    for line in lines[2:]:
        words = line.split()
        if tick > 0 and len(words) == 2 and words[0].isdigit() and words[1].isdigit():
            started[int(words[0])] = int(words[1]) / tick
    return lines[0].strip() or None, started



async def started_after_promote(ctx: Ctx, listing: tuple[list[JavaProcess], str | None],
                                new: str | None) -> list[JavaProcess]:
    """Of one java_processes listing, the servers running from the new
    install `new`. One placed there only by its -Dred5.root path (working
    directory /: started by hand, or by a jsvc without -cwd) is the new
    release's only if it started after promote-new: before, that path named
    the old install, and the server is the old one (step review: the way back
    from before stop-service stopped and killed it, one restart more in the
    downtime, said to be the new release's). A reboot's start of the new
    release, or start-service's, comes after. Told on the host's boot clock
    alone (review 58a L4: this machine's clock, stepped back, made a new
    server look started before promote-new)."""
    found = running_from(listing, new)
    by_path = [proc.pid for proc in found if proc.cwd in (None, listing[1])]
    boot, promoted = ctx.facts.promoted_boot, ctx.facts.promoted_uptime
    if boot is None or promoted is None or not by_path:
        return found  # when is not known (an older journal): every one counts
    now_boot, started = await started_since_boot(ctx, by_path)
    if now_boot != boot:
        return found  # booted since promote-new (or not told): started after it
    # Old only when surely started before: one in doubt counts as new, which
    # costs the old server a restart, where passing a new one over would
    # leave it running as the way back moves its tree.
    return [proc for proc in found if proc.pid not in by_path
            or started.get(proc.pid, promoted) + _TICK_SLACK_S >= promoted]


# How closely /proc tells a process's start (clock ticks, a hundredth of a
# second on Linux) from the uptime promote-new read.
_TICK_SLACK_S = 0.02

async def unit_not_loaded(ctx: Ctx) -> str | None:
    """Why systemd may not run the red5pro unit as it is on disk now, or None
    when it does. Read from systemd's NeedDaemonReload property, not from the
    words of `systemctl status` (review 58a L3: a status that could not be
    read had none of them, and a unit never reloaded read as loaded). An
    answer that cannot be read counts as not loaded: one reload more is
    harmless, a unit taken for loaded is not."""
    # NAME=VALUE, not --value: systemd before 230 has no --value.
    result = await ctx.probe(root(ctx, "systemctl show -p NeedDaemonReload red5pro"))
    answer = result.stdout.strip()
    if result.ok and answer == "NeedDaemonReload=no":
        return None
    if result.ok and answer == "NeedDaemonReload=yes":
        return "systemd has not loaded the unit file as it is now (it needs a daemon-reload)"
    return ("systemd did not say whether it loaded the unit file as it is now: "
            f"{result.last_error_line() or answer or 'no answer'}")


def read_bytes_command(p: AnyContext, path: str) -> str:
    """The look that reads a file's bytes exactly: a command's output comes back
    as UTF-8 text, where a byte that is not UTF-8 would turn into U+FFFD."""
    return root(p, f"base64 -w 0 -- {quote(path)}")


def read_as_it_was_command(p: AnyContext, path: str) -> str:
    """The look that reads `path` as it was before runbook first replaced it:
    the copy that write kept beside it, else the file itself, not written yet.
    One command, so the plan shows what runs. A kept copy that is no file (a
    directory) fails the read: the file in its place would be the merge."""
    kept, where = quote(path + AS_IT_WAS), quote(path)
    return privileged_script(f"if [ -e {kept} ]; then exec base64 -w 0 -- {kept}; fi; "
                             f"exec base64 -w 0 -- {where}", p.settings.host.sudo)


async def read_remote_bytes(ctx: Ctx, path: str, command: str | None = None) -> bytes:
    """`path`'s bytes, read by `command` (default: read_bytes_command)."""
    result = await ctx.probe(command or read_bytes_command(ctx, path))
    if not result.ok:
        raise _cannot_read(path, result)
    try:
        return base64.b64decode(result.stdout.strip(), validate=True)
    except binascii.Error:
        raise StepFailed(f"the host's base64 of {path} is not base64; read the file by "
                         "hand to see what the host printed") from None


async def read_properties(ctx: Ctx, path: str) -> dict[str, str]:
    """A red5-web.properties on the host, key by key, as the stream manager reads it:
    Java's Properties takes each byte as ISO-8859-1, so a value beyond ASCII (a
    password, say) is the one the live stream manager runs with, and the same one
    the properties step and `runbook diff` read. A file Java would misread (a byte
    order mark, binary bytes) fails the step in one line."""
    import javaproperties  # here: the procedure is built before the first paint

    from runbook.properties import PropertiesError, decode_properties

    try:
        text = decode_properties(await read_remote_bytes(ctx, path), path)
    except PropertiesError as exc:
        raise StepFailed(str(exc)) from None
    return dict(javaproperties.loads(text))


async def kept_otherwise(ctx: Ctx, path: str, like: str) -> str | None:
    """How `path` is kept otherwise than `like` (owner, group, mode), which a
    file carrying `like`'s secrets is written to match; None when alike. A
    merge written by a runbook before that took the template's 0644, and its
    content alone read as done (second review)."""
    found = await ctx.probe(root(ctx, f"stat -L -c '%u:%g:%a' -- {quote(path)} {quote(like)}"))
    kept = found.stdout.split()
    if not found.ok or len(kept) != 2:
        raise StepFailed(f"cannot tell the owner and mode of {path} and {like}: "
                         f"{found.last_error_line() or 'stat printed nothing'}")
    if kept[0] == kept[1]:
        return None
    return (f"{path} is kept as {kept[0]} (owner:group:mode), the live file as {kept[1]}: "
            "it carries the live file's secrets, so it is written again as the live file is")


async def mask_licences(ctx: Ctx, *folders: str) -> None:
    """Mask the LICENSE.KEY value of each install folder from here on: the
    real server writes it in the clear near the top of red5.log as it starts
    (6.2.0's and 5.1.1's logs, line 5), and runbook shows the end of that log
    when a start fails (facts audit 56a M1). Read by root, not journalled; a
    folder with no key to read is passed over (the steps that need one say so)."""
    for folder in folders:
        path = quote(f"{folder}/LICENSE.KEY")
        found = await ctx.probe(root(ctx, f"cat -- {path}"))
        if found.ok:
            for line in found.stdout.splitlines():
                ctx.add_secret(line.strip())


def register_secrets(ctx: Ctx, props: dict[str, str]) -> None:
    """Mask from here on each value of a red5-web.properties whose key says it
    is a secret (config.dbPass, aws.accessSecret, ...): preflight's and the
    way back's reads alike, as a server's log may quote one (review 61, F4)."""
    for key, value in props.items():
        if is_secret_key(key):
            ctx.add_secret(value, name=key)


async def mask_install_secrets(ctx: Ctx, *folders: str) -> None:
    """Mask from here on the secrets of each install folder: its LICENSE.KEY
    and its red5-web.properties' secret values. For `runbook rollback`, which
    runs none of the steps that read them, before it shows a server's log or
    systemd's status (review 61, F4). A file that cannot be read is passed
    over: the steps that need it say so."""
    await mask_licences(ctx, *folders)
    for folder in folders:
        try:
            props = await read_properties(ctx, f"{folder}/{red5.PROPERTIES}")
        except (RemoteError, StepFailed):
            continue
        register_secrets(ctx, props)


async def read_remote(ctx: Ctx, path: str) -> str:
    result = await ctx.probe(root(ctx, f"cat -- {quote(path)}"))
    if not result.ok:
        raise _cannot_read(path, result)
    return result.stdout


def _cannot_read(path: str, result: CommandResult) -> StepFailed:
    return _cannot(("read", "read"), f"{path} on the host", result)


def _cannot(doing: tuple[str, str], what: str, result: CommandResult) -> StepFailed:
    """Why a look as root could not do `what` (`doing`: the verb, and as
    done); where sudo refused, what the SSH user needs, as a refused command
    says it (operator trial: the refusal alone, for a file read and for the
    process listing)."""
    said, (verb, done) = result.last_error_line(), doing
    if not said.startswith("sudo: "):
        return StepFailed(f"cannot {verb} {what}: {said}")
    return StepFailed(f"cannot {verb} {what}: sudo refused ({said.removeprefix('sudo: ')}), "
                      f"so nothing was {done}. The SSH user needs password-less sudo on the "
                      "host: once it has it again, try the step again")


async def install_version(ctx: Ctx, folder: str) -> str | None:
    """The release installed in `folder`: its conf/red5.ini's server.version,
    as Red5's installer reads it, else its marker, else its lib jar."""
    result, lib, ini = await together(
        ctx.probe(f"ls -1 -- {quote(folder)} 2>/dev/null"),
        ctx.probe(f"ls -1 -- {quote(folder + '/lib')} 2>/dev/null"),
        ctx.probe(f"cat -- {quote(folder + '/conf/red5.ini')} 2>/dev/null"))
    if not result.ok:
        return None
    return red5.installed_version(result.stdout.splitlines(), lib.stdout.splitlines(),
                                  ini.stdout if ini.ok else None)


def being_deleted(group: dict[str, Any]) -> bool:
    """A DELETE has reached this nodegroup: with nodes, it answers "state":
    "terminating" and stays listed until the cloud has taken them down
    (FACTS-scenarios section 4, "Delete nodegroup"; group states NEW, ACTIVE,
    TERMINATING, INITIALIZING). Another DELETE of it answers 404."""
    return str(group.get("state", "")).lower() == "terminating"


def origins_of(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The origins among a nodegroup's nodes, whatever their state."""
    return [node for node in nodes if node.get("role") == "origin"]


def state_of(node: dict[str, Any]) -> str:
    """A node's state in lower case: the 4.0 docs write "inservice", 6.2.0's
    enum INSERVICE (FACTS-scenarios section 4)."""
    return str(node.get("state") or "").lower()


def snapshot(p: AnyContext) -> Snapshot | None:
    """The fleet snapshot this run deletes and rebuilds from.

    Once a cutover began on the host, that is the snapshot taken before its
    first action, whatever this run has learnt since (a re-export would only
    see the emptied system). Before that, the one export-config took in this
    run: named by the facts, or found by its journal when the facts record
    was lost in a crash."""
    state = p.host_state
    if state is None:
        return None
    if state.cutover() is not None:
        return state.before_cutover()
    # The rule the cutover's record goes by as it begins (review 58a, M2).
    found = state.run_snapshot(p.journal_path, p.facts.snapshot_in_use())
    return state.load(found) if found is not None else None


def no_snapshot(p: AnyContext) -> str:
    """Why a step has no snapshot to rebuild from: the file the cutover's
    record names, to put back (review 58a, L7), or the one the journal names,
    saved on another machine, to copy beside the journal (trial 62, F4: a
    colleague going on with a copy of it was told neither)."""
    said = "there is no snapshot from export-config to rebuild from"
    state = p.host_state
    where = state.snapshot_not_here(p.journal_path, p.facts.snapshot_in_use()) \
        if state is not None and p.journal_path is not None else None
    return f"{said}: {where}, then try again" if where is not None else said


def load_snapshot(p: AnyContext) -> dict[str, Any] | None:
    found = snapshot(p)
    return found.data if found is not None else None


# One listing of every java process with the identity of its working
# directory and of the folder its -Dred5.root names (device:inode, so a
# symlink or a rename cannot disguise a folder). Run as root: /proc/PID/cwd of
# a root service is not readable to anyone else. A server is a command line
# naming java, jsvc.exec (under a jsvc unit the JVM runs inside jsvc.exec,
# whose arguments name java only where the JDK's folder does: not
# /opt/jdk-11; FACTS §3 marks "java" an inference) or -Dred5.root= (facts
# audit 61, F12). Not "jsvc" alone: a `tail log/jsvc-error.log` in the install
# is no server. "[j]ava", "[j]svc[.]exec" and "[-]Dred5[.]root=" keep the
# listing's own shell out of its output; so does $k, which spells
# -Dred5.root= in two pieces. The folder is the word after its last
# -Dred5.root=, looked for word by word (set -f: a classpath's lib/* stays
# as written), not cut out of the line with ${a##*$k}: sh matches that, and
# any ${a#...}, against every prefix of the line in turn, its length squared,
# seconds for a long classpath at each listing (issue 12). A fixed number of
# processes whatever the host runs: one grep prints the command line of each
# process that names one (its NULs made spaces by one tr), one stat names
# every folder. Cutover lists them
# about ten times while the stream manager is down; a fork or two per process
# was most of each listing. (Not pgrep -f: procps 3.3 matches only a command
# line's first 4 KiB, and a jsvc line with a long classpath can name java only
# after that.) Lines: "/" first, then P<TAB>pid<TAB>red5.root<TAB>command line
# for each process, then S<TAB>path<TAB>identity for each folder found. $m
# keeps the pids printed, for the unit's look (unit_processes_script).
def _listing(unit_look: str = "") -> str:
    keep, kept = ("m=; ", "m=\"$m $d \"; ") if unit_look else ("", "")
    return (  # double quotes only: shown inside sh -c '...', it reads as written
        "stat -L -c %d:%i /; "
        "k=-Dred5.roo; k=${k}t=; "
        "grep -Hsa -e \"[j]ava\" -e \"[j]svc[.]exec\" -e \"[-]Dred5[.]root=\" /proc/[0-9]*/cmdline "
        "| tr \"\\0\" \" \" | { set -f; IFS=\" \"; " + keep +
        "while IFS= read -r l; do d=${l%%/cmdline:*}; d=${d#/proc/}; a=${l#*/cmdline:}; "
        "case $d in \"\"|*[!0-9]*) continue ;; esac; "
        "r=; case $a in *\"$k\"*) for w in $a; do case $w in *\"$k\"*) "
        "t=${w%\"$k\"*}; r=${w#\"$t$k\"} ;; esac; done ;; esac; "
        "printf \"P\\t%s\\t%s\\t%s\\n\" \"$d\" \"$r\" \"$a\"; " + kept +
        "set -- \"$@\" \"/proc/$d/cwd\"; [ -n \"$r\" ] && set -- \"$@\" \"$r\"; done; "
        + unit_look +
        "[ $# -eq 0 ] || stat -L --printf \"S\\t%n\\t%d:%i\\n\" -- \"$@\" 2>/dev/null; true; }"
    )


_JAVA_PROCESSES = _listing()

def unit_processes_script(cgroup_root: str, unit: str = "red5pro") -> str:
    """The listing, with the processes of `unit`'s control group: a server
    the unit started is in it whatever its command line names (facts audit
    61, F12 follow-up), where the command-line match stays for one started by
    hand (the procedure's "kill the running server"). systemd names the group
    (`systemctl show -p ControlGroup`: empty for a unit with none, "/" for the
    root group, whose every process is no server: neither is read), and its
    cgroup.procs lists the pids in it, one a line, a pid perhaps twice (the
    kernel's cgroup-v2 doc), under `cgroup_root` (Settings.cgroup_root):
    cgroup v2's tree, else the hybrid layout's unified/ or the legacy
    layout's name=systemd tree, systemd/ (systemd.io CGROUP_DELEGATION,
    "Three Different Tree Setups"). In the same script, so no round trip more: one
    systemctl, and where the group holds a process the match missed, one grep
    for their command lines. Added lines: C<TAB>group, G<TAB>pid for each pid
    in it, Q<TAB>pid<TAB><TAB>command line for each the match missed."""
    root = quote(cgroup_root.rstrip("/") or "/")
    return _listing(
        f"c=$(systemctl show -p ControlGroup {quote(unit)} 2>/dev/null); "
        "c=${c#ControlGroup=}; n=; "
        f"case $c in /?*) for f in {root}\"$c\" {root}/unified\"$c\" {root}/systemd\"$c\"; do "
        "[ -r \"$f/cgroup.procs\" ] || continue; printf \"C\\t%s\\n\" \"$c\"; "
        "while read -r g; do case $g in \"\"|*[!0-9]*) continue ;; esac; "
        "printf \"G\\t%s\\n\" \"$g\"; case \"$m\" in *\" $g \"*) ;; "
        "*) m=\"$m $g \"; n=\"$n /proc/$g/cmdline\"; set -- \"$@\" \"/proc/$g/cwd\" ;; esac; "
        "done < \"$f/cgroup.procs\"; break; done ;; esac; "
        "[ -z \"$n\" ] || grep -Hsa \"\" $n | tr \"\\0\" \" \" | while IFS= read -r l; do "
        "d=${l%%/cmdline:*}; d=${d#/proc/}; case $d in \"\"|*[!0-9]*) continue ;; esac; "
        "printf \"Q\\t%s\\t\\t%s\\n\" \"$d\" \"${l#*/cmdline:}\"; done; ")


@dataclass(frozen=True)
class JavaProcess:
    """A running Java process, and the folders it runs from (device:inode)."""
    pid: int
    cwd: str | None  # device:inode of its working directory
    red5_root: str | None  # device:inode of the folder -Dred5.root names
    args: str
    # The unit's control group, where the listing looked there and found it in
    # it (unit_processes_script); None otherwise.
    unit_group: str | None = None
    # Its command line names java, jsvc.exec or -Dred5.root=; False for one
    # found in the unit's control group only.
    named: bool = True


def java_processes_command(p: AnyContext, *, unit: bool = False) -> str:
    """The listing as root; `unit`: with the red5pro unit's control group."""
    script = unit_processes_script(p.settings.cgroup_root) if unit else _JAVA_PROCESSES
    return privileged_script(script, p.settings.host.sudo)


async def java_processes(ctx: Ctx, *, unit: bool = False) -> tuple[list[JavaProcess], str | None]:
    """Every java process on the host, and the identity of / (to tell a
    daemon that never changed its working directory); `unit`: and every
    process of the red5pro unit's control group."""
    result = await ctx.probe(java_processes_command(ctx, unit=unit))
    if not result.ok:
        raise _cannot(("list", "listed"), "the host's processes", result)
    listing = parse_java_processes(result.stdout)
    for process in listing[0]:
        for secret in command_line_secrets(process.args):
            # Masked wherever the command line is shown or kept.
            ctx.add_secret(secret, name=f"a setting on pid {process.pid}'s command line")
    return listing


def parse_java_processes(output: str) -> tuple[list[JavaProcess], str | None]:
    """What the listing script printed, as processes and the identity of /.
    A pid of the unit's group with no command line left (gone meanwhile) is
    not a process."""
    lines = output.splitlines()
    slash = lines[0].strip() if lines else None
    listed: dict[str, tuple[str, str, bool]] = {}
    ids: dict[str, str] = {}
    group: str | None = None
    grouped: set[str] = set()
    for line in lines[1:]:
        kind, _, rest = line.partition("\t")
        if kind in ("P", "Q"):
            pid, root_path, args = [*rest.split("\t", 2), "", ""][:3]
            if pid.isdigit() and pid not in listed:
                listed[pid] = (root_path, args, kind == "P")
        elif kind == "S":
            path, _, identity = rest.rpartition("\t")
            ids[path] = identity
        elif kind == "C":
            group = rest
        elif kind == "G" and rest.isdigit():
            grouped.add(rest)
    found = [JavaProcess(int(pid), ids.get(f"/proc/{pid}/cwd"),
                         ids.get(root_path) if root_path else None, args.strip(),
                         group if pid in grouped else None, named)
             for pid, (root_path, args, named) in listed.items()]
    return found, slash


async def folder_id(ctx: Ctx, path: str) -> str | None:
    """device:inode of `path` when it is a folder (following symlinks); None
    when nothing or something else is there. One look, not a test then a stat:
    the cutover's renames ask it in the downtime."""
    result = await ctx.probe(f"test -d {quote(path)} && stat -L -c %d:%i -- {quote(path)}")
    return result.stdout.strip() if result.ok and result.stdout.strip() else None


async def red5_processes(ctx: Ctx, tree: str | None) -> list[JavaProcess]:
    """The java processes running from the folder whose identity is `tree`.

    A server's working directory is its install folder (jsvc -cwd, red5.sh),
    and it stays that folder whatever it is renamed to or reached through. The
    red5.root path is text, and after cutover's renames it names the other
    tree, so it is trusted only for a process whose working directory says
    nothing (still /)."""
    if tree is None:
        return []
    return running_from(await java_processes(ctx), tree)


def running_from(listing: tuple[list[JavaProcess], str | None],
                 tree: str | None) -> list[JavaProcess]:
    """Of one java_processes listing, those running from the folder `tree`
    (see red5_processes)."""
    found, slash = listing
    if tree is None:
        return []
    ours = []
    for process in found:
        if process.cwd is not None and process.cwd != slash:
            if process.cwd == tree:
                ours.append(process)
        elif process.red5_root == tree:
            ours.append(process)
    return ours


async def old_tree(ctx: Ctx) -> str | None:
    """Identity of the live install preflight found, wherever it is now."""
    known = ctx.facts.live_tree
    if known:
        return str(known)
    old, _new = await trees(ctx)
    return await folder_id(ctx, old)


async def new_tree(ctx: Ctx) -> str | None:
    """Identity of the unpacked new release, wherever it is now."""
    known = ctx.facts.new_tree
    if known:
        return str(known)
    _old, new = await trees(ctx)
    found = await folder_id(ctx, new)
    if found is not None and await install_version(ctx, new) == ctx.facts.new_version:
        ctx.facts.new_tree = found
    return found


def tokens_of(props: dict[str, str]) -> list[str]:
    """rest.administratorToken as Java's Properties reads it (trailing blanks
    kept, and sent so in ?accessToken=): 6.2.0 compares the token given with
    it exactly, no trim (facts audit 61, F5; the trimmed form, taken here
    since review 54b L3, met a 401); blank: none."""
    value = props.get("rest.administratorToken", "")
    return [value] if value.strip() else []


def token_refusal(ctx: Ctx, tokens: list[str], where: str, stands: str, again: str) -> str | None:
    """Why the token given is not one of `tokens` (those of the file at
    `where`, the serving install's), or None where it is. Compared in
    constant time; neither is shown. The same words for preflight and the
    way back (trial 54 F28, review 54b H1), naming the file read by its path:
    on the way back it is bak.red5pro's, or red5pro's once more, not the
    live file it was called."""
    s = ctx.settings
    if any(token and ctx.token_is(token) for token in tokens):
        return None
    if any(token != token.rstrip() and ctx.token_is(token.rstrip()) for token in tokens):
        return (f"rest.administratorToken in {where} ends in blanks that the token given "
                "lacks, and the stream manager compares them exactly: give the token with "
                f"those blanks (nothing was sent to the API, and {stands})")
    given = f"${s.token_env}"
    config = os.path.abspath(s.source)
    if s.token_typed:
        # Typed at the prompt, its variable not set (trial 60, F13): no
        # export to look for.
        token, to_do = "the API token you typed", (
            f"give [api] base_url this host's stream manager, then {again} and type the "
            f"rest.administratorToken in that file at its prompt (or export "
            f"{s.token_env}=... with it first)")
    else:
        token, to_do = f"the API token given ({given})", (
            f"give [api] base_url this host's stream manager and {given} the "
            f"rest.administratorToken in that file, then {again}")
    return (f"{token} is not the rest.administratorToken in {where}: the token is wrong, or "
            f"[api] base_url in {config} ({s.api_base_url}) points at another stream manager, "
            f"and the token is that one's. Nothing was sent to the API, and {stands}; {to_do}")


async def prove_token(ctx: Ctx, folder: str, stands: str, again: str) -> None:
    """Before a step of the way back sends anything: the token given is the
    rest.administratorToken of the install in `folder`, the one that serves
    then (review 54b H1: `runbook rollback` with another stream manager's
    base_url and token deleted that one's nodegroups)."""
    where = f"{folder}/{red5.PROPERTIES}"
    try:
        props = await read_properties(ctx, where)
    except RemoteError as exc:
        raise StepFailed(f"could not read {where} to prove the API token is this host's "
                         f"({str(exc).rstrip('.')}); nothing was sent to the API, and "
                         f"{stands}; see that the file is there and readable, then "
                         f"{again}") from None
    # The file's other secrets too (review 61, F4): the way back alone reads
    # no other, and shows red5.log's and systemd's lines.
    register_secrets(ctx, props)
    tokens = tokens_of(props)
    for token in tokens:
        ctx.add_secret(token, name="rest.administratorToken")
    refused = token_refusal(ctx, tokens, where, stands, again)
    if refused:
        # The token is read once, as runbook starts: no try again in this
        # run can mend it (trial 56 F3).
        raise NotInThisRun(refused)
