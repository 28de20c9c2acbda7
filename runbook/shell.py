"""What a remote command is, before any connection: its result, the errors
an SSH layer reports, and the shell text every step builds commands with.

Kept apart from runbook.remote so that the procedure, the engine and the
front ends can use them without loading asyncssh, which costs a quarter of
a second at start-up and is needed only once the host is reached.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Told each line of a command's output: (stream "out" | "err", the line
# without its newline).
OutputSink = Callable[[str, str], None]


class RemoteError(Exception):
    """A remote problem explained in one sentence for the operator."""

    # The command a step gave (RunContext.sh) that this error kept from the
    # host: runbook.remote raises OutcomeUnknown once a command may have gone
    # out, so any other RemoteError of a command is one that was never sent.
    # None where the error is not a command's (a look, an upload).
    unsent: str | None = None
    # Set where the command had gone out all the same: a detached one whose
    # reconnect was refused after it started (runbook.remote.run_detached).
    launched: bool = False


# How a command's RemoteError ends when the command never reached the host
# (runbook.remote). A step's failure says it in its own sentence instead
# (Executor._failure), so it is taken off there: said once.
NOTHING_RAN = "; nothing ran"


class Refused(RemoteError):
    """The connection is refused for a reason that waiting will not mend (a
    host key not trusted, our key not let in, the settings disagreeing): a
    reconnect gives up at once and a command or upload says so, not "in doubt"."""


class HostKeyRefused(Refused):
    """The host's key is not one known_hosts trusts for it."""

    def __init__(self, message: str, known_hosts_line: str | None = None) -> None:
        super().__init__(message)
        # The line its advice says to add to known_hosts, as data: the front
        # ends show and copy this, never a line parsed out of a step's detail
        # (review: a detail quoting host output of that shape offered a copy).
        self.known_hosts_line = known_hosts_line


# A refused host key's message ends its advice with this, the known_hosts
# file and a colon, and then the line to add on a line of its own
# (runbook.remote; a jump host's, runbook.ssh_route), which HostKeyRefused
# (JumpHostRefused) carries: the front ends show and copy that line whole.
# After "then" where something comes first (a changed key's ssh-keygen -R),
# alone for a host not known yet.
ADD_THIS_LINE = "add this line to "


class KeyRefused(Refused):
    """The host does not accept our key for the user."""


class JumpHostRefused(Refused):
    """A jump host (ProxyJump) on the way is not trusted or does not let us in."""

    def __init__(self, message: str, known_hosts_line: str | None = None) -> None:
        super().__init__(message)
        # Not trusted, with its key read: the line its advice says to add to
        # the known_hosts it is checked against, as HostKeyRefused carries it.
        self.known_hosts_line = known_hosts_line


class OutcomeUnknown(RemoteError):
    """The action may or may not have happened: check before doing anything else."""


class CommandTimeout(OutcomeUnknown):
    pass


@dataclass(frozen=True)
class CommandResult:
    """A finished remote command: its exit status (None: unknown) and output."""
    command: str
    exit_status: int | None
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def last_error_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def answer_after(output: str, *markers: str) -> list[str]:
    """A command's own answer in its `output`: the lines from the last one
    whose first word is one of `markers` on; [] where none is. An exec
    request's stdout may begin with what the login shell's rc file prints
    (a banner), so every answer runbook reads of its own commands begins
    with a word of its own (runbook.jobs' status, runbook.claim's)."""
    lines = output.splitlines()
    ours = [n for n, line in enumerate(lines) if line.split()[:1] and line.split()[0] in markers]
    return lines[ours[-1]:] if ours else []


def quote(value: str | Path) -> str:
    """Every value put into a shell command goes through here."""
    return shlex.quote(str(value))


@dataclass(frozen=True)
class Uploaded:
    """What an upload sent, and what the host read of it."""

    sha256: str  # of the bytes sent, hashed as they went
    # The host's sha256 of the file, read part by part as the parts were
    # written; None when not asked for, or the host could not say.
    host_sha256: str | None = None
    # Bytes an earlier attempt had left on the host, proven ours by their
    # sha256, that the copy went on from (0: it started at the beginning).
    kept: int = 0


# private_folder's exit status when the folder is the user's but other
# accounts can write to it (any other failure: not a folder of the user's).
OTHERS_CAN_WRITE = 3


def private_folder(folder: str) -> str:
    """The command that makes `folder` the SSH user's alone, or finds it so: a
    folder, not a link, owned by the user, that no other account can write to.
    mkdir -m sets the mode only of a folder it makes, so one already there is
    looked at for group and other write bits (exit OTHERS_CAN_WRITE)."""
    f = quote(folder)
    return (f"mkdir -p -m 700 -- {f} && test -d {f} -a ! -L {f} -a -O {f} && "
            f"{{ test -z \"$(find {f} -maxdepth 0 -perm /022)\" || exit {OTHERS_CAN_WRITE}; }}")


def others_can_write(folder: str, user: str) -> str:
    """Why a private_folder that exited OTHERS_CAN_WRITE is refused, and the mend."""
    return (f"other accounts can write to {folder}, so one could swap a file there between "
            f"its checksum and its use as root. Run chmod go-w {quote(folder)} on the host as "
            f"{user}, or choose another install.upload_dir")


def loose_record(paths: list[str], user: str) -> str:
    """Why a job's record that another account could have written is not acted
    on (jobs.status_command exited LOOSE_RECORD naming `paths`), and the mend."""
    named = " ".join(quote(path) for path in paths)
    return (f"a job record of runbook's lies where another account could write it ({named}: "
            f"not {user}'s alone), so runbook neither trusts it nor ends the session it names. "
            f"Run chmod go-w {named} on the host (and, as root, chown {user} any of them "
            "another account owns), then try again")


def privileged(command: str, sudo: bool) -> str:
    """`command` run as root when the host config says sudo; never prompts."""
    return f"sudo -n {command}" if sudo else command


def privileged_script(script: str, sudo: bool) -> str:
    """A compound shell script run as root as one unit (pipes, &&, redirects)."""
    return f"sudo -n sh -c {quote(script)}" if sudo else script


def sha256_command(path: str, *, first: int | None = None) -> str:
    """The host's sha256 of the file `path` (or of its first `first` bytes),
    printed first on the line, by the fastest tool it has: `openssl dgst` is
    three to six times faster than coreutils' sha256sum (asyncssh-2.md section
    5; issue 12 measured 0.34 s against 1.8-2.4 s for 300 MiB). The file is
    read through a redirect, so no path is ever taken for an option."""
    if first is None:
        return f"{{ {SHA256_OF_STDIN}; }} < {quote(path)}"
    return f"head -c {first} < {quote(path)} | {{ {SHA256_OF_STDIN}; }}"


def landing_sha256_command(path: str) -> str:
    """The host's sha256 of the file `path`, read while it is still being
    written, printed as sha256_command prints it.

    Each line on standard input is a number of bytes known to be written
    past what was read so far; the host reads exactly those (the file is
    open once, so each read goes on where the last stopped). At the end of
    input it reads the rest of the file. Any read that fails fails the whole
    command (pipefail), so it never prints the hash of part of the file.

    It runs niced (renice, where the host has it): the copy is made while the
    live stream manager serves, and this is the host's work that can wait."""
    # GNU head -c N copies exactly N bytes from a shared descriptor (it reads
    # no more than is left); one that reads ahead (busybox) makes the hash
    # come out wrong, and the caller then reads the whole file again.
    return ("renice -n 10 -p $$ >/dev/null 2>&1; "
            f"set -o pipefail; exec 3< {quote(path)} || exit 1; "
            '{ while read -r n; do head -c "$n" <&3 || exit 1; done; cat <&3; } '
            f"| {{ {SHA256_OF_STDIN}; }}")


# Beside a file runbook replaces (Remote.replace_file), the file as it was
# before runbook's first write, never overwritten: for a template the step
# merges into, the template as shipped.
AS_IT_WAS = ".runbook-bak"


# The sha256 of standard input, hex first on the line, by the fastest tool the
# host has (sha256_command; runbook.remote's install script uses it too).
SHA256_OF_STDIN = ("if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r; "
                   "else sha256sum; fi")
