"""The way an SSH connection to the host goes, as the operator's ssh config
makes it: the HostName and port, the known_hosts files and the name they hold
the host by, and the ProxyJump hosts in between, which runbook opens itself.

asyncssh would open the ProxyJump hosts on its own, but then (review 54) a
jump host that is not trusted, or that refuses our key, fails as if the
target had, and a jump host whose UserKnownHostsFile is "none" is not checked
at all. Opened here, each hop is checked against a known_hosts file that is
never none, and a hop's failure is said as that jump host's, by its name.
"""

from __future__ import annotations

import asyncio
import errno
import getpass
import ipaddress
import os
import re
import shlex
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from runbook.shell import ADD_THIS_LINE, JumpHostRefused, RemoteError

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
# ssh's default UserKnownHostsFile is both (ssh_config(5)); the second is read
# where it is there, never written, and not said where it is not.
DEFAULT_KNOWN_HOSTS2 = "~/.ssh/known_hosts2"
# How a refusal says a key other than the one known_hosts lists, for the host
# and a jump host alike: ssh's "REMOTE HOST IDENTIFICATION HAS CHANGED".
CHANGED_SINCE = "Its key has changed since it was listed, or someone is in between."
# And a host a certificate authority is trusted for that shows a key it did
# not sign (known_hosts @cert-authority).
CERTIFICATE_GONE = "Its certificate is gone, or someone is in between."
# The files ssh also trusts keys from where the ssh config names no
# GlobalKnownHostsFile (ssh_config(5)): a fleet's keys kept centrally.
GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
# ${VAR} and %x in a UserKnownHostsFile, as OpenSSH reads them
# (ssh_config(5), TOKENS and ENVIRONMENT VARIABLES).
_ENV = re.compile(r"\$\{([^}]*)\}")
_TOKEN = re.compile(r"%(.)")
# Jump hosts that go through jump hosts of their own, at most this deep.
_MOST_NESTED = 8


def unreachable(exc: BaseException, *, advise: bool = True) -> str:
    """Why a connection could not be made, in words (asyncio's own name a
    socket call: "Connect call failed (...)"), with the setting to check when
    `advise`: not on a reconnect, where the settings had just worked."""
    number = getattr(exc, "errno", None)
    if number is None and isinstance(exc, OSError):
        # A name with several addresses fails as one OSError listing each
        # address's, without an errno of its own: one errno for all, if so.
        found = set(re.findall(r"\[Errno (\d+)\]", str(exc)))
        number = int(found.pop()) if len(found) == 1 else None
    what, check = str(exc) or type(exc).__name__, ""
    if isinstance(exc, socket.gaierror):
        what, check = "no such host, or its name cannot be resolved now", "host.address"
    elif isinstance(exc, TimeoutError):
        what, check = "no answer in time", "host.address, the network and any firewall"
    elif number == errno.ECONNREFUSED:
        what = "connection refused: nothing listens on that port"
        check = "host.port and that sshd runs"
    elif number in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        what, check = os.strerror(number).lower(), "host.address and the network"
    elif number is not None and number > 0:
        # A file's error (a missing identity or ProxyCommand) names the file.
        named = getattr(exc, "filename", None)
        what = f"{os.strerror(number)}: {named}" if named else os.strerror(number)
    return f"{what}; check {check}" if advise and check else what


def cannot_read(path: Path) -> str:
    """Why a known_hosts file that is there cannot be read (a folder, no
    permission), in words; "" where it reads, or is not there at all. ssh
    skips such a file and trusts what the others hold; so does runbook, and
    a refusal says it (never "not there yet", nor `touch` as the way to it)."""
    if not path.exists():
        return ""
    if not path.is_file():
        return "it is a folder, not a file" if path.is_dir() else "it is not a plain file"
    try:
        path.open("rb").close()
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    return ""


@dataclass(frozen=True)
class KnownHosts:
    """The known_hosts files a host's key is checked against: the operator's
    own (`own`: every UserKnownHostsFile named, there or not, as ssh reads
    them; where a line to trust a key goes, never a global file), ssh's
    second default file (`also`: ~/.ssh/known_hosts2, read where it is
    there), and the global ones that are there (`shared`: GlobalKnownHostsFile,
    read as ssh reads them and never written).

    Where the ssh config's UserKnownHostsFile is none or /dev/null
    (`user_none`, as written), ssh reads no file of the operator's, only the
    global ones: `own` is then empty, and a line to trust a key goes to
    `add_to`, the first global file, which root writes (review 56c F5).
    Where its GlobalKnownHostsFile is none (or /dev/null) too (`global_none`,
    as written), ssh reads no file at all and refuses every key: no file is
    then named to add a line to, only how to have one read (none_read)."""
    own: tuple[Path, ...]
    shared: tuple[Path, ...] = ()
    also: tuple[Path, ...] = ()
    add_to: Path | None = None
    user_none: str = ""
    global_none: str = ""

    @property
    def reads_none(self) -> bool:
        """No known_hosts file is read at all: no key can be trusted."""
        return bool(self.global_none)

    def none_read(self) -> str:
        """Why no key is trusted where no file is read, as ssh has it."""
        return (f"the ssh config names UserKnownHostsFile {self.user_none} and "
                f"GlobalKnownHostsFile {self.global_none} for it, so no known_hosts file is "
                "read and no key is trusted (ssh refuses every key so, whatever "
                "StrictHostKeyChecking says)")

    @staticmethod
    def name_one(config: str, *, or_else: str = "") -> str:
        """Where no file is read, how to have one read, ending in "then "
        (`or_else`: another way, if there is one)."""
        return (f"name a known_hosts file for it in the ssh config {config} (UserKnownHostsFile "
                f"~/.ssh/known_hosts, say){or_else}; then ")

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file read: a key any of them trusts is trusted, as by ssh."""
        return self.own + self.also + self.shared

    @property
    def said(self) -> str:
        """The files checked against, for a refusal: ssh's second default
        file only where it is there."""
        return " or ".join(str(f) for f in self.own + tuple(
            f for f in self.also if f.exists()) + self.shared) or str(self.add_to)

    @property
    def readable(self) -> list[str]:
        """The files to check against that are there and can be read (read as
        the connection is made: one made since the route was read counts). A
        file not there yet (~/.ssh/known_hosts on a new box) holds nothing: a
        key is then refused as not known, never failed as "No such file or
        directory"; one that cannot be read is passed over, as ssh passes
        over it, and said in a refusal (cannot_read)."""
        return [str(f) for f in self.files if f.is_file() and not cannot_read(f)]

    @property
    def absent(self) -> str:
        """For a refusal: the operator's own files that are not there yet, and
        those of the operator's that cannot be read, and why."""
        missing = [str(f) for f in self.own + self._add_to if not f.exists()]
        said = [f"{' and '.join(missing)} is not there yet"] if missing else []
        return ", and ".join(said + [f"{f} cannot be read ({why})" for f in self.own + self.also
                                     if (why := cannot_read(f))])

    @property
    def _add_to(self) -> tuple[Path, ...]:
        return (self.add_to,) if self.add_to is not None and not self.own else ()

    def unlisted(self) -> str:
        """For the refusal of a host none of the files lists: what was read."""
        there = self.readable
        found = [f"none for it in {' or '.join(there)}"] if there else []
        said = ", and ".join(found + ([self.absent] if self.absent else []))
        return said if not self.user_none else \
            f"{said}; the ssh config's UserKnownHostsFile {self.user_none} has ssh read no " \
            "file of yours"

    def unwritable(self, where: Path, refusing: str) -> str:
        """The refusal, in one line, of a key whose line would go to `where`,
        a file that cannot be read (`refusing`: who refuses what): what to
        mend before anything can be trusted (ssh refuses such a host too, as
        one not known; runbook read the others, as ssh does), or "" where it
        reads."""
        why = cannot_read(where)
        if not why:
            return ""
        others = self.readable
        read = f" (none for it in {' or '.join(others)})" if others else ""
        quoted = shlex.quote(str(where))
        mend = f"move it aside (mv {quoted} {shlex.quote(str(where) + '.old')})" \
            if where.is_dir() else \
            f"give yourself read and write access to it (chmod u+rw {quoted})"
        return (f"{refusing}: no key is trusted for it{read}, and {where} cannot be read "
                f"({why}): {mend}, then connect again to see its key and whether to trust it")

    def lists(self, lookup: Lookup | None, key: asyncssh.SSHKey | None = None, *,
              ported: bool = False) -> bool:
        """Whether any file read holds a key (or a revoked one) for the host,
        looked up as asyncssh looked it up (`lookup`: its name and the address
        it connected to): a key it offers that none holds is one not known yet,
        as ssh's "No ... host key is known"; one that differs from a key held
        has changed ("REMOTE HOST IDENTIFICATION HAS CHANGED"), a possible
        attack. Trust is by the name alone (review 55c H2), but a key other
        than `key` held under the address connected to is said as the alarm
        too, as ssh's CheckHostIP warns of it; the host's own key held there
        is no key for its name. Where that cannot be told (the lookup is not
        known, a file read cannot be parsed now), it is taken for changed: the
        alarm, not the calm."""
        if lookup is None:
            return True
        for path in self.readable:
            try:
                known = read_known_hosts(path)
            except (OSError, ValueError):
                return True
            # Where ssh's name has the port (`ported`: [name]:port, no
            # HostKeyAlias), with the port as written for it: a key listed
            # without it is the port-22 sshd's to ssh, which says no key is
            # known for [name]:port (review 55c L2: it read "changed" and its
            # advice took the port-22 entry out). A revocation counts either
            # way.
            port = lookup.port if ported else None
            named = known._match(lookup.name, "", port) if port else \
                known.match(lookup.name, "", lookup.port)
            revoked = known._match(lookup.name, "")[2] if port else []
            if named[0] or named[2] or revoked or self._other_under_address(known, lookup, key):
                return True
        return False

    @staticmethod
    def _other_under_address(known: asyncssh.SSHKnownHosts, lookup: Lookup,
                             key: asyncssh.SSHKey | None) -> bool:
        """Whether `known` holds a key other than `key` (any, where `key` is
        not known) under the address connected to, not the name."""
        if not lookup.address or lookup.address == lookup.name:
            return False
        held = known.match(lookup.address, "", lookup.port)[0]
        return any(key is None or k.public_data != key.public_data for k in held)

    def types_held(self, lookup: Lookup) -> set[str]:
        """The key types any file read holds for the host, under its name or
        the address connected to: for a refusal of a key of another type."""
        try:
            known = read_known_hosts(self.readable)
        except (OSError, ValueError):
            return set()
        names = [lookup.name] + ([lookup.address] if lookup.address else [])
        return {k.get_algorithm() for n in names for k in known.match(n, "", lookup.port)[0]}

    def authorities(self, lookup: Lookup) -> bool:
        """Whether any file read trusts a certificate authority for the host
        (@cert-authority): a plain key it shows, or a certificate another
        signed, is then no host not known yet (review 55b L6)."""
        return any(found is not None and found[1] for _path, found in
                   self._found(self.files, Lookup(lookup.name, "", lookup.port)))

    def revoked(self, lookup: Lookup, key: asyncssh.SSHKey) -> Path | None:
        """The first file that lists `key` as revoked for the host (@revoked),
        under any name asyncssh may look it up by, with the port or without
        (asyncssh passes over a line with the port when nothing else is held
        so; it is the operator's word all the same): a key never to be
        advised for adding (review 55b L6)."""
        names = [n for n in (lookup.name, lookup.address) if n]
        forms = names + ([f"[{n}]:{lookup.port}" for n in names] if lookup.port else [])
        for path in self.files:
            try:
                known = read_known_hosts(str(path))
            except (OSError, ValueError):
                continue
            if any(k.public_data == key.public_data
                   for form in forms for k in known.match(form, "", None)[2]):
                return path
        return None

    def before_adding(self, where: Path, lookup: Lookup, changed: bool,
                      key: asyncssh.SSHKey | None = None) -> str:
        """For a refusal's advice, what comes before the line is added to
        `where`, ending in "then ": the stale entries taken out where that
        file holds them (a changed key: ssh-keygen -R, as ssh advises, on each
        name it holds the host by, its address's too); else, where it is not
        there yet, the command that makes it as ssh would (mode 600, its
        folder 700) and leaves a file made since as it is. ssh-keygen -R
        fails on a file that is not there, and a host not known yet has
        nothing to take out."""
        stale = self.entries(where, lookup, key) if changed else []
        if stale:
            return " && ".join(shlex.join(["ssh-keygen", "-R", name, "-f", str(where)])
                               for name in stale) + ", then "
        if where in self._add_to:
            # A global file: root's to write, and read by every user.
            return "as root, " if where.is_file() else (
                f"create {where} as root, readable by all: "
                f"({shlex.join(['install', '-D', '-m', '644', '/dev/null', str(where)])}); "
                "then, as root, ")
        if where.is_file():
            return ""
        made = shlex.join(["touch", str(where)])
        if not where.parent.is_dir():
            made = f"{shlex.join(['mkdir', '-p', str(where.parent)])} && {made}"
        return f"create {where} with mode 600: (umask 077 && {made}); then "

    def entries(self, where: Path, lookup: Lookup,
                key: asyncssh.SSHKey | None = None) -> list[str]:
        """The names `where` holds a key for the host by, as ssh-keygen -R
        takes them: its name, and the address it connected to where a key
        other than `key` is held under it (review 55b H1; a stale key there is
        said as the alarm, review 55c H2; the host's own key there is left).
        With the port where any file holds a key so ([name]:port), for
        asyncssh then looks no further; else without it."""
        try:
            every = read_known_hosts(self.readable)
            own = read_known_hosts(str(where))
        except (OSError, ValueError):
            return []
        names = list(dict.fromkeys(n for n in (lookup.name, lookup.address) if n))
        if lookup.port:
            ported = [f"[{n}]:{lookup.port}" for n in names]
            if any(found[0] or found[1] for found in (every.match(n, "", None) for n in ported)):
                names = ported
        address = {lookup.address, f"[{lookup.address}]:{lookup.port}"} \
            if lookup.address and lookup.address != lookup.name else set()
        return [n for n in names if any(
            n not in address or key is None or k.public_data != key.public_data
            for k in own.match(n, "", None)[0])]

    def holding(self, lookup: Lookup) -> Path:
        """The first of the operator's own files (~/.ssh/known_hosts2 too)
        that holds a key for the host (the one whose entry is stale), else
        the first of them."""
        return next((path for path, found in self._found(self.own + self.also, lookup)
                     if found is not None and found[0]), (self.own + self._add_to)[0])

    def stale_elsewhere(self, lookup: Lookup) -> str:
        """For a refusal: the global file that holds another key for the host,
        which the operator's line does not take out."""
        found = next((path for path, found in self._found(self.shared, lookup)
                      if found is not None and found[0]), None)
        return "" if found is None else \
            f" ({found} holds another key for it: tell whoever keeps that file)"

    @staticmethod
    def _found(files: tuple[Path, ...], lookup: Lookup) -> Iterator[tuple[Path, Any]]:
        """Each file that is there, with what it holds for the host as
        asyncssh matches it (host keys, CA keys, revoked keys, ...), or None
        where it cannot be read now."""
        for path in files:
            if not path.is_file() or cannot_read(path):
                continue
            try:
                yield path, read_known_hosts(str(path)).match(
                    lookup.name, lookup.address, lookup.port)
            except (OSError, ValueError):
                yield path, None


@dataclass(frozen=True)
class Lookup:
    """What asyncssh looked the host's key up by in known_hosts as it
    connected (SSHClientConnection._connection_made): its HostKeyAlias, else
    its HostName; the address it connected to ("" through a jump host or a
    ProxyCommand, where asyncssh has none); the port, None for 22."""
    name: str
    address: str
    port: int | None

    @classmethod
    def by_name(cls, host: str, port: int, alias: str | None) -> Lookup:
        """As far as a route tells it, before any connection: not the address
        connected to, which only the connection knows (WatchedKnownHosts)."""
        return cls(alias or host, "", None if port == 22 else port)


# Where asyncssh's known_hosts match puts the revoked keys, certificates and
# X.509 subjects (host keys, CA keys, revoked keys, certs, revoked certs,
# subjects, revoked subjects).
_REVOKED = (2, 4, 6)


def read_known_hosts(files: str | list[str]) -> asyncssh.SSHKnownHosts:
    """known_hosts files read as asyncssh reads them, but for a line that
    trusts a key (or an authority) for a network written as a pattern
    (127.0.0.0/8 KEY): asyncssh matches it against every address in that
    network, where OpenSSH's known_hosts has no networks and the line trusts
    nothing (review 55c L1). Such a line is left out; a revocation written so
    is kept (it refuses, never trusts). Raises OSError and ValueError as
    asyncssh does."""
    known = asyncssh.SSHKnownHosts()
    for name in [files] if isinstance(files, str) else files:
        text = Path(name).read_text()
        known.load("\n".join(line for line in text.splitlines() if not _trusts_a_network(line)))
    return known


def _trusts_a_network(line: str) -> bool:
    words = line.split()
    if not words or words[0].startswith("#") or words[0] == "@revoked":
        return False
    pattern = words[1] if words[0].startswith("@") and len(words) > 1 else words[0]
    if pattern.startswith("|"):
        return False  # hashed: never a network
    for part in pattern.split(","):
        if "/" in part and not part.startswith("!"):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                continue
            return True
    return False


class WatchedKnownHosts(asyncssh.SSHKnownHosts):
    """The known_hosts files a connection checks the host's key against,
    read as asyncssh reads a list of files (as it looks the key up), that
    keeps what it looked the key up by (`looked_up`): a refusal counts the
    entries for the address too, as asyncssh does (review 55b H1: a changed
    key held under the host's address alone read as "no key is trusted for
    this host yet"). No file at all is no key known: asyncssh reads
    ~/.ssh/known_hosts for an empty known_hosts (review 55b M1), and this is
    never empty (an SSHKnownHosts is true)."""

    def __init__(self, files: list[str]) -> None:
        super().__init__()
        self._files = files
        self.looked_up: Lookup | None = None

    def unreadable(self) -> str:
        """The first line of a file read that asyncssh cannot read (an
        unknown @marker, a line of one field, a hash of another kind), named
        with its file, for a refusal in one line; "" where none. ssh skips
        such a line; runbook refuses instead (review 55c L3: it ended the run
        in a traceback): it may be a mistyped revocation, and skipping it
        could trust a key the operator meant to refuse."""
        for path in self._files:
            try:
                text = Path(path).read_text(errors="replace")
            except OSError:
                continue  # read again by asyncssh, which says why
            for number, line in enumerate(text.splitlines(), 1):
                try:
                    asyncssh.import_known_hosts(line)
                except ValueError as exc:
                    return f"{path} line {number} cannot be read ({exc}): fix or remove it"
        return ""

    def match(self, host: str, addr: str, port: int | None) -> Any:
        """What asyncssh trusts for the host, with every key (and certificate
        or subject) revoked under any form it is looked up by: with the port
        and without it. asyncssh, finding nothing trusted with the port, looks
        again without it and keeps only that lookup's revoked keys, so a key
        trusted as `host KEY` and revoked as `@revoked [host]:port KEY` was
        let in where ssh refuses it (review 55c H1). A key is trusted only
        under the name the host is looked up by (its HostKeyAlias, else its
        HostName), with the port or, as asyncssh and ssh do, without it; one
        held under the address connected to alone is not (review 55c H2), but
        one revoked there stays revoked."""
        self.looked_up = Lookup(host, addr, port)
        known = read_known_hosts(self._files)
        # Keys and authorities trusted under the name alone, as ssh looks the
        # host up (review 55c H2: one held under the address connected to let
        # in a host whose name known_hosts holds another key for).
        found: list[list[Any]] = [list(part) for part in known.match(host, "", port)]
        for other in (known._match(host, addr, port), known._match(host, addr)):
            for i in _REVOKED:
                found[i] += [r for r in other[i] if r not in found[i]]
        return tuple(found)


@dataclass(frozen=True)
class GlobalFiles:
    """The global known_hosts files ssh reads for a host: those the ssh
    config names as GlobalKnownHostsFile, else the default (GLOBAL_KNOWN_HOSTS),
    ~ expanded (ssh expands no token or variable in them). "none" (asyncssh
    reads it as an empty list) reads none of them, which turns nothing off:
    the operator's own files are still checked. Where the ssh config names
    none (or /dev/null alone), `none` is what it wrote."""
    named: tuple[Path, ...]
    none: str = ""

    @classmethod
    def of(cls, named: object, default: tuple[str, ...]) -> GlobalFiles:
        given = isinstance(named, list) and all(isinstance(n, str) for n in named)
        names = named if given else default
        assert isinstance(names, list | tuple)
        none = "" if not given else "none" if not names else \
            " ".join(names) if all(n == os.devnull for n in names) else ""
        return cls(tuple(Path(n).expanduser() for n in names), none)

    @property
    def there(self) -> tuple[Path, ...]:
        """Those that are there to read."""
        return tuple(p for p in self.named if p.is_file() and os.access(p, os.R_OK))


def global_known_hosts(named: object, default: tuple[str, ...]) -> tuple[Path, ...]:
    """The global known_hosts files ssh reads for a host that are there to
    read (GlobalFiles)."""
    return GlobalFiles.of(named, default).there


def known_hosts_named(named: object, tokens: dict[str, str], *, where: str,
                      prefix: str, or_else: str = "",
                      shared: GlobalFiles = GlobalFiles(())) -> KnownHosts:
    """The files an ssh config's UserKnownHostsFile names for a host (all of
    them, and only them, as ssh reads them), ${VAR} and %-tokens expanded as
    OpenSSH does; else ssh's default (default_known_hosts); and the global files
    `shared`, read beside them as ssh reads them. "none" and /dev/null have
    ssh read no file of the operator's: the global files alone are read, as
    ssh reads them (review 56c F5: ~/.ssh/known_hosts and known_hosts2 were),
    and checking is never turned off, as asyncssh would for none; a key is
    then trusted by a line in the first global file. A file named that
    is not there is no reason to read another: ssh reads only the files named,
    and a refusal says it is not there yet. A name that cannot be expanded is
    refused, its advice ending with `or_else` (another way, if there is one)."""
    if not isinstance(named, list) or not all(isinstance(n, str) for n in named):
        return default_known_hosts(shared.there)
    files = [path for path in (Path(_expand(written, tokens, where=where, prefix=prefix,
                                            or_else=or_else)).expanduser() for written in named)
             if str(path) != os.devnull]
    if files:
        return KnownHosts(tuple(files), shared=shared.there)
    user_none = " ".join(named) if named else "none"
    if shared.none:
        # With GlobalKnownHostsFile none too, ssh reads no file and trusts
        # no key at all: no file to add a line to (it named
        # /etc/ssh/ssh_known_hosts, which ssh then never reads).
        return KnownHosts((), user_none=user_none, global_none=shared.none)
    first = (*shared.named, Path(GLOBAL_KNOWN_HOSTS[0]))[0]
    return KnownHosts((), shared=shared.there, add_to=first, user_none=user_none)


def default_known_hosts(shared: tuple[Path, ...] = ()) -> KnownHosts:
    """ssh's own files where nothing names others: ~/.ssh/known_hosts, where
    a line to trust a key goes, and ~/.ssh/known_hosts2, read beside it."""
    return KnownHosts((Path(DEFAULT_KNOWN_HOSTS).expanduser(),), shared=shared,
                      also=(Path(DEFAULT_KNOWN_HOSTS2).expanduser(),))


def _expand(written: str, tokens: dict[str, str], *, where: str, prefix: str,
            or_else: str) -> str:
    def env(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise RemoteError(
                f"{prefix}: the ssh config {where} names UserKnownHostsFile {written}, and "
                f"the environment variable {match.group(1)} is not set: set it{or_else}")
        return value

    def token(match: re.Match[str]) -> str:
        value = tokens.get(match.group(1))
        if value is None:
            raise RemoteError(
                f"{prefix}: the ssh config {where} names UserKnownHostsFile {written}, and "
                f"runbook does not expand %{match.group(1)} in it: write the file's path "
                f"there without it{or_else}")
        return value

    return _TOKEN.sub(token, _ENV.sub(env, written))


def tokens_of(made: asyncssh.SSHClientConnectionOptions, original: str,
              alias: str | None, port: int) -> dict[str, str]:
    """OpenSSH's %-tokens for a UserKnownHostsFile (ssh_config(5) TOKENS),
    for the connection `made` describes. %C and %j are left out: runbook
    refuses them rather than guess OpenSSH's hash or jump list."""
    local = socket.gethostname()
    return {"%": "%", "d": str(Path("~").expanduser()), "u": getpass.getuser(),
            "i": str(os.getuid()), "l": local, "L": local.split(".", 1)[0],
            "h": str(made.host or original), "n": original, "p": str(port),
            "r": str(made.username), "k": alias or original}


@dataclass(frozen=True)
class Route:
    """Where the connection to the host goes: the HostName and port it
    connects to, the known_hosts files its key is checked against, the
    ProxyJump or ProxyCommand it goes through, the HostKeyAlias known_hosts
    holds the host by."""
    host: str
    port: int
    known_hosts: KnownHosts
    tunnel: str | None = None
    proxy_command: tuple[str, ...] | None = None
    alias: str | None = None

    @property
    def known_hosts_name(self) -> str:
        return known_hosts_name(self.host, self.port, self.alias)

    @property
    def lookup(self) -> Lookup:
        """What asyncssh looks the host's key up by, as far as the route tells it."""
        return Lookup.by_name(self.host, self.port, self.alias)


def known_hosts_name(host: str, port: int, alias: str | None = None) -> str:
    """The name known_hosts holds a host by, as ssh looks it up (sshd(8),
    ssh_config(5) HostKeyAlias: an alias goes without the port; asyncssh,
    failing "[alias]:port", looks for it so too)."""
    if alias:
        return alias
    return host if port == 22 else f"[{host}]:{port}"


@dataclass(frozen=True)
class Hop:
    """One host of a ProxyJump list: [user@]host[:port]."""
    name: str
    user: str | None = None
    port: int | None = None


def hops(tunnel: str) -> list[Hop]:
    """A ProxyJump list's hosts, in order (a copy of asyncssh's own parsing
    of it, connection._open_tunnel)."""
    return [_hop(spec) for spec in tunnel.split(",")]


def _hop(spec: str) -> Hop:
    user, _, where = spec.rpartition("@")
    if ":" in where:
        name, port = where.rsplit(":", 1)
        return Hop(name, user or None, int(port))
    return Hop(where, user or None)


@dataclass
class Through:
    """How to open the jump hosts: the ssh config, its name for the
    operator, and who we are (for the words of a hop's failure)."""
    config: object
    config_name: str
    target: str
    address: str
    connect_timeout: float
    isolated: bool
    # Where ssh reads global known_hosts where the ssh config names none.
    global_known_hosts: tuple[str, ...] = GLOBAL_KNOWN_HOSTS


async def open_hops(tunnel: str, how: Through, depth: int = 0) -> asyncssh.SSHClientConnection:
    """The last jump host of `tunnel`, connected through the ones before it,
    each checked against its own known_hosts (known_hosts_named: never none).
    Closing it closes them all. A hop that fails is said as that jump host's:
    JumpHostRefused for a key not trusted or ours refused, RemoteError when it
    cannot be reached."""
    if depth > _MOST_NESTED:
        raise RemoteError(
            f"{how.target}: cannot reach {how.address}: the ProxyJump hosts {how.config_name} "
            f"gives go through each other more than {_MOST_NESTED} deep (a loop? a ProxyJump "
            "under Host * applies to the jump host too): give the jump host ProxyJump none")
    last: asyncssh.SSHClientConnection | None = None
    try:
        for hop in hops(tunnel):
            last = await _open_hop(hop, last, how, depth)
    except BaseException:
        if last is not None:
            last.close()
        raise
    assert last is not None  # a ProxyJump list is never empty
    return last


async def _open_hop(hop: Hop, before: asyncssh.SSHClientConnection | None,
                    how: Through, depth: int) -> asyncssh.SSHClientConnection:
    cannot = f"{how.target}: cannot reach {how.address} via jump host {hop.name}"
    made = await asyncssh.SSHClientConnectionOptions.construct(
        None, config=how.config, host=hop.name, port=hop.port or (),
        username=hop.user or ())
    alias = made.host_key_alias if isinstance(made.host_key_alias, str) else None
    known = known_hosts_named(made.config.get("UserKnownHostsFile", ()),
                              tokens_of(made, hop.name, alias, int(made.port)),
                              where=how.config_name, prefix=cannot,
                              shared=GlobalFiles.of(made.config.get("GlobalKnownHostsFile"),
                                                    how.global_known_hosts))
    # The first jump host's own ProxyJump is followed, as asyncssh and ssh
    # follow it; a later one goes through the one before it only (asyncssh).
    own = made.tunnel if before is None and isinstance(made.tunnel, str) and \
        made.tunnel.lower() not in ("", "none") else None
    via = await open_hops(own, how, depth + 1) if own is not None else before
    try:
        conn = await _connect_hop(hop, made, alias, known, via, how, cannot)
    except BaseException:
        if own is not None and via is not None:
            via.close()
        raise
    conn.set_tunnel(via)  # closing this hop closes the ones before it
    return conn


async def _connect_hop(hop: Hop, made: asyncssh.SSHClientConnectionOptions,
                       alias: str | None, known: KnownHosts,
                       via: asyncssh.SSHClientConnection | None, how: Through,
                       cannot: str) -> asyncssh.SSHClientConnection:
    watched = WatchedKnownHosts(known.readable)
    unreadable = watched.unreadable()
    if unreadable:
        raise RemoteError(f"{cannot}: {hop.name}'s key cannot be checked: {unreadable}")
    options: dict[str, object] = {"connect_timeout": how.connect_timeout}
    if how.isolated:
        options["agent_path"] = None
    try:
        conn = await asyncssh.connect(
            hop.name, hop.port or (), username=hop.user or (), tunnel=via,
            config=how.config, known_hosts=watched, **options)
    except asyncssh.HostKeyNotVerifiable:
        raise await _hop_key_untrusted(hop, made, alias, known, watched.looked_up, via, how,
                                       cannot) from None
    except asyncssh.PermissionDenied:
        raise JumpHostRefused(
            f"{cannot}: {hop.name} refused our key for user {made.username}; check the User "
            f"and IdentityFile that {how.config_name} gives for {hop.name}") from None
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        if isinstance(exc, (asyncssh.KeyExchangeFailed, asyncssh.ConnectionLost,
                            ConnectionResetError)) and \
                await _key_of_another_type(hop, known, watched.looked_up, via, how):
            raise await _hop_key_untrusted(hop, made, alias, known, watched.looked_up, via,
                                           how, cannot) from None
        raise RemoteError(
            f"{cannot}: {unreachable(exc, advise=False)}; check the HostName and Port that "
            f"{how.config_name} gives for {hop.name}, and that it is up") from None
    return conn


async def _key_of_another_type(hop: Hop, known: KnownHosts, looked_up: Lookup | None,
                               via: asyncssh.SSHClientConnection | None, how: Through) -> bool:
    """Whether a jump host whose key exchange failed offers no key of a type
    its known_hosts holds for it (review 55c M1: a changed key read as a jump
    host not reached). asyncssh offers it only the held types, so such a host
    ends the key exchange instead of showing a key to refuse. As for the host
    (Remote._key_of_another_type): the key it offers of any type, read on a
    connection of its own that trusts nothing, is none held; and, asked
    twice for the held types, it shows none (a blip is no changed key)."""
    if looked_up is None:
        return False
    try:
        trusted = read_known_hosts(known.readable).match(looked_up.name, "", looked_up.port)[0]
    except (OSError, ValueError):
        return False
    if not trusted:
        return False  # nothing held: asyncssh offered every type

    async def probe(algorithms: list[str]) -> asyncssh.SSHKey | None:
        try:
            return await asyncio.wait_for(asyncssh.get_server_host_key(
                hop.name, hop.port or (), tunnel=via or (),
                config=how.config,  # type: ignore[arg-type]
                server_host_key_algs=algorithms or ()), how.connect_timeout)
        except (OSError, asyncssh.Error, TimeoutError, ValueError):
            return None

    key = await probe([])
    if key is None or key.public_data in {k.public_data for k in trusted}:
        return False
    held = sorted({alg.decode() for k in trusted for alg in k.sig_algorithms})
    for _ in range(2):
        if await probe(held) is not None:
            return False
    return True


async def _hop_key_untrusted(hop: Hop, made: asyncssh.SSHClientConnectionOptions,
                             alias: str | None, known: KnownHosts, looked_up: Lookup | None,
                             via: asyncssh.SSHClientConnection | None, how: Through,
                             cannot: str) -> JumpHostRefused:
    """The refusal of a jump host whose key is not trusted: its fingerprint
    and, as for the host (Remote._host_key_refused), the entry to take out
    and the line to add to the file it is checked against once that is
    checked, carried as data for the front ends to copy; read on a connection
    of its own that checks nothing (only to be shown, never to trust)."""
    try:
        key = await asyncio.wait_for(asyncssh.get_server_host_key(
            hop.name, hop.port or (), tunnel=via or (),
            config=how.config),  # type: ignore[arg-type]
            how.connect_timeout)
    except (OSError, asyncssh.Error, TimeoutError, ValueError):
        key = None
    host, port = str(made.host or hop.name), int(made.port)
    name = known_hosts_name(host, port, alias)
    # As asyncssh looked it up: by its name and the address it connected to
    # (review 55b H1); not known, the name alone, and taken for changed.
    lookup = looked_up or Lookup.by_name(host, port, alias)
    if known.reads_none:
        public = key.export_public_key().decode().split() if key is not None else None
        line = f"{name} {public[0]} {public[1]}" if public else None
        offers = f"It offers {key.get_fingerprint()}. " if key is not None else \
            "Its key could not be read to show you (connect again to see its fingerprint). "
        trust = (f"Trust it only once you know it is {hop.name}'s: compare the fingerprint "
                 f"with the one `ssh-keygen -lf` shows for {hop.name}'s "
                 "/etc/ssh/ssh_host_*_key.pub, read there by another way than this connection "
                 "(its console, say).")
        add = f"{ADD_THIS_LINE}it:\n{line}" if line else \
            f"add to it a line of {name} and the first two words of that file"
        return JumpHostRefused(
            f"{cannot}: {hop.name}'s host key is not trusted: {known.none_read()}. {offers}"
            f"{trust} Only if they are the same, {known.name_one(how.config_name)}{add}", line)
    where = known.holding(lookup)
    # Listed with another key: changed, its entry to take out first. Listed
    # nowhere: not known yet, nothing to take out (ssh-keygen -R fails on a
    # file not there), and the file to make if it is not there (trial 55 F13).
    changed = known.lists(looked_up, key, ported=name.startswith("["))
    # A changed key said as the alarm it is, as the host's (review 55b M2: it
    # read calmer than a key not known yet); so a key a certificate authority
    # trusted for it did not sign (review 55b L6).
    if changed:
        why = f": it is not the key listed there for it{known.stale_elsewhere(lookup)}. " \
            f"{CHANGED_SINCE}"
    elif known.authorities(lookup):
        why = (": a certificate authority is trusted for it there, and it showed a key that "
               f"authority did not sign. {CERTIFICATE_GONE}")
    else:
        why = f": no key is trusted for it yet{f' ({known.absent})' if known.absent else ''}."
    said = f"{cannot}: {hop.name}'s host key is not trusted in {known.said}{why}"
    trust = (f"Trust it only once you know it is {hop.name}'s: compare the fingerprint with "
             f"the one `ssh-keygen -lf` shows for {hop.name}'s /etc/ssh/ssh_host_*_key.pub, "
             "read there by another way than this connection (its console, say).")
    first = known.before_adding(where, lookup, changed, key)
    unwritable = known.unwritable(where, f"{cannot}: refusing {hop.name}'s host key" + (
        f" {key.get_fingerprint()}" if key is not None else ""))
    if unwritable and (key is None or known.revoked(lookup, key) is None):
        return JumpHostRefused(unwritable)
    if key is None:
        return JumpHostRefused(
            f"{said} Its key could not be read to show you (connect again to see its "
            f"fingerprint). {trust} Only if they are the same, {first}add a line to "
            f"{where} of {name} and the first two words of that file")
    revoked = known.revoked(lookup, key)
    if revoked is not None:
        # A key revoked is never offered to be trusted (review 55b L6).
        return JumpHostRefused(
            f"{cannot}: {hop.name}'s host key {key.get_fingerprint()} is listed as revoked in "
            f"{revoked}: never trust it. It needs a new key, or someone is in between.")
    public = key.export_public_key().decode().split()
    line = f"{name} {public[0]} {public[1]}"
    # The line on a line of its own, as the host's: the front ends show and
    # copy it whole (y in the TUI), the report sets it as code.
    return JumpHostRefused(
        f"{said} It offers {key.get_fingerprint()}. {trust} Only if they are the same, "
        f"{first}{ADD_THIS_LINE}{where}:\n{line}", line)
