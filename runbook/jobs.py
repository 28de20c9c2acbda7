"""Commands run as jobs the host can account for.

Every journalled command runs in a session of its own (sshd starts one per
channel) whose id is written to ``~/.runbook/jobs/NAME`` while it runs. That
record is what lets a later run find a first attempt that outlived a dropped
connection (and wait for it rather than start a second one beside it), and
what lets an abort end the whole session from a second channel: OpenSSH
refuses signal requests in a root session, and `timeout` puts the workload in
a process group of its own, so signalling the channel's process is not enough
(shared/notes/asyncssh-2.md, sections 3 and 4).

Pure functions: the shell text here is what runs; runbook.remote sends it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from runbook.shell import answer_after

# Expanded by the SSH user's own shell: under sudo, HOME would be root's.
_FOLDER = '"$HOME/.runbook/jobs"'
# Named to mkdir beside the folder: with -p, -m sets the mode only of the
# folders named, and one made on the way takes the umask's (0775 under 002),
# which status_command would then refuse to trust.
_PARENT = '"$HOME/.runbook"'
# What an earlier runbook, or a umask of 002, left loose of runbook's own
# folders is made the user's alone, as a connection's shells start and before
# a command keeps a record there: refused only at a look after a drop, it
# stopped a resumed cutover (second review). Only folders the user owns.
_TIGHTEN = (f'for d in {_PARENT} {_FOLDER}; do [ -d "$d" ] && [ -O "$d" ] && '
           'chmod go-w -- "$d"; done 2>/dev/null; ')


# The kind of the journal's note that a stop could not reach the host, so a
# job runs on there until its limit (its `until`, a wall clock): the exit
# lines say it while that may still be so.
LEFT_RUNNING = "left-running"


def job_name(*parts: object) -> str:
    """A file name made of the parts (step id, action number, attempt)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(str(p) for p in parts))[:120]


# A command written only with these is one program and its words, whatever
# shell reads it: bare words of characters no shell treats specially, single
# quotes, and double quotes with nothing inside that expands; no newline, no
# operator, no glob, no `~`, no `$`.
_PLAIN_TEXT = re.compile(r"""(?:[A-Za-z0-9_@%+=:,./-]|'[^']*'|"[^"$`\\!]*"|[ \t])+""")
_EQUALS_WORD = re.compile(r"(?:^|[ \t])=")
# Shell builtins that are also programs doing the same: `true` and `false`,
# and `test` asked about one file in a way coreutils' and bash's agree on.
_AS_PROGRAMS = frozenset({"true", "false"})
_FILE_TESTS = frozenset("-" + c for c in "bcdefgGhkLOprsSuwx")
# What bash would run itself, not look up on PATH (bash 5's `compgen -b -k`).
_SHELL_WORDS = frozenset((
    ".", ":", "[", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command",
    "compgen", "complete", "compopt", "continue", "declare", "dirs", "disown", "echo",
    "enable", "eval", "exec", "exit", "export", "false", "fc", "fg", "getopts", "hash",
    "help", "history", "jobs", "kill", "let", "local", "logout", "mapfile", "popd",
    "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "set", "shift",
    "shopt", "source", "suspend", "test", "times", "trap", "true", "type", "typeset",
    "ulimit", "umask", "unalias", "unset", "wait", "if", "then", "else", "elif", "fi",
    "case", "esac", "for", "select", "while", "until", "do", "done", "in", "function",
    "time", "{", "}", "!", "[[", "]]", "coproc"
))


def plain(command: str) -> bool:
    """Whether a shell would run `command` as one program with its words as
    written: then the host can start it under `timeout` as it is."""
    # A bare word that begins with `=` is a program's path to zsh, which may
    # be the login shell that reads an exec request (review).
    if not _PLAIN_TEXT.fullmatch(command) or _EQUALS_WORD.search(command):
        return False
    words = shlex.split(command)
    if not words or "=" in words[0] or words[0].startswith("-"):
        return False  # an assignment; or an option to `timeout` itself
    if words[0] == "test":
        return len(words) == 3 and words[1] in _FILE_TESTS
    if words[0] in _AS_PROGRAMS:
        return len(words) == 1  # coreutils' answer --help, bash's do not
    return words[0] not in _SHELL_WORDS


def _limited(command: str, *, limit: float, grace: int) -> str:
    """`command` under the host's time limit (TERM, then KILL after `grace`):
    as it is when it is plain, else in a bash of its own."""
    # A plain command spares the host starting bash, which would only exec it
    # (issue 12: an exec is 1.4 ms on the CI machine, a fifth of a command).
    # `timeout` reports a program it cannot start as bash does: 127, 126.
    # What bash alone would add (review, each tried): functions exported to
    # it or defined by $BASH_ENV shadow no program now, and a script without
    # `#!` runs in sh, not bash; none is how a runbook command is meant.
    if plain(command):
        return f"timeout -k {grace}s {limit:g}s {command}"
    return _in_bash(shlex.quote(command), limit=limit, grace=grace)


def _in_bash(word: str, *, limit: float, grace: int) -> str:
    """The command the shell word `word` names, in a bash of its own under the
    host's time limit."""
    # --norc: the login shell sshd started has read .bashrc already (bash does
    # for ssh commands); a second read doubles every command's cost on a host
    # whose .bashrc is slow (issue 12 measured 0.35 s a command with pyenv's).
    return f"timeout -k {grace}s {limit:g}s bash --norc -c {word}"


# Before whatever the login shell runs: a bash that is not interactive reads
# the file $BASH_ENV names whatever its options, and a .bashrc may export one
# (a second rc file a command, issue 12). The shared shell runs with it empty,
# so the commands sent to it inherit that.
_NO_BASH_ENV = "BASH_ENV= "


def keeps_a_record(command: str) -> bool:
    """Whether a wrapped or framed command keeps a job record on the host: the
    actions that change it do, the looks do not. (The rehearsal's ssh-drop
    fault lands in the first of a step's actions.)"""
    return _FOLDER in command


def wrap(command: str, *, limit: float, grace: int, job: str | None) -> str:
    """`command` under the host's own time limit, recorded as `job` while it runs.

    The recording is best effort (a read-only home must not stop the upgrade);
    the exit status is the command's, as `timeout` reports it."""
    run = _NO_BASH_ENV + _limited(command, limit=limit, grace=grace)
    if job is None:
        return run
    script = (
        f'j={_FOLDER}; f="$j/{job}"; '
        f'{{ mkdir -p -m 700 {_PARENT} "$j" && {_TIGHTEN}'
        f'echo "$$ $(date +%s) {limit + grace:g}" > "$f"; }} '
        f"2>/dev/null; {run}; rc=$?; rm -f \"$f\"; exit $rc"
    )
    # exec: the recording shell is the session leader, so $$ is the session id.
    return f"exec sh -c {shlex.quote(script)}"


# --- the shared shell ---------------------------------------------------------------
#
# sshd runs each exec request through the user's login shell, and bash reads
# .bashrc for ssh commands: on a host with pyenv or conda set up there, that is
# a third of a second a command. So each connection keeps a bash of its own
# running, started once, and sends it one command at a time on its stdin; the
# end of each command is a random mark with the exit status on stdout and the
# same mark on stderr, so both streams are known to be complete.

# What the runbook asks sshd to run for a shared shell, and the first line it
# sends it: bash itself answers with its PID (whatever a noisy .bashrc printed
# comes before), so a host without bash has no shell that seems to be ready.
SHARED_SHELL = f"{_NO_BASH_ENV}exec bash --norc -s"
SHARED_SHELL_HELLO = _TIGHTEN + 'echo "runbook-shell $$"\n'
SHARED_SHELL_READY = "runbook-shell "


def framed(command: str, *, limit: float, grace: int, job: str | None, mark: str) -> str:
    """The line the shared shell runs for `command`: under the time limit (and
    recorded as `job`), with stdin closed (it would read the shell's own), then
    `mark` and the exit status on stdout and `mark` on stderr."""
    run = f"{_limited(command, limit=limit, grace=grace)} </dev/null"
    marks = f"printf '%s %d\\n' {mark} \"$rc\"; printf '%s\\n' {mark} >&2"
    if job is None:
        return f"{run}; rc=$?; {marks}\n"
    # The job's session is its own (setsid, in place: a background child of
    # this shell leads no group), so its PID is the session id. Not the shell's
    # own session, though sshd gives it one and that would save `setsid`'s
    # 1.4 ms: whatever earlier commands left running there (`nohup ... &`)
    # would count as the job and die with it (review).
    # The shared shell keeps the record with builtins alone, before it waits:
    # a connection lost meanwhile does not stop it from being written. It is
    # emptied (status_command: the job has ended) before the exit status goes
    # back, so a look that comes next reads the job as ended whatever its
    # session still holds; the file goes in the background, a slow `rm` on a
    # busy host must not hold the status back.
    return (f'j={_FOLDER}; f="$j/{job}"; '
            f'[ -d "$j" ] || mkdir -p -m 700 {_PARENT} "$j" 2>/dev/null; setsid {run} & '
            f"printf '%s %(%s)T %s\\n' \"$!\" -1 {limit + grace:g} 2>/dev/null > \"$f\"; "
            f'wait "$!"; rc=$?; : 2>/dev/null > "$f"; {marks}; rm -f "$f" 2>/dev/null &\n')



def look_command(job: str) -> str:
    """A command for the operator to look at `job` on the host, run as the
    SSH user (the record is in that user's home): the processes of its
    session while it runs, and `ended` once its record is emptied or gone,
    not ps's "list of session IDs must follow -s" (review 62b, L6)."""
    return (f'f={_FOLDER}/{shlex.quote(job)}; if [ -s "$f" ]; '
            'then ps -s "$(cut -d\' \' -f1 "$f")"; else echo ended; fi')

@dataclass(frozen=True)
class JobStatus:
    """A job on the host as its status file and process list show it."""
    session: int
    started: int  # host clock, epoch seconds
    most: float  # how long it may run at most (its limit and grace)
    now: int  # host clock when asked
    pids: tuple[int, ...]

    @property
    def left(self) -> float:
        """Seconds until the host's own time limit ends it anyway."""
        return max(0.0, self.started + self.most - self.now)


# status_command's exit status for a record another account could have
# written: it prints the folders at fault instead.
LOOSE_RECORD = 3
# ...and for folders it could not look at (said on stderr). Remote.job_status
# takes it, as any other failure, for "cannot tell".
_CANNOT_LOOK = 4
# A record names the session an abort ends, as root: it is read only when the
# folders it lies in are the SSH user's and no other account can write them
# (then no other can make or change a file in them, whatever its own mode).
# `mkdir -m 700` sets the mode only of a folder it makes, so one already there
# is looked at here (code review, stop 45); only when a record is there: the
# looks after a drop or an abort pay for it, no command does.
# -H: a folder linked elsewhere is judged by where it leads (a link's own mode
# is always 777). A find that fails cannot tell, and says so (second review).
_TRUSTED = (f'loose=$(find -H {_PARENT} "$j" -maxdepth 0 \\( -perm /022 -o ! -user "$(id -u)" '
            '\\) 2>/dev/null) || { echo "runbook: cannot look at the job records\' folders '
            f'(find failed)" >&2; exit {_CANNOT_LOOK}; }}; '
            f'[ -z "$loose" ] || {{ printf "%s\\n" "$loose"; exit {LOOSE_RECORD}; }}; ')


# What status_command's answer begins with: the line after it (a login shell
# may print a banner before it on an exec request of its own; code review).
_STATUS = "runbook-job"
_ENDED = "runbook-job-ended"


class StatusUnreadable(ValueError):
    """status_command's answer does not say whether the job runs."""


def status_command(job: str) -> str:
    """Prints `runbook-job SESSION STARTED MOST NOW` and the PIDs of the
    session's living processes, or `runbook-job-ended` (and no PIDs) when the
    job ended: its record is empty (the shared shell empties it as the job
    ends), or its session has no living process left, and then the record of
    a job killed outright is removed.

    A zombie has ended: a killed job's shell leaves its children for init to
    reap, which some inits (containers, CI) do seconds late. Where ps cannot
    list a session (busybox), pgrep counts every process in it."""
    living = ('if l=$(ps -o pid=,stat= -s "$sid" 2>/dev/null); then '
              'p=$(echo "$l" | while read -r n st; do case $st in Z*) ;; *) echo "$n" ;; '
              'esac; done); else p=$(pgrep -s "$sid"); fi')
    return (f'j={_FOLDER}; f="$j/{job}"; [ -s "$f" ] || {{ echo {_ENDED}; exit 0; }}; '
            # Emptied or removed between the two looks: the job has ended.
            f'{_TRUSTED}read -r sid started most < "$f" 2>/dev/null; '
            f'[ -n "$sid" ] || {{ echo {_ENDED}; exit 0; }}; '
            # Half a record (read as it was written): no time to wait by.
            f'[ -n "$most" ] || {{ echo "{_STATUS} torn"; exit 0; }}; '
            f'echo "{_STATUS} $sid $started $most $(date +%s)"; '
            f'{living}; if [ -n "$p" ]; then echo "$p"; else rm -f "$f"; fi')


def parse_status(output: str) -> JobStatus | None:
    """The job as status_command's `output` says: None once it ended.
    StatusUnreadable where the output does not say (no answer of its own
    in it, or a torn one): "ended" would let a retry run beside the job."""
    answer = answer_after(output, _STATUS, _ENDED)
    if not answer:
        raise StatusUnreadable("no answer to the look in its output")
    words = " ".join(answer).split()
    if words[0] == _ENDED:
        return None
    try:
        session, started, most, now = int(words[1]), int(words[2]), float(words[3]), \
            int(words[4])
        pids = tuple(int(word) for word in words[5:])
    except (IndexError, ValueError):
        raise StatusUnreadable(f"an answer torn or unknown: {' '.join(words)[:80]}") from None
    return JobStatus(session, started, most, now, pids) if pids else None


# How often a stop looks whether the session is empty yet: an operator's abort
# waits for it, so a job that dies at the TERM should not cost a long sleep.
_STOP_LOOK_S = 0.05


def stop_command(session: int, grace: float) -> str:
    """TERM to every process of the session, KILL to what is left after `grace`
    seconds; exit 0 once nothing of it runs. Run as root: the job's commands
    may be. Sleeps only while something of the session is left.

    A zombie is not left: it has ended and waits for its parent (an orphan's
    for init, which some hosts reap late). Without ps, pkill or timeout it
    cannot tell, and exits 3 rather than say the job is gone."""
    alive = f"ps -o stat= -s {session} | grep -qv '^Z'"

    def until_gone(seconds: float) -> str:
        # Bounded by the clock, not by a count of looks: each look (ps) takes
        # time of its own, more on a busy host.
        looks = f"while {alive}; do sleep {_STOP_LOOK_S}; done"
        # At least one look: to timeout, 0s would mean no limit at all.
        return f"timeout {max(seconds, _STOP_LOOK_S):g}s sh -c {shlex.quote(looks)}"

    return ("for tool in ps pkill timeout; do command -v $tool >/dev/null || exit 3; done; "
            f"pkill -TERM -s {session}; {until_gone(grace)}; "
            f"if pkill -KILL -s {session}; then {until_gone(1)}; fi; "
            f"! {alive}")


# --- detached jobs ---------------------------------------------------------------------
#
# A long command (unzip, a service start) must not die with the connection
# that started it: it runs in a session of its own with its output going to
# a file on the host, and the runbook follows that file from a byte offset,
# again after a reconnect (shared/notes/asyncssh-2.md section 3).

# The attach command's exit status when the job left none (it was killed
# outright): the outcome is unknown.
NO_STATUS = 255
NO_STATUS_MARK = "runbook: the command ended without leaving its exit status"


def launch_detached(command: str, *, limit: float, grace: int, job: str) -> str:
    """Start `command` in its own session under the host's time limit, output
    to JOB.log, exit status to JOB.rc, recorded as `job` while it runs; prints
    nothing and returns at once."""
    run = _NO_BASH_ENV + _in_bash('"$1"', limit=limit, grace=grace)
    inner = (f'echo "$$ $(date +%s) {limit + grace:g}" > "$0"; '
             f'{run}; rc=$?; '
             # Whole or not at all: a reader must never see the file empty.
             'echo "$rc" > "$0.rc.new" && mv -f "$0.rc.new" "$0.rc"; rm -f "$0"; exit "$rc"')
    # Separate statements: `a && b &` would background a subshell that keeps
    # the channel's stdout open, and the launch would never return. The log is
    # made here, before the job: made by the job's own redirect, it could be
    # missing when a quick attach came, which then read the job as ended
    # without a status while it ran.
    return (f'j={_FOLDER}; f="$j/{job}"; mkdir -p -m 700 {_PARENT} "$j" || exit 1; {_TIGHTEN}'
            'rm -f "$f.rc" "$f.log" "$f.pid"; : > "$f.log" || exit 1; '
            f'setsid sh -c {shlex.quote(inner)} "$f" {shlex.quote(command)} '
            '>> "$f.log" 2>&1 < /dev/null & echo $! > "$f.pid"')


def attach_command(job: str, offset: int) -> str:
    """Print the job's output from byte `offset` on as it comes, until the
    job ends; exit with its exit status (NO_STATUS with a mark on stderr when
    it left none)."""
    # tail follows a watcher rather than the job: a finished job stays a
    # zombie until the host's init reaps it, which some inits (containers,
    # this project's CI) leave for seconds, and `tail --pid` counts a zombie
    # as running. The watcher ends once the job has written its status (its
    # last act) or is gone without one; this shell reaps the watcher itself.
    # Without a readable /proc, kill -0 alone decides, as tail's would.
    # Every look the watcher and tail wait past the job's end is time the
    # operator waits, downtime when the job is the cutover's `systemctl start`
    # (issue 12): a job is looked at every 20 ms for its first second, every
    # 100 ms after that, so a long unzip costs the host a `sleep` a tenth of
    # a second, as before. tail's own look at the watcher is a syscall.
    watch = ('n=0; while [ ! -s "$f.rc" ] && kill -0 "$pid" 2>/dev/null; do '
             'if read -r s < "/proc/$pid/stat" 2>/dev/null; then '
             'case "${s##*) }" in Z*|X*) break;; esac; fi; '
             'if [ $n -lt 50 ]; then n=$((n+1)); sleep 0.02; else sleep 0.1; fi; done')
    # The watcher writes nothing and is ended with tail: were tail to stop
    # early (no log), it must not hold the channel open until the job ends.
    return (f'f={_FOLDER}/{job}; pid=$(cat "$f.pid" 2>/dev/null) || exit {NO_STATUS}; '
            f'( {watch} ) </dev/null >/dev/null 2>&1 & w=$!; '
            f'tail -c +{offset + 1} -s 0.02 --pid="$w" -f "$f.log" 2>/dev/null; '
            'kill "$w" 2>/dev/null; rc=$(cat "$f.rc" 2>/dev/null); '
            'case "$rc" in ""|*[!0-9]*) ;; *) exit "$rc";; esac; '
            f'echo {shlex.quote(NO_STATUS_MARK)} >&2; exit {NO_STATUS}')


def forget_command(job: str) -> str:
    """Remove what a finished detached job left: its log, status and pid."""
    return f'f={_FOLDER}/{job}; rm -f "$f.rc" "$f.rc.new" "$f.log" "$f.pid"'
