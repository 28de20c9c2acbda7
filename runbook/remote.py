"""One asyncssh connection per host, reused for every command, upload and read.

The rules this module keeps, because each one was learnt the hard way
(see shared/notes/asyncssh.md):

* the host key is checked against known_hosts, never accepted blindly; an
  unknown or changed key is refused and its fingerprint shown;
* keepalive is on, so a dead network ends in seconds, not hours;
* every command runs under the host's own ``timeout`` (TERM to the command's
  whole process group, KILL after a grace period): OpenSSH refuses SSH signal
  requests in a root session, so signalling over the channel alone would leave
  a timed-out command running. A local ``asyncio.timeout`` a little longer is
  the backstop for a host or network that stops answering altogether;
* a command whose exit status never arrived has an *unknown* outcome, which
  is reported as such and never treated as success;
* a stop (an abort, x, a limit passed) tries the host once and is bounded,
  never waiting out a reconnect; one that cannot reach the host says the
  command runs on there until its own limit (:meth:`Remote._stopping`);
* a file is replaced whole or not at all (:meth:`Remote.replace_file`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import math
import random
import shlex
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncssh
from asyncssh.constants import MSG_IGNORE

from runbook import filewrite, jobs, lost_writes, upload
from runbook.config import HostSettings
from runbook.sftp import LOST, SFTP_LOST
from runbook.sharedshell import SharedShell, ShellUnavailable
from runbook.shell import ADD_THIS_LINE, NOTHING_RAN, loose_record
from runbook.shell import CommandResult as CommandResult
from runbook.shell import CommandTimeout as CommandTimeout
from runbook.shell import HostKeyRefused as HostKeyRefused
from runbook.shell import JumpHostRefused as JumpHostRefused
from runbook.shell import KeyRefused as KeyRefused
from runbook.shell import OutcomeUnknown as OutcomeUnknown
from runbook.shell import OutputSink as OutputSink
from runbook.shell import Refused as Refused
from runbook.shell import RemoteError as RemoteError
from runbook.shell import Uploaded as Uploaded
from runbook.shell import privileged as privileged
from runbook.shell import privileged_script as privileged_script
from runbook.shell import quote as quote
from runbook.shell import sha256_command as sha256_command
from runbook.ssh_route import (
    CERTIFICATE_GONE,
    CHANGED_SINCE,
    GLOBAL_KNOWN_HOSTS,
    GlobalFiles,
    KnownHosts,
    Lookup,
    Route,
    Through,
    WatchedKnownHosts,
    default_known_hosts,
    global_known_hosts,
    known_hosts_named,
    open_hops,
    read_known_hosts,
    tokens_of,
    unreachable,
)
from runbook.upload import ProgressSink

# GNU timeout's answers: the limit passed and TERM ended the command (124);
# the command outlived the grace period too and the KILL sent to its process
# group took timeout itself along (the session ends by signal: -9, or 137
# when a shell reports it).
_TIMED_OUT = 124
_KILLED = (-9, 128 + 9)
# How much longer than the host's own limit we wait before giving up on it.
_BACKSTOP_S = 10.0
# An assignment and its expansion: every Bourne-style shell reads it, and csh
# and fish do not (tcsh: "r=bourne: Command not found.").
_BOURNE_PROBE = 'r=bourne; echo "$r"'
# The longest pause between two attempts to re-open a lost connection.
_BACKOFF_CAP_S = 10.0

# How much longer than its grace period and one attempt at the host a stop of
# a command may take (its looks and signals over a live link take a second).
_STOP_MARGIN_S = 5.0


@dataclass
class _Stop:
    """A stop of a command under way (an abort, x, a limit passed): its looks
    and signals reach the host on the connection there is, or on one attempt
    at a new one, never through the reconnect's minutes of backoff (review 62,
    G1: an abort on a dead network waited them out, "reconnecting" said after
    the operator chose to leave)."""

    # Its one attempt at the host failed: what comes after fails at once.
    unreached: bool = False


_STOPPING: contextvars.ContextVar[_Stop | None] = contextvars.ContextVar(
    "runbook_remote_stopping", default=None)

# Shared shells kept open per connection for the next commands (sshd allows
# ten sessions a connection by default; uploads and attaches need some).
# Five: the widest look in the downtime (service-unit's) sends five at once.
_IDLE_SHELLS = 5

_CIPHERS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"]
# Ciphers that authenticate each packet and chain no IV from one packet to the
# next: no SSH_MSG_IGNORE guard is needed with them (_send_no_ignore_packets).
_AEAD_CIPHERS = frozenset({"aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
                           "chacha20-poly1305@openssh.com"})


# OpenSSH's file for a host key of each type (sshd_config(5), HostKey), by the
# algorithm the host offers it with: an RSA key is offered as ssh-rsa or, signed
# with SHA-2, as rsa-sha2-256 or -512.
_HOST_KEY_FILES = {
    "ssh-ed25519": "ssh_host_ed25519_key.pub",
    "ecdsa-sha2-nistp256": "ssh_host_ecdsa_key.pub",
    "ecdsa-sha2-nistp384": "ssh_host_ecdsa_key.pub",
    "ecdsa-sha2-nistp521": "ssh_host_ecdsa_key.pub",
    "ssh-rsa": "ssh_host_rsa_key.pub",
    "rsa-sha2-256": "ssh_host_rsa_key.pub",
    "rsa-sha2-512": "ssh_host_rsa_key.pub",
    "ssh-dss": "ssh_host_dsa_key.pub",
}
_CERTIFICATE = "-cert-v01@openssh.com"


class _ByteReader(Protocol):
    async def readline(self) -> bytes: ...

    async def readexactly(self, n: int, /) -> bytes: ...


class _ByteWriter(Protocol):
    def write(self, data: bytes, /) -> None: ...

    def close(self) -> None: ...


async def _read_host_key_types(reader: _ByteReader, writer: _ByteWriter) -> set[str] | None:
    """The host key types an SSH server offers, as its first key exchange
    message lists them (RFC 4253 7.1); None where that is not what it sends."""
    writer.write(b"SSH-2.0-runbook_probe\r\n")
    # Lines before the version line are allowed (RFC 4253 4.2).
    for _ in range(32):
        if (await reader.readline()).startswith(b"SSH-"):
            break
    else:
        return None
    size = int.from_bytes(await reader.readexactly(4), "big")
    if not 16 < size <= 35000:
        return None
    packet = await reader.readexactly(size)
    payload = packet[1:size - packet[0]]
    if payload[:1] != b"\x14":  # SSH_MSG_KEXINIT
        return None
    names = payload[17:]  # past the cookie
    skip = int.from_bytes(names[:4], "big")  # the key exchange methods
    names = names[4 + skip:]
    length = int.from_bytes(names[:4], "big")
    if len(names) < 4 + length:
        return None
    return set(names[4:4 + length].decode("ascii").split(","))


def host_key_file(algorithm: str | None) -> str | None:
    """The name of the public key file a host keeps a key of `algorithm` in
    (ssh_host_ecdsa_key.pub for ecdsa-sha2-nistp256); None for one OpenSSH
    does not name so. A certificate's is its key's."""
    if algorithm is None:
        return None
    return _HOST_KEY_FILES.get(algorithm.removesuffix(_CERTIFICATE))


# For this long after a login, pending ACKs go out every this often (see
# _acknowledge_early).
_EARLY_ACKS_S = 0.1
_EARLY_ACK_EVERY_S = 0.002


def _send_no_ignore_packets(conn: asyncssh.SSHClientConnection) -> None:
    """Leave out the SSH_MSG_IGNORE asyncssh sends ahead of every packet.

    It is RFC 4251's guard (section 9.3.1) against an attack on CBC ciphers,
    whose next IV an eavesdropper could otherwise predict. This connection
    offers only AEAD ciphers (_CIPHERS), which chain no IV from packet to
    packet and need no such guard. Every packet of an upload had one before
    it: leaving them out made the copy about 5 % faster (benchmarks/upload.py,
    300 MiB to a real sshd, one run of 3 rounds each way: 0.99x -> 1.04x scp).
    A connection on any other cipher is left as asyncssh made it."""
    if conn.get_extra_info("send_cipher") not in _AEAD_CIPHERS:
        return
    send = conn.send_packet

    def send_packet(pkttype: int, *args: bytes, handler: Any = None) -> None:
        if pkttype != MSG_IGNORE:
            send(pkttype, *args, handler=handler)

    # asyncssh sends every packet, its own IGNOREs included, through this name.
    conn.send_packet = send_packet  # type: ignore[method-assign]


def _acknowledge_early(conn: asyncssh.SSHClientConnection) -> None:
    """Send our ACKs at once for the first tenth of a second of a connection.

    OpenSSH's sshd sends a few small packets right after the login (its host
    keys, a debug line per key option) and turns Nagle's algorithm off only
    once a session starts (packet.c, ssh_packet_set_interactive). So its answer
    to our first channel waited for our ACK of those packets, which Linux
    delays by 40 ms: every fresh connection's first command or upload paid it.
    TCP_QUICKACK sends a pending ACK now and leaves delayed-ACK mode, but only
    until the next exchange, so it is asked again every few milliseconds while
    those packets can arrive (benchmarks/first_channel.py, loopback: a first
    `true` 52 -> 11 ms, a first SFTP start 47 -> 6 ms, a later one 3.5 ms; at
    5 ms steps the first SFTP start took 9 ms). Asking from asyncssh's host-keys
    handler came too late where known_hosts lacks one of the host's keys:
    asyncssh first asks the host to prove the others, a round trip that stalls
    the same way. Systems without the option keep the old wait."""
    sock = conn.get_extra_info("socket")
    if sock is None or not hasattr(socket, "TCP_QUICKACK"):
        return
    loop = asyncio.get_running_loop()
    until = loop.time() + _EARLY_ACKS_S

    def acknowledge() -> None:
        if conn.is_closed():
            return
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        if loop.time() < until:
            loop.call_later(_EARLY_ACK_EVERY_S, acknowledge)

    acknowledge()


# asyncio's line for each write after a connection's loss, dropped in the
# process once, at import: a Remote is what opens the connections whose
# losses it acts on, and says (lost_writes).
lost_writes.quiet()


class Remote:
    def __init__(
        self,
        host: HostSettings,
        *,
        isolated: bool = False,
        keepalive_interval: float = 15.0,
        connect_timeout: float = 20.0,
        term_grace: float = 5.0,
        reconnect_within: float = 120.0,
    ) -> None:
        self.host = host
        # Where the host's own public keys are read, for a refused key's advice:
        # OpenSSH's place on a real host; a rehearsal host's live in its sandbox.
        self.host_key_dir = "/etc/ssh"
        # The global known_hosts files ssh trusts keys from where the ssh config
        # names no GlobalKnownHostsFile (a test puts its own in /etc's place).
        # None isolated: what a rehearsal trusts does not hang on this
        # machine's /etc/ssh (review 55b L5).
        self.global_known_hosts: tuple[str, ...] = () if isolated else GLOBAL_KNOWN_HOSTS
        # Isolated (rehearsal and tests): read nothing from ~/.ssh and no agent,
        # so the run depends only on what the config names.
        self.isolated = isolated
        self.keepalive_interval = keepalive_interval
        self.connect_timeout = connect_timeout
        self.term_grace = term_grace
        self.fingerprint: str | None = None
        # Told after every successful connect (the executor journals the key).
        self.on_connect: Callable[[], None] | None = None
        # Told before each attempt to re-open a lost connection:
        # (attempt number, seconds until it, why the last one failed).
        self.on_reconnecting: Callable[[int, float, str], None] | None = None
        # Told when the reconnect gives up: (its limit in seconds, why the
        # last attempt failed).
        self.on_gave_up: Callable[[float, str], None] | None = None
        # Told when a stop could not reach the host, so the command runs on
        # there: (its job, its limit in seconds, the wall-clock time by which
        # the host's own limit ends it at the latest).
        self.on_left_running: Callable[[str, float, float], None] | None = None
        # A connection that worked once and was lost is re-opened with
        # backoff for this long before the action in hand gives up.
        self.reconnect_within = reconnect_within
        # The last reconnect waited out its limit and no connection has opened
        # since: a look right after it would only wait the whole limit again.
        self.gave_up = False
        self._was_connected = False
        # Set when the operator detaches: a command abandoned by cancellation
        # is then left running on the host instead of being told to stop.
        self.detached = False
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        # Commands run in the connection's shared shells (runbook.jobs) unless
        # the host could not start one; then each has an exec request.
        self.shared_shells = True
        self._idle: list[SharedShell] = []
        # Where the connection goes, once read from the ssh_config (_resolve).
        self._route: Route | None = None

    @property
    def target(self) -> str:
        return self.host.target

    @property
    def connected(self) -> bool:
        """Whether a connection to the host is open now (none is made to tell)."""
        return self._conn is not None and not self._conn.is_closed()

    def _options(self, known: WatchedKnownHosts) -> dict[str, object]:
        """asyncssh's options for the connection, its key checked against
        `known`, always explicit: left to the ssh config, "UserKnownHostsFile
        none" would turn host key checking off without a word (_resolve). Only
        the files there: none at all (a new box's ~/.ssh/known_hosts) is no key
        known, refused as such, not "No such file or directory" (trial 55)."""
        options = self._config_options()
        options["known_hosts"] = known
        return options

    def _config_options(self) -> dict[str, object]:
        """The options that decide, with the ssh config, where the connection
        goes and as whom: all but the known_hosts, which _resolve reads."""
        options: dict[str, object] = {
            "port": self.host.port,
            "username": self.host.user,
            "keepalive_interval": self.keepalive_interval,
            "keepalive_count_max": 3,
            "connect_timeout": self.connect_timeout,
            # AES-GCM is one AEAD call on the CPU's AES instructions; asyncssh's
            # default chacha20-poly1305 makes two primitive calls per packet.
            # Measured with benchmarks/upload.py: 0.62x -> 0.86x OpenSSH's sftp.
            "encryption_algs": _CIPHERS,
        }
        if self.host.identity is not None:
            options["client_keys"] = [str(self.host.identity)]
        if self.host.ssh_config is not None:
            options["config"] = [str(self.host.ssh_config)]
        if self.isolated:
            options["agent_path"] = None
            options.setdefault("config", None)
        return options

    @property
    def _config_name(self) -> str:
        """The ssh config asyncssh reads for the host, as the operator knows it."""
        return str(self.host.ssh_config) if self.host.ssh_config is not None else "~/.ssh/config"

    async def connect(self, *, reopen: bool = True) -> asyncssh.SSHClientConnection:
        """The open connection; a lost one is re-opened, with backoff (the
        first connection fails at once: a wrong address should say so).
        `reopen` False: one attempt, no backoff, for what is not worth a wait
        (a run's end letting the host's claim go), made as a stop's is."""
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return self._conn
            if not self._was_connected:
                return await self._open()
            stop = _STOPPING.get()
            if stop is None and not reopen:
                stop = _Stop()
            if stop is not None:
                return await self._reach_once(stop)
            return await self._reopen()

    async def _reach_once(self, stop: _Stop) -> asyncssh.SSHClientConnection:
        """One attempt at the host, within the connect timeout; no reconnect
        said, no backoff (a stop's, _Stop, or connect(reopen=False)'s)."""
        if stop.unreached:
            raise RemoteError(f"{self.target}: the host could not be reached")
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await self._open()
        except TimeoutError:
            stop.unreached = True
            raise RemoteError(f"{self.target}: the host could not be reached in "
                              f"{self.connect_timeout:g}s") from None
        except RemoteError:
            stop.unreached = True
            raise

    async def _reopen(self) -> asyncssh.SSHClientConnection:
        deadline = time.monotonic() + self.reconnect_within
        reason = "the connection was lost"
        for attempt in itertools.count(1):
            # Exponential, capped, with jitter: a host coming back is not
            # met by every client at the same instant.
            wait = 0.0 if attempt == 1 else \
                min(_BACKOFF_CAP_S, 0.5 * 2 ** (attempt - 2)) * random.uniform(0.5, 1.0)
            if time.monotonic() + wait > deadline:
                self.gave_up = True
                if self.on_gave_up is not None:
                    self.on_gave_up(self.reconnect_within, reason)
                raise RemoteError(f"{self.target}: the SSH connection was lost and could not be "
                                  f"re-opened in {self.reconnect_within:g}s ({reason})")
            if self.on_reconnecting is not None:
                self.on_reconnecting(attempt, wait, reason)
            await asyncio.sleep(wait)
            try:
                return await self._open()
            except Refused:
                raise  # another host, another key policy, settings that disagree
            except RemoteError as exc:
                reason = str(exc).split(": ", 1)[-1]
        raise AssertionError("itertools.count never ends")

    def _plain_route(self) -> Route:
        """The route where the ssh config is not read: the address and port
        as configured, checked against [host] known_hosts, else
        ~/.ssh/known_hosts and the global files ssh reads by default."""
        own = self.host.known_hosts
        known = KnownHosts((own,)) if own is not None else default_known_hosts(
            global_known_hosts(None, self.global_known_hosts))
        return Route(self.host.address, self.host.port, known)

    async def _resolve(self) -> Route:
        """Where the connection goes, read through asyncssh's own handling of
        the ssh_config it is given (the same options as the connection), so
        that the known_hosts checked, a refused key's advice and the looks
        behind it go there too: not the configured address where a Host alias
        gives a HostName, a ProxyJump or ProxyCommand stands in between, or a
        HostKeyAlias names the host in known_hosts.

        Read once and kept; a config asyncssh cannot read (or not in time)
        gives the plain route for this connection only, and is read again on
        the next (review 54: a fallback kept for good silently dropped the
        HostName and known_hosts for the life of the process); the connection
        then says what is wrong with it. Not followed here: CanonicalizeHostname
        and "Match final", which asyncssh applies only inside its connect (so
        a config using them may check another name than the connection's)."""
        if self._route is not None:
            return self._route
        options = self._config_options()
        config = options.pop("config", ())
        # Without the port: the config's own Port is then seen (asyncssh takes
        # an explicit one over the config's), and compared with [host] port.
        options.update(client_keys=None, agent_path=None, known_hosts=None, port=())
        try:
            async with asyncio.timeout(self.connect_timeout):
                made = await asyncssh.SSHClientConnectionOptions.construct(
                    None, config=config, host=self.host.address, **options)
        except (OSError, asyncssh.Error, TimeoutError, ValueError) as exc:
            logging.getLogger(__name__).debug(
                "%s: the ssh config was not read (%r); connecting as configured",
                self.target, exc)
            return self._plain_route()
        self._refuse_another_port(made.config.get("Port"))
        alias = made.host_key_alias if isinstance(made.host_key_alias, str) and \
            made.host_key_alias else None
        # runbook's own [host] known_hosts alone; else the files the ssh config
        # names for the host as UserKnownHostsFile (only those, as ssh), else
        # ~/.ssh/known_hosts and known_hosts2; beside them the global files ssh
        # reads (GlobalKnownHostsFile), which "none" or /dev/null leave alone
        # to check against (never turning checking off).
        own = self.host.known_hosts
        known = KnownHosts((own,)) if own is not None else known_hosts_named(
            made.config.get("UserKnownHostsFile", ()),
            tokens_of(made, self.host.address, alias, self.host.port),
            where=self._config_name, prefix=self.target, or_else=", or set known_hosts in [host]",
            shared=GlobalFiles.of(made.config.get("GlobalKnownHostsFile"),
                                  self.global_known_hosts))
        command = made.proxy_command
        self._route = Route(
            made.host or self.host.address, self.host.port, known,
            tunnel=made.tunnel if isinstance(made.tunnel, str) and made.tunnel else None,
            proxy_command=tuple(command) if command else None, alias=alias)
        return self._route

    def _refuse_another_port(self, said: object) -> None:
        """Refused before connecting: an ssh config Port for the host that is
        not [host] port. runbook always connects to [host] port (22 if not
        written), as `ssh -p` would over the config; the operator who wrote a
        Port in the ssh config meant that one (review 54), so two ports are
        said and the choice left to them, whether [host] port was written or
        not (the sample config writes port = 22)."""
        if isinstance(said, int) and said != self.host.port:
            raise Refused(
                f"{self.target}: the ssh config {self._config_name} says Port {said} for "
                f"{self.host.address}, and [host] port is {self.host.port} in runbook's "
                f"config: set port = {said} in [host], or remove the Port line from "
                f"{self._config_name}")

    async def _through(self, route: Route) -> asyncssh.SSHClientConnection | None:
        """The last ProxyJump host the route goes through, opened by runbook
        (runbook.ssh_route.open_hops: each checked against its own known_hosts,
        and a failure said as that jump host's); None without one. The one
        way a ProxyJump is opened: by _open, _probe_host_key and _stream."""
        if route.tunnel is None:
            return None
        return await open_hops(route.tunnel, Through(
            self._config_options().get("config", ()), self._config_name, self.target,
            self.host.address, self.connect_timeout, self.isolated, self.global_known_hosts))

    async def _connect(self, route: Route, via: asyncssh.SSHClientConnection | None
                       ) -> asyncssh.SSHClientConnection:
        """The connection to the host, through `via` if given; its failure
        said in words (a changed key, our key refused, not reached)."""
        watched = WatchedKnownHosts(route.known_hosts.readable)
        unreadable = watched.unreadable()
        if unreadable:
            raise RemoteError(f"{self.target}: the host's key cannot be checked: {unreadable}")
        try:
            # tunnel given always: asyncssh never opens a ProxyJump itself.
            conn = await asyncssh.connect(self.host.address, tunnel=via,
                                          **self._options(watched))
        except asyncssh.HostKeyNotVerifiable:
            key = await self._probe_host_key(route, via)
            raise self._host_key_refused(route, key, watched.looked_up) from None
        except asyncssh.PermissionDenied:
            raise KeyRefused(
                f"{self.target}: the host refused our key for user {self.host.user}; check "
                "host.user and host.identity"
            ) from None
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            if isinstance(exc, asyncssh.ChannelOpenError) and via is not None:
                raise RemoteError(
                    f"{self.target}: cannot connect over SSH: the jump host did not open a "
                    f"connection to {route.host} port {route.port} ({exc.reason}); check the "
                    f"HostName and Port that {self._config_name} gives for {self.host.address}"
                ) from None
            if isinstance(exc, (asyncssh.KeyExchangeFailed, asyncssh.ConnectionLost,
                                ConnectionResetError)):
                refused = await self._key_of_another_type(route, via, watched.looked_up)
                if refused is not None:
                    raise refused from None
            # A reconnect's settings had just worked: the reason, without advice.
            said = unreachable(exc, advise=not self._was_connected)
            raise RemoteError(f"{self.target}: cannot connect over SSH: {said}") from None
        return conn

    async def _open(self) -> asyncssh.SSHClientConnection:
        route = await self._resolve()
        via = await self._through(route)
        try:
            conn = await self._connect(route, via)
        except BaseException:
            if via is not None:
                via.close()
            raise
        conn.set_tunnel(via)  # the jump hosts close with the connection
        self.gave_up = False
        _acknowledge_early(conn)
        _send_no_ignore_packets(conn)
        key = conn.get_server_host_key()
        self.fingerprint = key.get_fingerprint() if key is not None else None
        self._conn = conn
        self._was_connected = True
        if self.on_connect is not None:
            self.on_connect()
        return conn

    async def _probe_host_key(self, route: Route, via: asyncssh.SSHClientConnection | None,
                              algorithms: list[str] | None = None) -> asyncssh.SSHKey | None:
        """The key the host offers (of one of `algorithms`, if given), read on a
        connection of its own that checks nothing and goes no further than the
        key exchange: only to be shown in a refusal, never to trust. It goes
        through `via`, the last jump host, if given, else through jump hosts
        of its own (_through). None where it cannot be read."""
        try:
            own = await self._through(route) if via is None else None
        except RemoteError:
            return None
        try:
            # The connection's own ssh_config (a Host alias), and its
            # isolation: no ~/.ssh/config in a rehearsal.
            config = self._config_options().get("config", ())
            probe = asyncssh.get_server_host_key(self.host.address, self.host.port,
                                                 tunnel=via or own or (),
                                                 config=config,  # type: ignore[arg-type]
                                                 server_host_key_algs=algorithms or ())
            return await asyncio.wait_for(probe, self.connect_timeout)
        except (OSError, asyncssh.Error, TimeoutError, ValueError):
            return None
        finally:
            if own is not None:
                own.close()

    async def _key_of_another_type(self, route: Route, via: asyncssh.SSHClientConnection | None,
                                   looked_up: Lookup | None) -> HostKeyRefused | None:
        """The refusal of a host that offers no key of a type known_hosts holds
        for it (a reinstalled host: known_hosts has its old ed25519 key, it now
        offers only ECDSA), or None where that is not why the connection failed.

        asyncssh offers the host only the key types known_hosts holds for it,
        so such a host ends the key exchange ("Unable to find compatible server
        host key" from asyncssh's server; OpenSSH's sshd just closes the
        connection) instead of showing a key to refuse. Read separately, the
        key it offers is one known_hosts does not trust: a changed key, said as
        one (review: the operator saw asyncssh's words).

        The keys held for it are those asyncssh offered the types of: looked
        up as runbook has asyncssh trust them (`looked_up`: by its HostKeyAlias
        or HostName alone, review 55c H2), or none where it never did, the
        connection lost before."""
        if looked_up is None:
            return None
        try:
            known = read_known_hosts(route.known_hosts.readable)
        except (OSError, ValueError):
            return None
        # By the name alone, as runbook trusts it (review 55c H2).
        found = known.match(looked_up.name, "", looked_up.port)
        # A certificate authority trusted for it: asyncssh offered certificate
        # types (review 55b L6: a host showing a plain key failed "Unable to
        # find compatible server host key").
        trusted, authorities = found[0], found[1]
        if not trusted and not authorities:
            return None  # nothing held for it: asyncssh offered every type
        # The key it offers of any type first: a host that shows none did not
        # answer (a network that drops connections, an sshd at MaxStartups),
        # and one that shows a trusted key failed for another reason.
        key = await self._probe_host_key(route, via)
        if key is None or key.public_data in {k.public_data for k in trusted}:
            return None
        # Then the key types it offers, in its own words. Review: a probe
        # asked for the held types failing for any reason was taken for a host
        # offering none, so a dropped connection refused a host whose trusted
        # key was still good (one blip in a cutover's reconnect ended the run,
        # and the advice was to remove a valid entry). A failed key exchange
        # cannot tell that apart either: OpenSSH's sshd just closes the
        # connection. Asked once more if it cannot be read.
        for _ in range(2):
            offered = await self._offered_key_types(route, via)
            if offered is not None:
                break
        else:
            return None
        held = {alg.decode() for k in trusted for alg in k.sig_algorithms}
        if held & offered or (authorities and any(t.endswith(_CERTIFICATE) for t in offered)):
            return None
        return self._host_key_refused(
            route, key, looked_up,
            held=sorted({k.get_algorithm() for k in trusted}) if trusted else None)

    async def _offered_key_types(self, route: Route, via: asyncssh.SSHClientConnection | None
                                 ) -> set[str] | None:
        """The host key types the host offers, as its first key exchange
        message lists them, read on a connection of its own that goes no
        further and trusts nothing, the way the connection goes (_stream);
        None where they cannot be read."""
        try:
            async with asyncio.timeout(self.connect_timeout):
                async with self._stream(route, via) as (reader, writer):
                    return await _read_host_key_types(reader, writer)
        except (OSError, TimeoutError, EOFError, UnicodeDecodeError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError, asyncssh.Error, RemoteError):
            return None

    @contextlib.asynccontextmanager
    async def _stream(self, route: Route, via: asyncssh.SSHClientConnection | None
                      ) -> AsyncIterator[tuple[_ByteReader, _ByteWriter]]:
        """A byte stream to the host's SSH port, the way the connection goes:
        through the ProxyJump hosts (`via`, the last of them, if given, else
        opened here as the connection opens them, each checked against its
        own known_hosts: _through), through the ProxyCommand, or straight to
        the HostName and port."""
        if route.tunnel is not None:
            own = await self._through(route) if via is None else None
            last = via or own
            assert last is not None
            try:
                reader, writer = await last.open_connection(route.host, route.port)
                yield reader, writer
            finally:
                if own is not None:
                    own.close()
        elif route.proxy_command is not None:
            process = await asyncio.create_subprocess_exec(
                *route.proxy_command, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
            try:
                assert process.stdout is not None and process.stdin is not None
                yield process.stdout, process.stdin
            finally:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        else:
            direct, out = await asyncio.open_connection(route.host, route.port)
            try:
                yield direct, out
            finally:
                out.close()

    def _host_key_refused(self, route: Route, key: asyncssh.SSHKey | None,
                          looked_up: Lookup | None = None, *,
                          held: list[str] | None = None) -> HostKeyRefused:
        # How known_hosts names this host, as ssh looks it up (sshd(8)): by
        # the ssh_config's HostName and port, or its HostKeyAlias.
        name = route.known_hosts_name
        known = route.known_hosts
        # What asyncssh looked the key up by: that name, and the address it
        # connected to (review 55b H1: a key held under the address is the
        # host's too). Where the connection did not say, the name alone.
        lookup = looked_up or route.lookup
        # A key no file lists is one not known yet; a key other than the one
        # listed has changed, which can be someone in between: said apart, as
        # ssh says them (trial 55 F13: a host simply not listed yet was told
        # "not the key ... trusts" and to run ssh-keygen -R first). Where it
        # cannot be told, changed: the alarm, never the calm.
        changed = held is not None or known.lists(looked_up, key, ported=name.startswith("["))
        if held is None and changed and key is not None:
            # A key of another type than those held under the address alone
            # (review 55c H2: asyncssh no longer trusts them for the name, so
            # it offered every type and the host showed its new one).
            types = known.types_held(lookup)
            held = sorted(types) if types and key.get_algorithm() not in types else None
        # The host's own key of the type it offered (review: it was always the
        # ed25519 one, whose fingerprint never matches an ECDSA or RSA key's).
        file = host_key_file(key.get_algorithm()) if key is not None else None
        own = f"{self.host_key_dir.rstrip('/')}/{file or 'ssh_host_*_key.pub'}"
        # The folder quoted, the glob not (review: a --sandbox with a space).
        every = f"{shlex.quote(self.host_key_dir.rstrip('/') + '/')}ssh_host_*_key.pub"
        compare = shlex.join(["ssh-keygen", "-lf", own]) if file else \
            f'for f in {every}; do ssh-keygen -lf "$f"; done'
        if known.reads_none:
            return self._none_read(known, key, name, compare, own)
        # Every file checked is named; the advice goes to the one that holds
        # the stale entry (else the first).
        trusts = known.said
        where = known.holding(lookup)
        # The stale entry out, the new one in, as OpenSSH's own refusal
        # advises (README walkthrough: the fingerprint command alone left the
        # line to write, and how, to be guessed), and only after the
        # fingerprint is checked on the host itself: this connection may be
        # someone in between. Nothing to take out for a host not known yet,
        # and the file made first where it is not there (before_adding).
        first = known.before_adding(where, lookup, changed, key)
        note = known.stale_elsewhere(lookup) if changed else ""
        # A changed key said as the alarm it is (review 55b M2), as a jump
        # host's; so a key a certificate authority trusted for the host did
        # not sign, not as a host not known yet (review 55b L6).
        signed = not changed and known.authorities(lookup)
        alarm = f" {CHANGED_SINCE}" if changed else f" {CERTIFICATE_GONE}" if signed else ""
        unsigned = f"{trusts} trusts a certificate authority for this host, and the host " \
            "showed a key it did not sign"
        # Its line would go to a file that cannot be read (a folder where
        # ~/.ssh/known_hosts should be): that mended first, in one line, as
        # ssh refuses the host too (a revoked key is still said as one).
        unwritable = known.unwritable(where, f"{self.target}: refusing the host" + (
            f" key {key.get_fingerprint()}" if key is not None else "'s key"))
        if unwritable and (key is None or known.revoked(lookup, key) is None):
            return HostKeyRefused(unwritable)
        if key is None:
            # Review 54: this said "refusing the host key unavailable".
            why = f"it is not one {trusts} trusts for this host" if changed else unsigned \
                if signed else f"no key is trusted for this host yet ({known.unlisted()})"
            return HostKeyRefused((
                f"{self.target}: refusing the host's key: {why}{note}, and its key could not be "
                f"read to show you (connect again to see its fingerprint).{alarm} Trust a key only "
                "once you know it is the host's: compare its fingerprint with the host's own, "
                "read there by another way than this connection (its console, say): "
                f"{compare}. Only if they are the same, {first}add a line to {where} of {name} "
                f"and the first two words of the file of {own} whose fingerprint is the same"),
                None)
        revoked = known.revoked(lookup, key)
        if revoked is not None:
            # A key revoked is never offered to be trusted (review 55b L6).
            return HostKeyRefused(
                f"{self.target}: refusing the host key {key.get_fingerprint()}: {revoked} lists "
                f"it as revoked: never trust it. The host needs a new key, or "
                "someone is in between.")
        public = key.export_public_key().decode().split()
        # On a line of its own, and carried as data: the front ends show
        # and copy it whole.
        line = f"{name} {public[0]} {public[1]}"
        # Why a changed key of another type was never offered to be refused:
        # known_hosts holds keys of other types for the host.
        other = "" if not held else \
            f", which is of type {' or '.join(held)}; the host now offers one of type " \
            f"{key.get_algorithm()}"
        why = f"it is not the key {trusts} trusts for this host{other}" if changed else \
            unsigned if signed else f"no key is trusted for this host yet ({known.unlisted()})"
        return HostKeyRefused((
            f"{self.target}: refusing the host key {key.get_fingerprint()}: {why}{note}.{alarm} "
            "Trust it only once you know it is the host's: compare the fingerprint with the host's "
            "own, read there by another way than this connection (its console, say): "
            f"{compare}. Only if they are the same, {first}{ADD_THIS_LINE}{where}:\n{line}"
        ), line)

    def _none_read(self, known: KnownHosts, key: asyncssh.SSHKey | None, name: str,
                   compare: str, own: str) -> HostKeyRefused:
        """The refusal where the ssh config has no known_hosts file read at all
        (UserKnownHostsFile and GlobalKnownHostsFile none): no file to add a
        line to, only how to have one read, as ssh refuses every key then."""
        name_one = known.name_one(self._config_name,
                                  or_else=", or set known_hosts in [host] to one")
        trust = ("Trust it only once you know it is the host's: compare the fingerprint with the "
                 "host's own, read there by another way than this connection (its console, "
                 f"say): {compare}. Only if they are the same, {name_one}")
        if key is None:
            return HostKeyRefused(
                f"{self.target}: refusing the host's key: {known.none_read()}, and its key could "
                f"not be read to show you (connect again to see its fingerprint). {trust}add to "
                f"it a line of {name} and the first two words of the file of {own} whose "
                "fingerprint is the same", None)
        public = key.export_public_key().decode().split()
        line = f"{name} {public[0]} {public[1]}"
        return HostKeyRefused(
            f"{self.target}: refusing the host key {key.get_fingerprint()}: {known.none_read()}. "
            f"{trust}{ADD_THIS_LINE}it:\n{line}", line)

    async def close(self) -> None:
        self._drop_shells()
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()
            self._conn = None

    def forget(self) -> None:
        """After a lost connection the next action opens a fresh one."""
        self._drop_shells()
        if self._conn is not None:
            self._conn.abort()
        self._conn = None

    def _drop_shells(self) -> None:
        for shell in self._idle:
            shell.close()
        self._idle.clear()

    async def _shell(self, conn: asyncssh.SSHClientConnection) -> SharedShell | None:
        """An idle shared shell on `conn`, opened if none is; None when the
        command should have an exec request of its own instead."""
        while self._idle:
            shell = self._idle.pop()
            if shell.conn is conn and shell.usable:
                return shell
            shell.close()
        if not self.shared_shells:
            return None
        try:
            async with asyncio.timeout(self.connect_timeout):
                shell = await SharedShell.open(conn)
        except ShellUnavailable:
            await self._refuse_a_login_shell_that_is_not_bourne_style(conn)
            self.shared_shells = False
            return None
        except (asyncssh.ChannelOpenError, TimeoutError):
            # No session to spare, or slow to start: this command goes the
            # exec way, which tells a lost connection apart itself.
            return None
        except (OSError, asyncssh.Error) as exc:
            self.forget()
            raise RemoteError(f"{self.target}: the SSH connection was lost before the command "
                              f"was sent ({type(exc).__name__}){NOTHING_RAN}") from None
        return shell

    async def _refuse_a_login_shell_that_is_not_bourne_style(
            self, conn: asyncssh.SSHClientConnection) -> None:
        """sshd hands each command to the user's login shell, and every command
        the runbook sends is POSIX sh syntax: under csh, tcsh or fish each one
        would fail on its own first word, with nothing said about why."""
        try:
            async with asyncio.timeout(self.connect_timeout):
                said = await conn.run(_BOURNE_PROBE, stdin=asyncssh.DEVNULL)
        except (OSError, asyncssh.Error, TimeoutError):
            return  # the command that comes next tells a lost connection itself
        # The last line, as for the upload's hash: a login shell may print first.
        lines = str(said.stdout or "").strip().splitlines()
        if said.exit_status is not None and lines[-1:] != ["bourne"]:
            raise RemoteError(
                f"{self.target}: {self.host.user}'s login shell does not read POSIX sh "
                "syntax (csh, tcsh or fish?), and every command is written in it: make it "
                f"bash, dash, zsh or sh (chsh -s /bin/bash {self.host.user})")

    def _release(self, shell: SharedShell) -> None:
        if shell.usable and shell.conn is self._conn and len(self._idle) < _IDLE_SHELLS:
            self._idle.append(shell)
        else:
            shell.close()

    async def run(
        self,
        command: str,
        *,
        timeout: float,
        on_output: OutputSink | None = None,
        input: str | None = None,
        job: str | None = None,
        reopen: bool = True,
    ) -> CommandResult:
        """Run `command` and wait for its exit status.

        `job` names the run on the host while it lasts (runbook.jobs): give it
        for anything that changes the host, so a later run can find it.
        `reopen`: as for connect."""
        conn = await self.connect(reopen=reopen)
        if input is None:
            shell = await self._shell(conn)
            if shell is not None:
                return await self._run_in(shell, command, timeout=timeout, job=job,
                                          on_output=on_output)
        out: list[str] = []
        err: list[str] = []
        process: asyncssh.SSHClientProcess[str] | None = None

        async def pump(stream: asyncssh.SSHReader[str], name: str, into: list[str]) -> None:
            async for line in stream:
                if not line:  # the iterator can end with an empty string
                    continue
                into.append(line)
                if on_output is not None:
                    on_output(name, line.rstrip("\n"))

        # The host enforces the limit itself (see the module docstring); the
        # operator-facing command in plans and the journal stays the plain one.
        grace = self._grace
        wrapped = jobs.wrap(command, limit=timeout, grace=grace, job=job)
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout + grace + _BACKSTOP_S):
                try:
                    process = await conn.create_process(
                        wrapped,
                        stdin=asyncssh.PIPE if input is not None else asyncssh.DEVNULL,
                        encoding="utf-8",
                        errors="replace",
                    )
                except asyncssh.ChannelOpenError as exc:
                    # No channel, no exec request: nothing ran.
                    self.forget()
                    raise RemoteError(f"{self.target}: the host did not open a channel for "
                                      f"the command ({exc.reason}){NOTHING_RAN}") from None
                if input is not None:
                    process.stdin.write(input)
                    process.stdin.write_eof()
                # Both streams at once: reading one alone can stall the other.
                await asyncio.gather(pump(process.stdout, "out", out),
                                     pump(process.stderr, "err", err))
                completed = await process.wait()
        except asyncio.CancelledError:
            # The operator aborted: stop the command, without letting the
            # cancellation cut the stopping short. Detached: leave it be.
            if not self.detached:
                await asyncio.shield(self._stopping(self._stop(process, job), job,
                                                    timeout, started))
            raise
        except TimeoutError:
            await self._stopping(self._stop(process, job), job, timeout, started)
            raise self._stopped_answering(timeout) from None
        except RemoteError:
            raise
        except (OSError, asyncssh.Error) as exc:
            self.forget()
            raise self._lost_while_running(exc) from None
        return self._result(command, completed.returncode, "".join(out), "".join(err),
                            time.monotonic() - started, timeout, grace)

    @property
    def _grace(self) -> int:
        """Whole seconds between the TERM at a command's limit and its KILL."""
        return max(1, math.ceil(self.term_grace))

    def _stopped_answering(self, timeout: float) -> OutcomeUnknown:
        return OutcomeUnknown(
            f"{self.target}: the host stopped answering; the command (limit {timeout:g}s) "
            "was signalled to stop but whether it ran, stopped or is still running is unknown")

    def _lost_while_running(self, exc: BaseException) -> OutcomeUnknown:
        # Once the exec request may have gone out, any lost connection (reset,
        # aborted locally, closed) leaves the outcome unknown.
        return OutcomeUnknown(
            f"{self.target}: the SSH connection was lost while the command ran "
            f"({type(exc).__name__}); it may or may not have finished")

    async def _run_in(self, shell: SharedShell, command: str, *, timeout: float,
                      job: str | None, on_output: OutputSink | None) -> CommandResult:
        """`command` in a shared shell: the same limits and outcomes as an exec
        request of its own."""
        grace = self._grace
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout + grace + _BACKSTOP_S):
                status, out, err = await shell.run(command, limit=timeout, grace=grace,
                                                   job=job, on_output=on_output)
        except asyncio.CancelledError:
            if not self.detached:
                await asyncio.shield(self._stopping(self._stop_in(shell, job), job,
                                                    timeout, started))
            shell.close()
            raise
        except TimeoutError:
            await self._stopping(self._stop_in(shell, job), job, timeout, started)
            raise self._stopped_answering(timeout) from None
        except (OSError, asyncssh.Error) as exc:
            shell.close()
            self.forget()
            raise self._lost_while_running(exc) from None
        if status is None:
            shell.close()
            if shell.conn.is_closed() or shell.conn is not self._conn:
                self.forget()
                raise OutcomeUnknown(
                    f"{self.target}: the SSH connection was lost while the command ran; "
                    "it may or may not have finished")
            raise OutcomeUnknown(f"{self.target}: the host's shell ended before the command's "
                                 "exit status came back; its outcome is unknown")
        self._release(shell)
        return self._result(command, status, out, err, time.monotonic() - started,
                            timeout, grace)

    async def _stopping(self, stop: Coroutine[Any, Any, bool], job: str | None, limit: float,
                        started: float) -> bool:
        """`stop`, the stop of the command `job` (its limit `limit` seconds,
        sent at monotonic `started`), bounded: one attempt at the host, its
        grace period, a few seconds more (_Stop). Where it could not reach
        the host, the command runs on until its limit there, and that is told
        (on_left_running), unless that limit has passed already. Whether the
        stop reached the host."""
        if _STOPPING.get() is not None:
            # A look of a stop, cut short by that stop's bound: stopping it in
            # turn would outlast the bound, and it changes nothing.
            stop.close()
            return False
        token = _STOPPING.set(_Stop())
        timed_out = False
        try:
            async with asyncio.timeout(self.term_grace + self.connect_timeout + _STOP_MARGIN_S):
                stopped = await stop
        except TimeoutError:
            stopped, timed_out = False, True
        finally:
            _STOPPING.reset(token)
        # The command was sent after `started`: a few seconds' latitude (the
        # host's shell starting it), so that "at the latest" holds.
        left = started + limit + self._grace + _BACKSTOP_S - time.monotonic()
        if stopped or job is None or left <= 0 or not (timed_out or not self.connected):
            return stopped
        if self.on_left_running is not None:
            self.on_left_running(job, limit, time.time() + left)
        return stopped

    async def _stop_in(self, shell: SharedShell, job: str | None) -> bool:
        """Stop the command a shared shell runs, from another channel: by its
        job record, else TERM to the shell's children (`timeout` passes it on
        to the command and sends KILL after the grace period). Whether the
        host was told."""
        try:
            if await self._stopped_by_its_record(job):
                return True
            await self.run(f"pkill -TERM -P {shell.pid}", timeout=10)
            return True
        except (*LOST, OSError, asyncssh.Error, RemoteError):
            return False
        finally:
            shell.close()

    def _result(self, command: str, status: int | None, out: str, err: str, took: float,
                timeout: float, grace: int) -> CommandResult:
        if status is None:
            raise OutcomeUnknown(
                f"{self.target}: the command ended without an exit status; its outcome is unknown"
            )
        if (status == _TIMED_OUT or status in _KILLED) and took >= timeout:
            how = "TERM" if status == _TIMED_OUT else f"TERM, then KILL after {grace}s"
            raise CommandTimeout(
                f"{self.target}: no result within {timeout:g}s; the host's timeout signalled the "
                f"command to stop ({how}); it may have partly run"
            )
        return CommandResult(command, status, out, err)

    async def run_detached(
        self,
        command: str,
        *,
        timeout: float,
        job: str,
        on_output: OutputSink | None = None,
    ) -> CommandResult:
        """Run a long `command` so that a lost connection does not end it: it
        runs in its own session on the host, its output into a file that is
        followed from where it stopped, again after reconnecting. Its stdout
        and stderr come as one stream (both fields of the result hold it)."""
        grace = self._grace
        started = time.monotonic()
        launched = await self.run(jobs.launch_detached(command, limit=timeout, grace=grace,
                                                       job=job), timeout=30)
        if not launched.ok:
            raise RemoteError(f"{self.target}: could not start the command on the host "
                              f"({launched.last_error_line() or launched.exit_status})")
        received = bytearray()  # what the log held so far: where to follow on from
        pending = b""
        deadline = started + timeout + grace + _BACKSTOP_S

        def take(chunk: bytes) -> None:
            nonlocal pending
            received.extend(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if on_output is not None:
                    on_output("out", line.decode("utf-8", "replace"))

        status: int | None = None
        while True:
            process: asyncssh.SSHClientProcess[bytes] | None = None
            try:
                try:
                    conn = await self.connect()  # re-opened with backoff after a drop
                except Refused as exc:
                    exc.launched = True  # refused now, but the command runs on
                    raise
                except RemoteError as exc:
                    raise OutcomeUnknown(f"{exc}; the command runs on by itself on the host, "
                                         "and a resumed run waits for it") from None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                async with asyncio.timeout(left):
                    process = await conn.create_process(
                        jobs.attach_command(job, len(received)), stdin=asyncssh.DEVNULL,
                        encoding=None)
                    while chunk := await process.stdout.read(65536):
                        take(chunk)
                    errors = await process.stderr.read()
                    completed = await process.wait()
                status = completed.returncode
                if status is None:
                    raise asyncssh.ConnectionLost("no exit status")
                break
            except asyncio.CancelledError:
                # The job runs on without us: stop it by its record, even when
                # no attach was open (cancelled while reconnecting).
                if not self.detached:
                    await asyncio.shield(self._stopping(self._end_detached(process, job),
                                                        job, timeout, started))
                raise
            except TimeoutError:
                stopped = await self._stopping(self._end_detached(process, job), job,
                                               timeout, started)
                raise OutcomeUnknown(
                    f"{self.target}: the host stopped answering about the command (limit "
                    f"{timeout:g}s); " + ("it was signalled to stop, with an unknown outcome"
                                          if stopped else "runbook could not stop it, and it "
                                          f"may still run on the host (job {job})")) from None
            except (*SFTP_LOST, OSError, asyncssh.Error):
                self.forget()  # and follow on from `received` once reconnected
        if pending and on_output is not None:
            on_output("out", pending.decode("utf-8", "replace"))
        text = received.decode("utf-8", "replace")
        if status == jobs.NO_STATUS and jobs.NO_STATUS_MARK in errors.decode("utf-8", "replace"):
            raise OutcomeUnknown(f"{self.target}: the command ended without leaving its exit "
                                 "status (it was killed); its outcome is unknown")
        result = self._result(command, status, text, text, time.monotonic() - started,
                              timeout, grace)
        with contextlib.suppress(RemoteError):
            await self.run(jobs.forget_command(job), timeout=30)
        return result

    async def _end_detached(self, attach: asyncssh.SSHClientProcess[Any] | None,
                            job: str) -> bool:
        """Stop a detached job by its record (no channel of ours holds it);
        whether that was done."""
        stopped = False
        with contextlib.suppress(*LOST, OSError, asyncssh.Error):
            stopped = await self._stopped_by_its_record(job)
        if attach is not None:
            attach.close()
        return stopped

    async def job_status(self, job: str) -> jobs.JobStatus | None:
        """The job's session and the processes still in it; None once it ended."""
        result = await self.run(jobs.status_command(job), timeout=30)
        if result.exit_status == jobs.LOOSE_RECORD:
            loose = result.stdout.splitlines()
            raise RemoteError(f"{self.target}: {loose_record(loose, self.host.user)}")
        if not result.ok:
            # Not "ended": a retry would run the step beside it (code review).
            said = result.last_error_line() or (
                "no exit status came back" if result.exit_status is None
                else f"exit status {result.exit_status}")
            raise RemoteError(f"{self.target}: cannot tell whether the command {job} still "
                              f"runs ({said}); look on the host (~/.runbook/jobs/{job} names "
                              "its session) before running the step again")
        try:
            return jobs.parse_status(result.stdout)
        except jobs.StatusUnreadable as exc:
            raise RemoteError(f"{self.target}: cannot tell whether the command {job} still "
                              f"runs ({exc}); look on the host (~/.runbook/jobs/{job} names "
                              "its session) before running the step again") from None

    async def stop_job(self, job: str) -> bool:
        """End every process of the job's session (TERM, then KILL); True when
        nothing of it runs any more."""
        found = await self.job_status(job)
        if found is None:
            return True
        command = privileged(f"sh -c {quote(jobs.stop_command(found.session, self.term_grace))}",
                             self.host.sudo)
        result = await self.run(command, timeout=self.term_grace + 30)
        return result.ok

    async def _stopped_by_its_record(self, job: str | None) -> bool:
        """stop_job, where the job keeps a record; False, for the signals to
        follow, when it keeps none or its record cannot be read or trusted:
        that error went past them, and the command ran on (second review)."""
        if job is None:
            return False
        try:
            return await self.stop_job(job)
        except RemoteError:
            return False

    async def _stop(self, process: asyncssh.SSHClientProcess[Any] | None,
                    job: str | None) -> bool:
        """Stop the command of an exec request; whether it is known to have
        ended (a channel that opened none has nothing to stop)."""
        if process is None:
            return True
        try:
            # Through a second channel: works in a root session, and reaches
            # the workload in timeout's own process group.
            if await self._stopped_by_its_record(job):
                return True
            process.send_signal("TERM")
            try:
                ended = await asyncio.wait_for(process.wait(), self.term_grace)
            except TimeoutError:
                process.send_signal("KILL")
                return False
            # No exit status: its channel went with the connection.
            return ended.returncode is not None
        except (*LOST, OSError, asyncssh.Error, RemoteError):
            return False
        finally:
            process.close()

    async def upload(
        self,
        local: Path,
        remote: str,
        *,
        timeout: float,
        progress: ProgressSink | None = None,
        host_hash: bool = False,
    ) -> Uploaded:
        """Copy `local` to `remote` over SFTP, hashing the bytes as they go
        (runbook.upload)."""
        return await upload.upload(self, local, remote, timeout=timeout, progress=progress,
                                   host_hash=host_hash)

    async def replace_file(
        self, path: str, data: bytes, *, staging_dir: str, timeout: float, upload_timeout: float,
        private_as: str | None = None,
    ) -> None:
        """Put `data` in place of the file at `path`: whole, or not at all
        (runbook.filewrite)."""
        await filewrite.replace_file(self, path, data, staging_dir=staging_dir,
                                     timeout=timeout, upload_timeout=upload_timeout,
                                     private_as=private_as)
