"""A host reached through the operator's ssh_config ([host] ssh_config): a
changed host key is refused with the name and the known_hosts file that ssh
(and asyncssh, which runbook connects with) look up, and the key types the
host offers are read on the way the connection goes (a Host alias's
HostName, a ProxyJump), not at the configured address. Real asyncssh
servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from runbook.config import HostSettings
from runbook.remote import HostKeyRefused, Remote, RemoteError

# A name no resolver answers: only the jump host knows where it is.
INSIDE = "sm-inside.invalid"


@dataclass
class _Host:
    port: int
    keys: dict[str, asyncssh.SSHKey]
    identity: Path
    forwarded: list[tuple[str, int]] = field(default_factory=list)


class _Jump(asyncssh.SSHServer):
    """A jump host that forwards only to INSIDE, which is the target's port."""

    def __init__(self, target: _Host) -> None:
        self._target = target
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str,
                             orig_port: int) -> object:
        self._target.forwarded.append((dest_host, dest_port))
        if dest_host != INSIDE or self._conn is None:
            return False
        return self._conn.forward_connection("127.0.0.1", self._target.port)


@contextlib.asynccontextmanager
async def _hosts(tmp_path: Path, offers: list[str]) -> AsyncIterator[tuple[_Host, int]]:
    """The target host, offering keys of `offers`'s types and letting the
    identity's user in, and a jump host in front of it (its port second)."""
    keys = {alg: asyncssh.generate_private_key(alg) for alg in offers}
    client = asyncssh.generate_private_key("ssh-ed25519")
    identity = tmp_path / "id"
    identity.write_bytes(client.export_private_key())
    authorized = asyncssh.import_authorized_keys(client.export_public_key().decode())
    server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=list(keys.values()),
                                   authorized_client_keys=authorized)
    target = _Host(server.sockets[0].getsockname()[1], keys, identity)
    jump_key = asyncssh.generate_private_key("ssh-ed25519")
    jump = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[jump_key],
                                 authorized_client_keys=authorized,
                                 server_factory=lambda: _Jump(target))
    jump_port = jump.sockets[0].getsockname()[1]
    # The jump host is trusted by the file ssh_config names for it.
    (tmp_path / "jump_known_hosts").write_text(
        f"[127.0.0.1]:{jump_port} {jump_key.export_public_key().decode()}")
    try:
        yield target, jump_port
    finally:
        jump.close()
        server.close()


def _jump_config(tmp_path: Path, jump_port: int) -> str:
    return (f"Host jump\n  HostName 127.0.0.1\n  Port {jump_port}\n  User nobody\n"
            f"  IdentityFile {tmp_path / 'id'}\n"
            f"  UserKnownHostsFile {tmp_path / 'jump_known_hosts'}\n")


def _remote(tmp_path: Path, address: str, port: int, config: str,
            known: Path | None) -> Remote:
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(config)
    return Remote(HostSettings(address, port, "nobody", identity=tmp_path / "id",
                               known_hosts=known, ssh_config=ssh_config),
                  isolated=True, connect_timeout=5)


async def test_a_host_alias_whose_key_changed_type_is_refused_under_its_host_name(
        tmp_path: Path) -> None:
    """Review: known_hosts was matched, and the key types read, at the
    configured address itself: for a Host alias (HostName 127.0.0.1) nothing
    matched and the type read went to a name nothing resolves, so a host
    reinstalled with a key of another type said "cannot connect"."""
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, _jump_port):
        old = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{target.port} {old.export_public_key().decode()}")
        remote = _remote(tmp_path, "sm-alias", target.port,
                         "Host sm-alias\n  HostName 127.0.0.1\n", known)
        with pytest.raises(RemoteError) as err:
            await remote.connect()
        message = str(err.value)
        assert isinstance(err.value, HostKeyRefused), message
        assert "which is of type ecdsa-sha2-nistp256; the host now offers one of type " \
            "ssh-ed25519" in message, message
        name = f"[127.0.0.1]:{target.port}"
        assert f"ssh-keygen -R '{name}' -f {known}" in message, message
        offered = target.keys["ssh-ed25519"].export_public_key().decode().split()
        assert err.value.known_hosts_line == f"{name} {offered[0]} {offered[1]}"


async def test_a_host_behind_a_proxyjump_whose_key_changed_type_is_refused(
        tmp_path: Path) -> None:
    """Review: the key types were read on a TCP connection of its own to the
    address, which a host behind a ProxyJump does not answer (here: a name
    only the jump host knows), so it said "cannot connect" instead of the
    changed key. They are read through the jump host, as asyncssh connects."""
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        old = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {old.export_public_key().decode()}")
        remote = _remote(tmp_path, "sm", 22,
                         f"Host sm\n  HostName {INSIDE}\n  ProxyJump jump\n"
                         + _jump_config(tmp_path, jump_port), known)
        with pytest.raises(RemoteError) as err:
            await remote.connect()
        message = str(err.value)
        assert isinstance(err.value, HostKeyRefused), message
        assert "which is of type ecdsa-sha2-nistp256; the host now offers one of type " \
            "ssh-ed25519" in message, message
        assert f"ssh-keygen -R {INSIDE} -f {known}" in message, message
        offered = target.keys["ssh-ed25519"].export_public_key().decode().split()
        line = f"{INSIDE} {offered[0]} {offered[1]}"
        assert err.value.known_hosts_line == line
        # Every look at the host went through the jump host.
        assert target.forwarded and set(target.forwarded) == {(INSIDE, 22)}
        # The advice followed, the connection is made.
        known.write_text(line + "\n")
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()


async def test_a_host_behind_a_proxyjump_that_drops_is_not_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other side: a target behind the jump host that drops every
    connection in its key exchange, while known_hosts holds a key of another
    type for it, is a host that cannot be reached, said as one, not a changed
    key. Review 54 (5): the jump host refused the forward before, so the look
    for a key of another type (_key_of_another_type) never ran."""
    looked: list[bool] = []
    look = Remote._key_of_another_type

    async def counted(self: Remote, *args: Any, **kwargs: Any) -> Any:
        refused = await look(self, *args, **kwargs)
        looked.append(refused is None)
        return refused

    monkeypatch.setattr(Remote, "_key_of_another_type", counted)

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The version line both ways, then gone: in the key exchange.
        writer.write(b"SSH-2.0-dropper\r\n")
        await reader.readline()
        writer.close()

    dropper = await asyncio.start_server(drop, "127.0.0.1", 0)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        target.port = dropper.sockets[0].getsockname()[1]  # what the jump host forwards to
        old = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {old.export_public_key().decode()}")
        remote = _remote(tmp_path, "sm", 22,
                         f"Host sm\n  HostName {INSIDE}\n  ProxyJump jump\n"
                         + _jump_config(tmp_path, jump_port), known)
        try:
            with pytest.raises(RemoteError) as err:
                await remote.connect()
        finally:
            dropper.close()
        assert not isinstance(err.value, HostKeyRefused), err.value
        assert "cannot connect over SSH" in str(err.value), err.value
        assert looked == [True], "the look for a key of another type ran, and found none"
        assert target.forwarded


async def test_a_changed_host_key_is_refused_under_its_host_key_alias(tmp_path: Path) -> None:
    """ssh_config's HostKeyAlias is the name known_hosts holds the host by:
    the refusal says that name, for a changed key of the same type and of
    another type alike, and the line it says to add is one that is trusted."""
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, _jump_port):
        known = tmp_path / "known_hosts"
        config = "Host sm\n  HostName 127.0.0.1\n  HostKeyAlias sm-key\n"
        offered = target.keys["ssh-ed25519"].export_public_key().decode().split()
        line = f"sm-key {offered[0]} {offered[1]}"
        for old_type in ("ssh-ed25519", "ecdsa-sha2-nistp256"):
            old = asyncssh.generate_private_key(old_type)
            known.write_text(f"sm-key {old.export_public_key().decode()}")
            remote = _remote(tmp_path, "sm", target.port, config, known)
            with pytest.raises(RemoteError) as err:
                await remote.connect()
            message = str(err.value)
            assert isinstance(err.value, HostKeyRefused), (old_type, message)
            assert f"ssh-keygen -R sm-key -f {known}" in message, message
            assert err.value.known_hosts_line == line, message
        known.write_text(line + "\n")
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()


async def test_ssh_configs_user_known_hosts_file_is_read_when_runbook_names_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """[host] known_hosts unset and the ssh_config naming a UserKnownHostsFile
    for the host: runbook trusts what that file trusts, as ssh would, and a
    refusal names that file. A file that is not there, or none, does not turn
    checking off: ~/.ssh/known_hosts is read, as before."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "known_hosts").write_text("")
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, _jump_port):
        theirs = tmp_path / "their_known_hosts"
        public = target.keys["ssh-ed25519"].export_public_key().decode()
        theirs.write_text(f"[127.0.0.1]:{target.port} {public}")
        remote = _remote(tmp_path, "127.0.0.1", target.port,
                         f"Host 127.0.0.1\n  UserKnownHostsFile {theirs}\n", None)
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()
        # A changed key is refused naming that file.
        theirs.write_text(f"[127.0.0.1]:{target.port} "
                          f"{asyncssh.generate_private_key('ssh-ed25519').export_public_key().decode()}")
        remote = _remote(tmp_path, "127.0.0.1", target.port,
                         f"Host 127.0.0.1\n  UserKnownHostsFile {theirs}\n", None)
        with pytest.raises(HostKeyRefused) as err:
            await remote.connect()
        assert f"-f {theirs}" in str(err.value), err.value
        # none, /dev/null, a missing file: checked against ~/.ssh/known_hosts
        # (empty here), so refused, never let through.
        for named in ("none", "/dev/null", str(tmp_path / "missing")):
            remote = _remote(tmp_path, "127.0.0.1", target.port,
                             f"Host 127.0.0.1\n  UserKnownHostsFile {named}\n", None)
            with pytest.raises(HostKeyRefused) as err:
                await remote.connect()
            assert f"-f {tmp_path / '.ssh' / 'known_hosts'}" in str(err.value), (named, err.value)
        # runbook's own [host] known_hosts wins over the ssh_config's.
        own = tmp_path / "own_known_hosts"
        own.write_text(f"[127.0.0.1]:{target.port} {public}")
        theirs.write_text("")
        remote = _remote(tmp_path, "127.0.0.1", target.port,
                         f"Host 127.0.0.1\n  UserKnownHostsFile {theirs}\n", own)
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()


_RELAY = '''
import socket, sys, threading
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as s:
    def up():
        while data := sys.stdin.buffer.read1(65536):
            s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    threading.Thread(target=up, daemon=True).start()
    while data := s.recv(65536):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
'''


async def test_a_host_behind_a_proxycommand_whose_key_changed_type_is_refused(
        tmp_path: Path) -> None:
    """As for a ProxyJump: the key types are read through the ssh_config's
    ProxyCommand (here a relay to a port the HostName does not give)."""
    import sys

    relay = tmp_path / "relay.py"
    relay.write_text(_RELAY)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, _jump_port):
        old = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {old.export_public_key().decode()}")
        remote = _remote(tmp_path, "sm", 22,
                         f"Host sm\n  HostName {INSIDE}\n"
                         f"  ProxyCommand {sys.executable} {relay} {target.port}\n", known)
        with pytest.raises(RemoteError) as err:
            await remote.connect()
        message = str(err.value)
        assert isinstance(err.value, HostKeyRefused), message
        assert "which is of type ecdsa-sha2-nistp256; the host now offers one of type " \
            "ssh-ed25519" in message, message
        offered = target.keys["ssh-ed25519"].export_public_key().decode().split()
        assert err.value.known_hosts_line == f"{INSIDE} {offered[0]} {offered[1]}"


async def test_the_default_ssh_configs_user_known_hosts_file_is_read_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not isolated and no [host] ssh_config: asyncssh reads ~/.ssh/config,
    and the file its UserKnownHostsFile names is the one trusted."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "known_hosts").write_text("")
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, _jump_port):
        theirs = tmp_path / "their_known_hosts"
        public = target.keys["ssh-ed25519"].export_public_key().decode()
        theirs.write_text(f"[127.0.0.1]:{target.port} {public}")
        (tmp_path / ".ssh" / "config").write_text(
            "Host 127.0.0.1\n  UserKnownHostsFile ~/their_known_hosts\n")
        remote = Remote(HostSettings("127.0.0.1", target.port, "nobody",
                                     identity=tmp_path / "id"), connect_timeout=5)
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()
