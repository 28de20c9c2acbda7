"""The host's own mark that a runbook is working on it.

The lock in the state folder (HostState.held) keeps a second runbook of this
account off a host; a colleague's runbook, on another machine or another
account, never sees it (operator trial 59, F1: a second operator took the
first's half-done cutover for the live install and broke it). So each run
also claims the host itself: a folder made with ``mkdir``, which only one can
make, holding who made it (login, machine, pid, journal, since when; never a
secret), and which machine beyond its name (its machine id) and which boot
of it (its boot id): a pid says nothing of a machine started again since.

The claim is the stream manager install's, whatever the SSH login (trial 60,
F12: in the SSH user's ``~/.runbook/run.lock`` it stopped no colleague who
logged in as another user). It lies beside the install, in the folder that
holds red5pro (install.dir) on its real path (links resolved, so two configs
naming it two ways share one claim): ``.runbook-claim`` there, made by root
through sudo, as every change of the upgrade is. Not inside red5pro, which
the cutover moves aside; not in /run, which a reboot empties (a claim kept
for a cutover under way must outlast one); not in a folder of runbook's own
(/var/lib), where two installs on one host would share one claim: install.dir
is what every config of that install names and every login sees. A claim an
older runbook left in the SSH user's ``~/.runbook/run.lock`` is read, and
honoured as any claim, but never written: a run that may take it over removes
it once the install's claim is its own (as its own run would have at its end),
not before: a run refused there leaves it as it was.

The claim is taken before a run's first step touches the host, re-taken by
the same run resumed (the same journal on the same machine), and let go when
the run ends, unless it ends with a cutover under way: then no other run may
enter it, and the claim says so (when that cutover began). A run found gone
(its pid no longer runs on this machine, for this login, or this machine was
started again since) leaves a claim that is taken over, and said; one of
another machine (another name, or another machine id) only with
--take-over-host.
A claim kept for a cutover under way is neither: only a run that goes on with
that cutover (its journal resumed, or its way back, from a copy too) may take
it, as its own or with --take-over-host (review 60a, F10 and F1).

Pure shell text and parsing, plus the two calls that send it; the executor
decides when.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from shlex import quote
from typing import TYPE_CHECKING

from runbook.config import ConfigError
from runbook.model import CLAIM_LEFT as CLAIM_LEFT
from runbook.model import duration
from runbook.shell import answer_after

if TYPE_CHECKING:
    from collections.abc import Callable

    from runbook.config import Settings
    from runbook.remote import Remote
    from runbook.shell import CommandResult

# The claim's folder, in install.dir beside red5pro.
NAME = ".runbook-claim"
# Set by Place.command: the claim folder on the install's real path, and an
# older runbook's claim in the SSH user's home (expanded by that user's shell).
_LOCK = '"$L"'
# What every answer of a claim's command begins with, on a line of its own:
# read from the last such line, as every answer of runbook's own is
# (shell.answer_after): a login shell may print a banner first (review 62, G3).
ANSWER = "runbook-claim"
_OLD = '"$O"'
LEGACY = "~/.runbook/run.lock"
# Every look and change here is small; the host bounds it, and so does the client.
TIMEOUT_S = 20.0
_FIELDS = ("login", "machine", "pid", "journal", "since")
# Which machine, and which boot of it, beyond its hostname (review 62, G4:
# cloned jump boxes and containers share one name); older holders lack them.
_MACHINE = ("machine_id", "boot_id")
# Written only on a claim kept for a cutover under way; older holders lack it.
_CUTOVER = "cutover"
# Where this machine keeps its id (systemd's, else D-Bus's), and its boot's.
_MACHINE_ID = ("/etc/machine-id", "/var/lib/dbus/machine-id")
_BOOT_ID = "/proc/sys/kernel/random/boot_id"
# With it, the fleet snapshot that cutover rebuilds from, as a path on the
# holder's machine: a colleague told to go on there with a copy of the
# journal needs it too (trial 62, F4).
_SNAPSHOT = "snapshot"
# The SSH login on the host; older holders lack it.
_SSH_USER = "ssh_user"


# The journal's note of a claim taken from another run (the record's kind).
TAKEN_OVER = "host-claim"


@dataclass(frozen=True)
class TakenOver:
    """Another run's claim this run took: what to say of it, and whose it
    was (login on machine, or "" where its holder could not be read)."""

    said: str
    whose: str


@dataclass(frozen=True)
class Place:
    """Where an install's claim lies: `install_dir` (the config's install.dir,
    which holds red5pro), reached as root through sudo unless `sudo` is off
    (the SSH user is root)."""

    install_dir: str
    sudo: bool = True

    @classmethod
    def of(cls, settings: Settings) -> Place:
        return cls(settings.install_dir, settings.host.sudo)

    @property
    def where(self) -> str:
        """The claim as the operator names it."""
        return f"{self.install_dir.rstrip('/')}/{NAME}"

    def link_refusal(self) -> str:
        """Why nothing is done where the claim folder is a link: runbook never
        makes one, and root would write, and remove, where it leads."""
        command = f"rm {quote(self.where)}"
        command = f"sudo {command}" if self.sudo else command
        return (f"{self.where} on the host is a link, not the folder runbook makes for its "
                "claim, and root would write where it leads. Nothing was changed: look at "
                f"where it leads and who made it, remove the link ({command}), then run again")

    def file_refusal(self) -> str:
        """Why nothing is done where the claim's name is a plain file: runbook
        makes a folder there, never a file (operator trial 62, F8)."""
        command = f"rm {quote(self.where)}"
        command = f"sudo {command}" if self.sudo else command
        return (f"{self.where} on the host is a file, not the folder runbook makes for its "
                "claim. Nothing was changed: look at it (what it holds, who made it), remove "
                f"it ({command}), then run again")

    @property
    def removal(self) -> str:
        """The command that removes the claim by hand, as root: through sudo,
        or as the SSH user where that is root (host.sudo = false: a root
        login that may have no sudo at all; review 61b, F9)."""
        command = f"rm -r {quote(self.where)}"
        return f"sudo {command}" if self.sudo else command

    def command(self, script: str) -> str:
        """`script` run as root with $L the claim folder on the install's real
        path and $O an older runbook's claim in the SSH user's home; `nodir`
        where install.dir is no folder, `link` where the claim folder is a
        link (exit 1). Where sudo refuses, nothing runs."""
        prologue = ('L=$(cd -P -- "$1" 2>/dev/null && pwd -P) || '
                    f'{{ {_say("nodir")}; exit 0; }}; '
                    f'L="${{L%/}}/{NAME}"; O="$2"; umask 077; '
                    # A link there would have root write (and the release
                    # remove) where it leads (review 62, G5): nothing is done.
                    f'if [ -L "$L" ]; then {_say("link")}; exit 1; fi; '
                    # A file there (made by hand) is no claim runbook made:
                    # mkdir's "File exists" alone said nothing (trial 62, F8).
                    f'if [ -e "$L" ] && [ ! -d "$L" ]; then {_say("file")}; exit 1; fi; ')
        run = (f"sh -c {quote(prologue + script)} sh {quote(self.install_dir)} "
               f'"$HOME/.runbook/run.lock"')
        return f"sudo -n {run}" if self.sudo else run


class ClaimRefused(ConfigError):
    """The run may not go on for the host's claim: nothing was changed; one
    line saying why and what to do (exit 2, a refusal as a config's is).
    For the exit lines after it (trial 62, F6: they named the command just
    refused): `when` the same command will work, and `take_over`, whether
    only with --take-over-host."""

    when = "once that is fixed"

    def __init__(self, target: str, message: str, *, when: str | None = None,
                 take_over: bool = False) -> None:
        super().__init__(target, message)
        self.said = message
        self.when = when or self.when
        self.take_over = take_over
        # Said already, by the exit lines that follow it (cli.lifecycle).
        self.told = False


class HostClaimed(ClaimRefused):
    """Another run has claimed the host: nothing was changed; one line naming
    that run and what to do."""

    when = "once that run has ended"


class ClaimTaken(HostClaimed):
    """Another run took this run's claim while it ran (--take-over-host): the
    steps this run did before stand; the step about to start did not."""


@dataclass(frozen=True)
class Claim:
    """A run's claim on the host, as its holder file says it: who (login,
    machine, pid), which journal, and since when; never a secret."""

    login: str
    machine: str
    pid: int
    journal: str
    since: str
    # When the cutover this run began or goes on with began (the journal's
    # cutover-start), once it is under way; empty before.
    cutover: str = ""
    # The machine's id and its boot's, where it says them; empty in a holder
    # an older runbook wrote, which is then told apart by hostname alone.
    machine_id: str = ""
    boot_id: str = ""
    # The fleet snapshot that cutover rebuilds from, on the holder's machine;
    # empty before the cutover, and in older holders.
    snapshot: str = ""
    # The SSH login the run works on the host as: on a shared jump box every
    # operator may be root there (trial 62, F9); empty in older holders.
    ssh_user: str = ""

    def same_machine(self, other: Claim) -> bool:
        """Whether `other` was made on this claim's machine: its hostname, and
        its machine id where both say one. By hostname alone, a live run of
        another machine of the same name (cloned jump boxes, containers given
        one --hostname) was a gone run of this one, taken over unasked
        (review 62, G4)."""
        if self.machine != other.machine:
            return False
        return not (self.machine_id and other.machine_id) or self.machine_id == other.machine_id

    def _booted_since(self, mine: Claim) -> bool:
        """Whether this machine was started again since this claim was made
        on it: its process is gone then, whatever runs at its pid now."""
        return bool(self.boot_id and mine.boot_id) and self.boot_id != mine.boot_id
    def same_run(self, other: Claim, continues: str | None = None) -> bool:
        """The same run however often resumed: its journal, on the same
        machine; or the run `continues` names (a journal this one goes on
        from: `runbook rollback` of a cut-off cutover)."""
        return self.same_machine(other) and self.login == other.login and (
            self.journal in (other.journal, continues))

    def gone(self, mine: Claim) -> bool:
        """Whether the run that made this claim surely runs no more: one of this
        machine and login whose process is gone. Never one kept for a cutover
        under way, but by a run that goes on with that cutover: another state
        folder of this login has no record of it, and a machine of the same
        name is not this one (review 60a, F1)."""
        if not self.same_machine(mine) or self.login != mine.login:
            return False
        if self.cutover and self.cutover != mine.cutover:
            return False
        if self._booted_since(mine):
            return True
        if self.pid <= 0 or self.pid == mine.pid:
            return False
        return not _runbook_runs(self.pid)

    def runs_here(self, mine: Claim) -> bool:
        """Whether the run that made this claim is seen running on this
        machine: its pid alive here, whoever's it is. Such a run is not gone,
        whatever --take-over-host says (trial 60, F5: taken, it was never told
        and went on beside the taker)."""
        if not self.same_machine(mine) or self._booted_since(mine) or self.pid <= 0 \
                or self.pid == mine.pid:
            return False
        return _runbook_runs(self.pid)

    def text(self) -> str:
        keys = [*_FIELDS, *(key for key in (*_MACHINE, _CUTOVER, _SSH_USER)
                            if getattr(self, key))]
        keys += [_SNAPSHOT] if self.cutover and self.snapshot else []
        return "".join(f"{key}={_one_line(str(getattr(self, key)))}\n" for key in keys)

    def who(self) -> str:
        ssh = f", SSH login {self.ssh_user}" if self.ssh_user and self.ssh_user != self.login \
            else ""
        return f"{self.login} on {self.machine}{ssh}"

    def described(self) -> str:
        return (f"{self.who()} (pid {self.pid}), since {_since(self.since)}, "
                f"journal {self.journal}")


def _runbook_runs(pid: int) -> bool:
    """Whether a runbook runs as `pid` on this machine: a live pid whose
    command line names runbook. A pid given to another program since (a run
    killed, the machine rebooted) is not one (review 60c, F2: a bare live pid
    blocked the host for good, --take-over-host too). Where the command line
    cannot be read (no /proc, another user's process), a live pid counts."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # there, as another user's
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"runbook" in cmdline.read()
    except FileNotFoundError:
        return not os.path.isdir("/proc/self")  # ended meanwhile, or no /proc at all
    except OSError:
        return True


def _same_moment(one: str, other: str) -> bool:
    """Whether two times runbook wrote (ISO) are one moment, however each
    spells its zone; as written where either cannot be read."""
    try:
        return datetime.fromisoformat(one) == datetime.fromisoformat(other)
    except (ValueError, TypeError):
        return one == other


@dataclass(frozen=True)
class Ended:
    """A cutover a claim still marks that a journal here says ended: how
    ("upgraded", "rolled back") and which journal says so."""

    how: str
    journal: str


def cutover_ended(other: Claim, continues: str | None = None) -> Ended | None:
    """Where the cutover `other` marks ended, as its journal on this machine
    says (the path its holder names: this machine's, or a shared home's), or
    the copy this run goes on from (`continues`): the claim is then a
    finished run's left behind (its end could not let it go: sudo lost, the
    connection gone), not a cutover under way (operator trial 62, F1: it
    read 'may be down' and locked the host for everyone, --take-over-host
    too, though the stream manager served). Only a journal of that very
    cutover counts (its start the moment the claim names); None where none
    here says it ended."""
    # Here, not at the top: the steps import this module for their cards
    # (test_cli_imports), and a journal is read only where a claim is found.
    from runbook.journal import JournalError
    from runbook.journal_replay import replay

    for path in dict.fromkeys(path for path in (other.journal, continues) if path):
        try:
            history = replay(Path(path))
        except (JournalError, OSError, ValueError):
            continue  # not here, not a journal, or damaged: it says nothing
        began = history.cutover_started
        if began is None or not _same_moment(began, other.cutover):
            continue
        if history.ended_as is not None:
            return Ended("upgraded" if history.ended_as == "done" else "rolled back", path)
    return None


def _since(since: str) -> str:
    """When a claim was made, on this machine's clock, and how long ago (the
    other machine's clock may differ a little): whether that run is surely
    gone is the reader's to judge. As written where it cannot be read."""
    try:
        when = datetime.fromisoformat(since).astimezone()
    except (ValueError, OverflowError):
        return since
    now = datetime.now(UTC).astimezone()
    shown = when.strftime("%H:%M:%S" if when.date() == now.date() else "%Y-%m-%d %H:%M:%S")
    return f"{shown} ({duration((now - when).total_seconds())} ago)"


def _one_line(value: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", " ", value)


def _first_line(*paths: str) -> str:
    """The first line of the first of `paths` that says one; "" where none
    can be read (no systemd, no /proc: such a machine is told by its name)."""
    for path in paths:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            with open(path, encoding="ascii") as file:
                said = _one_line(file.readline().strip())
            if said:
                return said
    return ""


def mine(journal: str, ssh_user: str = "") -> Claim:
    # Here, not at the top: the steps import this module (sudo_trouble) for
    # their cards, before the first paint, which loads no password prompt
    # (issue 12; test_cli_imports).
    import getpass

    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = f"uid {os.getuid()}"
    return Claim(login, socket.gethostname(), os.getpid(), journal,
                 datetime.now(UTC).isoformat(timespec="seconds"),
                 machine_id=_first_line(*_MACHINE_ID), boot_id=_first_line(_BOOT_ID),
                 ssh_user=ssh_user)


def parse(text: str) -> Claim | None:
    """The claim in a holder file's text; None where it is not (yet) whole."""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip()
    if not all(key in fields for key in _FIELDS):
        return None
    try:
        pid = int(fields["pid"])
    except ValueError:
        pid = 0
    return Claim(fields["login"], fields["machine"], pid, fields["journal"], fields["since"],
                 fields.get(_CUTOVER, ""), fields.get("machine_id", ""),
                 fields.get("boot_id", ""), snapshot=fields.get(_SNAPSHOT, ""),
                 ssh_user=fields.get(_SSH_USER, ""))


def _say(word: str) -> str:
    """Shell: the answer `word`, after the marker every answer begins with."""
    return f"echo {ANSWER} {word}"


def answer_of(stdout: str) -> list[str]:
    """A claim command's answer in its `stdout`: its word (taken, held,
    legacy, mine, other, nodir), then the lines that follow it (a holder's
    text); [] where it gave none. What a login shell printed before it is
    not read (review 62, G3)."""
    answer = answer_after(stdout, ANSWER)
    if not answer:
        return []
    word = answer[0].split()[1:2]
    return [word[0] if word else "", *answer[1:]]


# The holder as one writer writes it, before it is moved into place: a name
# of that writer's own ($$, its shell's pid). With one name for all, a mark
# and a colleague's take-over each moved the other's text into place, and
# the one that moved second found its file gone (review 62, G6).
_NEW = f"{_LOCK}/holder.$$"


def _holder_written(claim: Claim) -> str:
    """Shell: the holder written whole, a file moved into place."""
    return (f"{{ printf %s {quote(claim.text())} > {_NEW} && "
            f"mv -f -- {_NEW} {_LOCK}/holder; }} || {{ rm -f -- {_NEW}; false; }}")


def _write(claim: Claim) -> str:
    """Shell: the holder written whole, then `taken`."""
    return f"{_holder_written(claim)} && {_say('taken')}"


def _drop_legacy(legacy: str | None) -> str:
    """Shell: an older runbook's claim removed while it is still the one
    read (`legacy`, its holder text); run only once this run's claim is
    made, so a run refused keeps it (review 61b, F3). Its failure is not
    the claim's."""
    if legacy is None:
        return "true"
    read = quote(legacy.rstrip("\n"))
    return (f"{{ [ \"$(cat -- {_OLD}/holder 2>/dev/null)\" = {read} ] && rm -rf -- {_OLD}; "
            "true; }")


def take_command(claim: Claim, *, legacy: str | None = None) -> str:
    """For Place.command: make the claim folder and write the holder, whole;
    where it is there already, say `held` and its holder. An older runbook's
    claim there first says `legacy` and its holder, and nothing is made;
    `legacy`, the holder text read of it before (a run allowed to take it
    over), claims while it is still that one, and removes it once claimed."""
    if legacy is None:
        old = f"{_say('legacy')}; cat -- {_OLD}/holder 2>/dev/null; exit 0"
    else:
        old = (f"if [ \"$(cat -- {_OLD}/holder 2>/dev/null)\" != "
               f"{quote(legacy.rstrip(chr(10)))} ]; "
               f"then {_say('legacy')}; cat -- {_OLD}/holder 2>/dev/null; exit 0; fi")
    return (f"if [ -d {_OLD} ]; then {old}; fi; "
            # A holder that cannot be written (a full disk) leaves no folder
            # behind, which would hold the host for nobody (review 60a, F2).
            f"if mkdir -- {_LOCK} 2>/dev/null; then {_write(claim)} || "
            f"{{ rm -rf -- {_LOCK}; exit 1; }}; {_drop_legacy(legacy)}; "
            # A folder with no holder (yet) is held too: refused, or replaced
            # by --take-over-host, as before the take-over looked first.
            f"elif [ -d {_LOCK} ]; then {_say('held')}; cat -- {_LOCK}/holder 2>/dev/null; "
            "true; "
            # None made, none there (no write in install.dir): mkdir says why.
            f"else mkdir -- {_LOCK}; exit 1; fi")


def retake_command(claim: Claim, *, replacing: str | None = None,
                   legacy: str | None = None) -> str:
    """For Place.command: the holder written again: this run resumed; or,
    `replacing` the holder text it read, another run's claim taken over,
    only while the holder is still that one, one taker at a time (the
    `taking` folder, made by one winner; one a killed taker left goes after
    a minute). Two runs taking over one gone claim at once were both told
    taken (review 60a, F7). `legacy`: an older runbook's claim this run may
    have, removed once this one is written."""
    drop = _drop_legacy(legacy)
    # Made again where it went meanwhile; never `mkdir -p`, which passes a
    # link (review 62, G5).
    there = f"{{ [ -d {_LOCK} ] && [ ! -L {_LOCK} ]; }} || mkdir -- {_LOCK}"
    if replacing is None:
        return f"{{ {there}; }} && {_write(claim)} && {drop}"
    taking, read = f"{_LOCK}/taking", quote(replacing.rstrip("\n"))
    held = f"{_say('held')}; cat -- {_LOCK}/holder 2>/dev/null"
    return (f"{{ {there}; }} && "
            f"find {_LOCK} -maxdepth 1 -name taking -mmin +1 -exec rmdir {{}} + 2>/dev/null; "
            f"if mkdir -- {taking} 2>/dev/null; then "
            f"if [ \"$(cat -- {_LOCK}/holder 2>/dev/null)\" = {read} ]; "
            f"then {_write(claim)} && {drop}; else {held}; fi; rmdir -- {taking}; "
            f"else {held}; fi; true")


def _still_mine(claim: Claim, folder: str = _LOCK) -> str:
    """Shell: true while the holder in `folder` names this run (its journal
    and machine: its name, and its id where it has one)."""
    said = [f"journal={claim.journal}", f"machine={claim.machine}",
            *([f"machine_id={claim.machine_id}"] if claim.machine_id else [])]
    return " && ".join(f"grep -qxF -- {quote(_one_line(line))} {folder}/holder 2>/dev/null"
                       for line in said)


def holder_if_not_mine_command(claim: Claim) -> str:
    """`mine` while the holder names this run; else `other` and the holder."""
    return (f"if {_still_mine(claim)}; then {_say('mine')}; "
            f"else {_say('other')}; cat -- {_LOCK}/holder 2>/dev/null; true; fi")


def release_command(claim: Claim) -> str:
    """The claim removed, only while it is this run's: moved aside first,
    then looked at again, and put back where it is not this run's. Looked at
    and then removed, a take-over landing between the two went with it, and
    the host read as free while that run went on (review 62, G6); moved
    aside, such a take-over's own move finds no folder and fails, said.
    The name beside it is this shell's own, and not one a link was made at."""
    aside = '"$L.gone.$$"'
    return (f"if {_still_mine(claim)}; then "
            f"if [ -e {aside} ] || [ -L {aside} ]; then "
            f"echo \"$L.gone.$$ is in the way\" >&2; exit 1; fi; "
            f"mv -- {_LOCK} {aside} || exit 1; "
            # Moved aside, it holds the host no more: what rm leaves is said.
            f"if {_still_mine(claim, aside)}; then rm -rf -- {aside} || "
            f"echo \"$L.gone.$$ stays: remove it by hand\" >&2; {_say('released')}; exit 0; "
            f"elif [ ! -e {_LOCK} ]; then mv -- {aside} {_LOCK}; fi; fi; {_say('other')}")


def mark_command(claim: Claim) -> str:
    """The holder written again with the cutover under way, only while it is
    this run's."""
    return f"{_still_mine(claim)} && {{ {_holder_written(claim)}; }}"


def _older(where: str) -> str:
    """How a refusal names the claim: where it lies, and whose runbook made
    it, where an older runbook's lies in the SSH user's home."""
    if where == LEGACY:
        return f"{LEGACY} of the SSH user on the host, left by an older runbook"
    return f"{where} on the host"


def cutover_refusal(other: Claim, config: str | None, *, goes_on: bool, where: str,
                    removal: str, journal_here: bool = False) -> str:
    """Why a run is refused where the claim was kept for a cutover under way:
    no run but one that goes on with that cutover may enter (review 60a,
    F10: told to wait for the run to end or take the host over, a second
    operator's run upgraded from the emptied fleet). `goes_on`: this run goes
    on with it, from elsewhere; only --take-over-host lets it in. `removal`:
    the command that removes the claim by hand; `journal_here`: that run's
    journal was read here and says its cutover has not ended."""
    from runbook.standing import resume_command, rollback_command, said_time

    said = (f"a cutover {_begun(other.cutover, said_time)} by {other.login} on {other.machine} "
            f"(journal {other.journal}) has not ended ({_older(where)}). The stream "
            "manager may be down and its fleet deleted. Nothing was changed")
    if goes_on:
        return (f"{said}. This run goes on with that cutover: if the run on {other.machine} "
                "is surely gone (its machine off, its runbook killed), run again with "
                "--take-over-host")
    config = config or "CONFIG"
    # Where its journal is not here to say whether that run ended: one whose
    # end could not let its claim go leaves it marked (operator trial 62, F1).
    ended = "" if journal_here else (
        ". If that journal says the run ended (upgraded, or rolled back), the claim was "
        f"left behind as it ended: remove it on the host ({removal}), then run again")
    # Here, the journal alone rebuilds no fleet: its snapshot stays in the
    # state folder of the machine that saved it (trial 62, F4).
    snapshot = (f"the fleet snapshot it rebuilds from ({other.snapshot} there)"
                if other.snapshot else
                "the fleet snapshot its facts name (in hosts/ of runbook's state folder there)")
    return (f"{said}. Go on with that journal, not a new run: resume it "
            f"({resume_command(config, other.journal)}) or take the way back "
            f"({rollback_command(config, Path(other.journal))}), on {other.machine}; or "
            f"here, with copies of that journal ({other.journal} there) and of {snapshot} "
            f"put in one folder here, giving --journal the journal's copy{ended}")


def _begun(cutover: str, said_time: Callable[[str], str]) -> str:
    """When a claim says its cutover began; where its holder's time is no
    time (edited by hand, damaged), that it cannot be read there, not the
    text quoted raw (operator trial 62, F8: 'a cutover begun garbage')."""
    try:
        datetime.fromisoformat(cutover)
    except ValueError:
        return "(its start unreadable in the claim's holder)"
    return f"begun {said_time(cutover)}"


def left_behind_refusal(other: Claim, ended: Ended, *, where: str, removal: str) -> str:
    """Why a run is refused by a claim that marks a cutover its journal here
    says ended: a finished run's claim, left behind (its end could not let
    it go), not a cutover under way (operator trial 62, F1)."""
    from runbook.standing import said_time

    return (f"the host's claim ({_older(where)}) was left behind by a run that ended: it "
            f"marks a cutover begun {said_time(other.cutover)} by {other.login} on "
            f"{other.machine}, which ended ({ended.how}, as its journal {ended.journal} "
            "says), and that run's end could not let the claim go. Nothing was changed. "
            "Run again with --take-over-host to take it over, or remove it on the host "
            f"({removal})")


def refusal(other: Claim | None, where: str) -> str:
    who = other.described() if other is not None else (
        "one whose record is still being written, or cannot be read")
    return (f"another runbook is working on this host: {who} ({_older(where)}). "
            "Nothing was changed. Wait for that run to end. If it is surely gone (its "
            "machine off, its process killed, or it ended while the host was out of "
            "reach), run again with --take-over-host")


def still_running_here(other: Claim, where: str) -> str:
    return (f"another runbook is working on this host: {other.described()} ({_older(where)}). "
            f"That run still runs on this machine (pid {other.pid}), so it is not "
            "gone: quit it first (or let it end), then run again. Nothing was changed")


# How a shell says it has no sudo: bash "sudo: command not found", dash
# "sudo: not found", zsh "command not found: sudo" (exit 127 in each).
_NO_SUDO = re.compile(r"\bsudo: (command )?not found|not found: sudo\b")
# How sudo says it needs a terminal: `Defaults requiretty` in sudoers.
_NEEDS_A_TTY = "must have a tty"


def sudo_trouble(result: CommandResult) -> tuple[str, str] | None:
    """Where `result` of a command run through sudo failed for sudo itself:
    what is wrong, and what to do; None where it was not sudo. One wording for
    the claim, which meets it first, and preflight (review 61b, F2: a root
    login on a host without sudo was told "sudo: command not found" alone).
    Root logs in on minimal cloud images, which have no sudo: host.sudo =
    false is then the fix."""
    said = result.last_error_line().strip()
    if result.exit_status == 127 and _NO_SUDO.search(said):
        return ("sudo is not installed on the host",
                "set host.sudo = false in the config if the SSH user is root; else install "
                "sudo there and allow that user password-less sudo")
    if said.startswith("sudo: ") and _NEEDS_A_TTY in said:
        # Defaults requiretty (older RHEL images): password-less sudo is not
        # the fix, and one who has it could not act on that (review 62, G7).
        return (f"sudo refused ({said.removeprefix('sudo: ')})",
                "remove `Defaults requiretty` for the SSH user there (sudo visudo: "
                "`Defaults:<that user> !requiretty`), or set host.sudo = false if it logs in "
                "as root")
    if said.startswith("sudo: "):
        return (f"sudo refused ({said.removeprefix('sudo: ')})",
                "allow the SSH user password-less sudo there, or set host.sudo = false "
                "if it logs in as root")
    return None


def _answer(result: CommandResult, target: str, place: Place) -> list[str]:
    """The lines a claim's command said; a refusal where it could not run:
    install.dir no folder, sudo refused (the claim is root's, so none can be
    taken without it), or any other failure. Nothing was changed then."""
    lines = answer_of(result.stdout)
    if lines[:1] == ["link"]:
        raise ClaimRefused(target, f"cannot claim the host: {place.link_refusal()}")
    if lines[:1] == ["file"]:
        raise ClaimRefused(target, f"cannot claim the host: {place.file_refusal()}")
    if lines and lines[0] == "nodir":
        raise ClaimRefused(target, f"cannot claim the host: {place.install_dir} is not a "
                           "folder there; check install.dir in the config. Nothing was changed")
    if result.exit_status != 0 or not lines:
        said = result.last_error_line().strip()
        trouble = sudo_trouble(result) if place.sudo else None
        if trouble is not None:
            what, to_do = trouble
            raise ClaimRefused(target, (
                f"cannot claim the host: {what}, so nothing was changed. The claim "
                f"({place.where}) is root's, as the upgrade's changes are: {to_do}, "
                "then run again"))
        root = "" if place.sudo else (
            ". With host.sudo = false the SSH user must be root; else set host.sudo = true")
        raise ClaimRefused(target, f"cannot claim the host in {place.where} "
                           f"({said or 'no answer'}); nothing was changed{root}")
    return lines


def _judge(target: str, claim: Claim, other: Claim | None, *, over: bool,
           continues: str | None, config: str | None, where: str,
           place: Place) -> tuple[Claim, bool, bool]:
    """Whether this run may have the claim `other` holds (None: one that
    cannot be read): raises HostClaimed where not; else this run's claim (its
    own journal's, where `other` is this run's), whether it was this run's,
    and whether its run is gone."""
    ours = other is not None and other.same_run(claim, continues)
    removal = _removal(where, place)
    ended = None
    if other is not None and other.cutover and not ours:
        ended = cutover_ended(other, continues)
    if ended is not None and other is not None:
        # The cutover it marks ended, as its journal here says: a finished
        # run's claim left behind, taken as any plain claim (trial 62, F1).
        plain = replace(other, cutover="")
        if not (over or plain.gone(claim) or plain.runs_here(claim)):
            raise HostClaimed(target, left_behind_refusal(other, ended, where=where,
                                                          removal=removal))
        other = plain
    elif other is not None and other.cutover and not ours:
        # Kept for a cutover under way: only a run going on with that very
        # cutover may enter, and only once its run is gone or with `over`.
        goes_on = other.cutover == claim.cutover
        if not (goes_on and (over or other.gone(claim))):
            here = Path(other.journal).is_file()
            raise HostClaimed(target, cutover_refusal(other, config, goes_on=goes_on,
                                                      where=where, removal=removal,
                                                      journal_here=here),
                              when=f"if the run on {other.machine} is surely gone"
                              if goes_on else None, take_over=goes_on)
    gone = other is not None and not ours and other.gone(claim)
    if other is not None and not ours and other.runs_here(claim):
        raise HostClaimed(target, still_running_here(other, where))
    if other is not None and ours:
        # Named by the journal it began with, whichever journal goes on
        # with it (a rollback's, then another's): each finds it its own.
        return replace(claim, journal=other.journal,
                       cutover=claim.cutover or other.cutover), True, False
    if not (over or gone):
        raise HostClaimed(target, refusal(other, where), when=(
            "once that run has ended; if it is surely gone, with --take-over-host"))
    return claim, False, gone


def _removal(where: str, place: Place) -> str:
    """The command that removes the claim `where` lies by hand: an older
    runbook's is the SSH user's own."""
    return f"rm -r {LEGACY}" if where == LEGACY else place.removal


def _taken_note(other: Claim | None, gone: bool, where: str) -> TakenOver:
    whose = "" if where != LEGACY else f" (an older runbook's, in {LEGACY})"
    if other is None:
        return TakenOver(f"--take-over-host: the host's claim{whose}, which could not be "
                         "read, was replaced", "")
    how = "from a run that is gone:" if gone else "(--take-over-host) from"
    return TakenOver(f"the host's claim{whose} was taken over {how} {other.described()}",
                     other.who())


async def take(remote: Remote, claim: Claim, place: Place, *, over: bool = False,
               continues: str | None = None, config: str | None = None
               ) -> tuple[Claim, TakenOver | None]:
    """Claim the host for `claim`'s run, in `place`. Raises HostClaimed where
    another run holds it (here, or an older runbook in the SSH user's home),
    ClaimRefused where it cannot be made; returns what to say where another
    run's claim was taken (a gone run's, or any with `over`:
    --take-over-host), else None. `continues`: the journal of the run this
    one goes on from, whose claim is this run's too; and `claim.cutover`, the
    cutover it goes on with. `config`: for the commands a refusal names.
    Connection errors go up."""
    target = remote.target
    lines = _answer(await remote.run(place.command(take_command(claim)), timeout=TIMEOUT_S),
                    target, place)
    note: TakenOver | None = None
    legacy: str | None = None
    if lines[0] == "legacy":
        # An older runbook's claim: honoured as any, and where this run may
        # have it, removed once this run's claim is made in its own place.
        legacy = "\n".join(lines[1:])
        older = parse(legacy)
        claim, ours, gone = _judge(target, claim, older, over=over, continues=continues,
                                   config=config, where=LEGACY, place=place)
        note = None if ours else _taken_note(older, gone, LEGACY)
        lines = _answer(await remote.run(place.command(take_command(claim, legacy=legacy)),
                                         timeout=TIMEOUT_S), target, place)
        if lines[0] == "legacy":  # another older run's, just now
            raise HostClaimed(target, refusal(parse("\n".join(lines[1:])), LEGACY))
    if lines[0] == "taken":
        return claim, note
    read = "\n".join(lines[1:])
    other = parse(read)
    claim, ours, gone = _judge(target, claim, other, over=over, continues=continues,
                               config=config, where=place.where, place=place)
    said = _answer(await remote.run(place.command(retake_command(
        claim, replacing=None if ours else read, legacy=legacy)), timeout=TIMEOUT_S),
        target, place)
    if said[0] == "held":  # another run took it over first, just now
        raise HostClaimed(target, refusal(parse("\n".join(said[1:])), place.where))
    # Both places taken from other runs: both are said, not the last alone.
    return claim, _both(note, None if ours else _taken_note(other, gone, place.where))


def _both(first: TakenOver | None, then: TakenOver | None) -> TakenOver | None:
    if first is None or then is None:
        return first or then
    return TakenOver(f"{first.said}; and {then.said}", then.whose or first.whose)


async def mark(remote: Remote, claim: Claim, place: Place) -> str | None:
    """The claim, kept for the cutover under way, says so (`claim.cutover`),
    if it is still this run's: None where it does now, else why not (sudo's
    trouble in its words, the shell's, or the claim not this run's).
    Connection errors go up."""
    result = await remote.run(place.command(mark_command(claim)), timeout=TIMEOUT_S)
    if result.exit_status == 0:
        return None
    if answer_of(result.stdout)[:1] == ["link"]:
        return place.link_refusal()
    trouble = sudo_trouble(result) if place.sudo else None
    if trouble is not None:
        return f"{trouble[0]}: {trouble[1]}"
    return result.last_error_line().strip() or f"the claim in {place.where} is not this run's"


# What taken_from_us says of a claim that is nobody's now, not taken again.
GONE = Claim("", "", 0, "", "")


async def _holder_unless_mine(remote: Remote, claim: Claim, place: Place) -> list[str]:
    """holder_if_not_mine_command's answer (`mine`, or `other` and the
    holder's lines); [] where it gave none, or ended otherwise than well."""
    result = await remote.run(place.command(holder_if_not_mine_command(claim)),
                              timeout=TIMEOUT_S)
    return answer_of(result.stdout) if result.exit_status == 0 else []


async def still_mine(remote: Remote, claim: Claim, place: Place) -> bool:
    """Whether the holder names this run now: a look that changes nothing
    (taken_from_us may take a claim that is nobody's again). False for any
    other answer, or none."""
    return (await _holder_unless_mine(remote, claim, place))[:1] == ["mine"]


async def taken_from_us(remote: Remote, claim: Claim, place: Place, *,
                        retake: bool = True) -> Claim | None:
    """The claim another run holds now where this run's was (another
    machine's --take-over-host while this run waited at a question), else
    None: also where the host could not say (the change that follows meets
    that itself). One that is nobody's now is this run's again, unless not
    `retake` (kept for a cutover under way, it went with the run that ended
    that cutover: trial 62, F3): then GONE."""
    lines = await _holder_unless_mine(remote, claim, place)
    if lines[:1] != ["other"]:
        return None
    other = parse("\n".join(lines[1:]))
    if other is None:
        if not retake:
            return GONE
        # Nobody's now (removed by hand, say): this run's again, as it was
        # (review 60c, F5: said taken by "? on ?", which no retry passed).
        again = await remote.run(place.command(take_command(claim)), timeout=TIMEOUT_S)
        said = answer_of(again.stdout)
        if again.exit_status == 0 and said and said[0] == "taken":
            return None
        other = parse("\n".join(said[1:]))
    return other or Claim("?", "?", 0, "?", "?")


def taken_refusal(other: Claim, where: str, step: str) -> str:
    """Why a run stops as `step` was to start: its claim is another run's now."""
    return (f"this run's claim on the host was taken meanwhile by another run: "
            f"{other.described()} ({_older(where)}). Nothing of {step} was sent, and this "
            "run stops here: it cannot go on beside that run. Find out who works on the "
            "host, and what that run did there, before anything more")


async def release(remote: Remote, claim: Claim, place: Place) -> str | None:
    """Let the claim go, if it is still this run's: None where it went (or
    was not this run's to let go), else why it stays, in a few words. A lost
    connection is tried once, not waited for (a run's end); connection
    errors go up. The release's own answer and exit status say it went: an
    `rm` sudo refused ran never (review 62, G2)."""
    result = await remote.run(place.command(release_command(claim)), timeout=TIMEOUT_S,
                              reopen=False)
    said = answer_of(result.stdout)
    if result.exit_status == 0 and said[:1] in (["released"], ["other"]):
        return None
    if said[:1] == ["link"]:
        return "it is a link, not the folder runbook makes: look at where it leads"
    trouble = sudo_trouble(result) if place.sudo else None
    if trouble is not None:
        return trouble[0]
    return result.last_error_line().strip() or (
        "no answer" if result.exit_status in (0, None) else f"exit status {result.exit_status}")


def stays(place: Place, why: str) -> str:
    """What a run says where its end could not let the host's claim go: the
    operator who leaves believing the host free has a colleague refused
    later (review 62, G2). What a later run does with it, and the command
    that removes it."""
    return (f"the host's claim ({place.where}) stays: {why.rstrip('.')}. A later run of this "
            "machine and login takes it over as a gone run's; from another machine, run "
            f"with --take-over-host, or remove it on the host: {place.removal}")
