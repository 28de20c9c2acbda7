"""A host reached through the operator's ssh_config ([host] ssh_config): a
changed host key is refused with the name and the known_hosts file that ssh
(and asyncssh, which runbook connects with) look up, and the key types the
host offers are read on the way the connection goes (a Host alias's
HostName, a ProxyJump), not at the configured address. Real asyncssh
servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from runbook.config import HostSettings
from runbook.rehearsal.host import RehearsalHost
from runbook.remote import HostKeyRefused, JumpHostRefused, Remote, RemoteError
from tests.test_remote import CHANGED

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
    (tmp_path / "jump_known_hosts_as_served").write_bytes(jump_key.export_public_key())
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
    refusal names that file. none or /dev/null does not turn checking off:
    the global files are read, alone, as ssh reads them (review 56c F5), and
    the line to add goes to the first of them. A file that is not there is read
    as empty, as ssh reads it (not ~/.ssh/known_hosts instead), and the line
    to add goes there."""
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
        # none, /dev/null: checked against the global file (not there here),
        # so refused, never let through; a missing file: against itself.
        shared = tmp_path / "global" / "ssh_known_hosts"
        for named in ("none", "/dev/null", str(tmp_path / "missing")):
            remote = _remote(tmp_path, "127.0.0.1", target.port,
                             f"Host 127.0.0.1\n  UserKnownHostsFile {named}\n"
                             f"  GlobalKnownHostsFile {shared}\n", None)
            with pytest.raises(HostKeyRefused) as err:
                await remote.connect()
            if named.endswith("missing"):
                assert f"add this line to {tmp_path / 'missing'}:" in str(err.value), err.value
            else:
                assert f"(install -D -m 644 /dev/null {shared}); then, as root, add this " \
                    f"line to {shared}:" in str(err.value), (named, err.value)
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


def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME in tmp_path, with an empty ~/.ssh/known_hosts: the fallback
    trusts nothing."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir(exist_ok=True)
    default = tmp_path / ".ssh" / "known_hosts"
    default.write_text("")
    return default


def _behind_bastion(tmp_path: Path, jump_port: int, jump_extra: str = "") -> str:
    """The target behind a jump host named "bastion" (a name that is not in
    tmp_path, so a message that names it names it for a reason)."""
    return (f"Host sm\n  HostName {INSIDE}\n  ProxyJump bastion\n"
            + _jump_config(tmp_path, jump_port).replace("Host jump", "Host bastion")
            + jump_extra)


@pytest.mark.parametrize("listed", ["not listed", "another key"])
async def test_a_jump_host_whose_key_is_not_trusted_is_named_not_the_target(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listed: str) -> None:
    """Review 54 (1): the jump host's key untrusted and the target's trusted,
    runbook refused "the host key unavailable" of the target and advised
    ssh-keygen -R on its valid entry. The jump host is named, with the file
    its key is not in, and the target's entry is left alone. Its own entry
    is taken out first only where it holds another key (trial 55 F13: not
    listed at all is a jump host not known yet)."""
    _home(tmp_path, monkeypatch)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {target.keys['ssh-ed25519'].export_public_key().decode()}")
        other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
        (tmp_path / "jump_known_hosts").write_text(
            "" if listed == "not listed" else f"[127.0.0.1]:{jump_port} {other}")
        remote = _remote(tmp_path, "sm", 22, _behind_bastion(tmp_path, jump_port), known)
        with pytest.raises(RemoteError) as err:
            await remote.connect()
        message = str(err.value)
        assert not isinstance(err.value, HostKeyRefused), message
        assert "cannot reach sm via jump host bastion: bastion's host key" in message, message
        assert f"is not trusted in {tmp_path / 'jump_known_hosts'}" in message, message
        assert "unavailable" not in message, message
        # The jump host's entry and line, in the file it is checked against
        # (carried as the host's refusal carries its own); the target's, untouched.
        jump_key = (tmp_path / "jump_known_hosts_as_served").read_text().split()
        line = f"[127.0.0.1]:{jump_port} {jump_key[0]} {jump_key[1]}"
        assert isinstance(err.value, JumpHostRefused) and err.value.known_hosts_line == line
        checked = tmp_path / "jump_known_hosts"
        remove = f"ssh-keygen -R '[127.0.0.1]:{jump_port}' -f {checked}, then "
        first = "" if listed == "not listed" else remove
        assert f"Only if they are the same, {first}add this line to " \
            f"{tmp_path / 'jump_known_hosts'}:\n{line}" in message, message
        assert (": no key is trusted for it yet." in message) == (listed == "not listed"), \
            message
        # A changed key is said as the alarm it is, as the host's (review 55b M2:
        # it read calmer than a key not known yet).
        changed = f"is not trusted in {checked}: it is not the key listed there for it. {CHANGED}"
        assert (changed in message) == (listed == "another key"), message
        assert INSIDE not in message and f"-f {known}" not in message, message
        assert not target.forwarded, "nothing went past an untrusted jump host"


async def test_a_jump_host_whose_key_changed_type_is_refused_as_changed_not_unreached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 55c M1: the jump host's known_hosts holding an ECDSA key for it,
    the jump host now offering ed25519 alone (a reinstall, or someone in
    between): asyncssh offered only ECDSA, the key exchange failed, and it
    read "cannot reach sm via jump host bastion: Unable to find compatible
    server host key; check the HostName and Port", a network fault. It is
    said as a changed key, as the host's own is."""
    _home(tmp_path, monkeypatch)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {target.keys['ssh-ed25519'].export_public_key().decode()}")
        checked = tmp_path / "jump_known_hosts"
        other = asyncssh.generate_private_key("ecdsa-sha2-nistp256").export_public_key().decode()
        checked.write_text(f"[127.0.0.1]:{jump_port} {other}")
        remote = _remote(tmp_path, "sm", 22, _behind_bastion(tmp_path, jump_port), known)
        with pytest.raises(JumpHostRefused) as err:
            await remote.connect()
        message = str(err.value)
        assert "compatible" not in message and "check the HostName" not in message, message
        assert f"it is not the key listed there for it. {CHANGED}" in message, message
        assert f"ssh-keygen -R '[127.0.0.1]:{jump_port}' -f {checked}, then " in message, message
        assert not target.forwarded


async def test_a_jump_host_whose_changed_key_is_held_under_its_address_is_refused_as_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 55b H1, for a jump host: its HostName a name (localhost), its
    known_hosts holding another key under the address it connects to
    ([127.0.0.1]:port). asyncssh trusts that entry for it, so its key has
    changed; it read "no key is trusted for it yet", with nothing to take out."""
    _home(tmp_path, monkeypatch)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {target.keys['ssh-ed25519'].export_public_key().decode()}")
        checked = tmp_path / "jump_known_hosts"
        other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
        checked.write_text(f"[127.0.0.1]:{jump_port} {other}")
        config = _behind_bastion(tmp_path, jump_port).replace(
            "HostName 127.0.0.1", "HostName localhost")
        remote = _remote(tmp_path, "sm", 22, config, known)
        with pytest.raises(JumpHostRefused) as err:
            await remote.connect()
        message = str(err.value)
        assert "no key is trusted" not in message, message
        assert f"it is not the key listed there for it. {CHANGED}" in message, message
        jump_key = (tmp_path / "jump_known_hosts_as_served").read_text().split()
        line = f"[localhost]:{jump_port} {jump_key[0]} {jump_key[1]}"
        remove = f"ssh-keygen -R '[127.0.0.1]:{jump_port}' -f {checked}"
        assert message.endswith(f"Only if they are the same, {remove}, then add this line to "
                                f"{checked}:\n{line}"), message
        assert not target.forwarded
        subprocess.run(["bash", "-c", remove], check=True, capture_output=True)
        with checked.open("a") as file:
            file.write(f"{err.value.known_hosts_line}\n")
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()


@pytest.mark.parametrize("marker", ["revoked", "cert-authority"])
async def test_a_jump_host_whose_key_is_revoked_or_not_signed_is_said_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker: str) -> None:
    """Review 55b L6, for a jump host: its key listed as @revoked in the file
    it is checked against (beside a line that trusts it) was refused as a
    changed key, with the advice to add it again; a jump host showing a
    certificate another authority signed read "no key is trusted for it
    yet". A revoked key is said so, and no line offered; a certificate not
    signed by the authority trusted for it is said so."""
    _home(tmp_path, monkeypatch)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {target.keys['ssh-ed25519'].export_public_key().decode()}")
        checked = tmp_path / "jump_known_hosts"
        jump_line = checked.read_text()
        config = _behind_bastion(tmp_path, jump_port)
        server = None
        if marker == "revoked":
            checked.write_text(f"@revoked {jump_line}\n{jump_line}\n")
        else:
            # Another jump host on the bastion's name, showing a certificate
            # another authority signed.
            key = asyncssh.generate_private_key("ssh-ed25519")
            cert = asyncssh.generate_private_key("ssh-ed25519").generate_host_certificate(
                key, "127.0.0.1", principals=["127.0.0.1"])
            server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[(key, cert)],
                                           authorized_client_keys=None)
            port = server.sockets[0].getsockname()[1]
            config = config.replace(f"Port {jump_port}", f"Port {port}")
            ca = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
            checked.write_text(f"@cert-authority [127.0.0.1]:{port} {ca}")
        try:
            remote = _remote(tmp_path, "sm", 22, config, known)
            with pytest.raises(JumpHostRefused) as err:
                await remote.connect()
        finally:
            if server is not None:
                server.close()
        message = str(err.value)
        assert "no key is trusted" not in message, message
        if marker == "revoked":
            served = asyncssh.read_public_key(str(tmp_path / "jump_known_hosts_as_served"))
            assert f"bastion's host key {served.get_fingerprint()} is listed as revoked in " \
                f"{checked}: never trust it." in message, message
            assert "add this line" not in message and "ssh-keygen -R" not in message, message
            assert err.value.known_hosts_line is None
        else:
            assert f"bastion's host key is not trusted in {checked}: a certificate authority " \
                "is trusted for it there, and it showed a key that authority did not sign. " \
                "Its certificate is gone, or someone is in between." in message, message
        assert not target.forwarded


async def test_a_jump_host_with_no_known_hosts_file_yet_is_refused_as_not_known(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial 55 F13, for a jump host: with no ~/.ssh/known_hosts yet, the
    jump host's refusal said to run ssh-keygen -R on that file, which fails
    on a file that is not there and is for a changed key. A jump host not
    known yet is said so, with the file to make (mode 600) and the line to
    add; done word for word, the connection goes through it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    default = home / ".ssh" / "known_hosts"
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {target.keys['ssh-ed25519'].export_public_key().decode()}")
        config = _behind_bastion(tmp_path, jump_port).replace(
            f"  UserKnownHostsFile {tmp_path / 'jump_known_hosts'}\n", "")
        remote = _remote(tmp_path, "sm", 22, config, known)
        remote.global_known_hosts = ()
        with pytest.raises(JumpHostRefused) as err:
            await remote.connect()
        message = str(err.value)
        assert f"bastion's host key is not trusted in {default}: no key is trusted for it " \
            f"yet ({default} is not there yet)" in message, message
        assert "ssh-keygen -R" not in message, message
        jump_key = (tmp_path / "jump_known_hosts_as_served").read_text().split()
        line = f"[127.0.0.1]:{jump_port} {jump_key[0]} {jump_key[1]}"
        make = f"(umask 077 && mkdir -p {home / '.ssh'} && touch {default})"
        assert message.endswith(f"Only if they are the same, create {default} with mode 600: "
                                f"{make}; then add this line to {default}:\n{line}"), message
        assert err.value.known_hosts_line == line
        assert not target.forwarded
        # ~/.ssh/known_hosts a folder: said so in one line, with what to do
        # (it read "not there yet", and `touch` as the way to make it).
        default.mkdir(parents=True)
        with pytest.raises(JumpHostRefused) as err:
            await remote.connect()
        message = str(err.value)
        assert "cannot reach sm via jump host bastion: refusing bastion's host key SHA256:" \
            in message, message
        assert f"{default} cannot be read (it is a folder, not a file): move it aside" in message, \
            message
        assert "\n" not in message and err.value.known_hosts_line is None, message
        assert "touch" not in message and "not there" not in message, message
        default.rmdir()
        subprocess.run(["bash", "-c", make], check=True)
        default.write_text(line + "\n")
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()


async def test_a_jump_host_that_refuses_our_key_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 54 (1): it said "the host refused our key ...; check host.user
    and host.identity", which are the target's and were right."""
    _home(tmp_path, monkeypatch)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {target.keys['ssh-ed25519'].export_public_key().decode()}")
        other = tmp_path / "other"
        other.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
        config = _behind_bastion(tmp_path, jump_port).replace(
            f"IdentityFile {tmp_path / 'id'}", f"IdentityFile {other}")
        remote = _remote(tmp_path, "sm", 22, config, known)
        with pytest.raises(RemoteError) as err:
            await remote.connect()
        message = str(err.value)
        assert "cannot reach sm via jump host bastion: bastion refused our key for user " \
            "nobody" in message, message
        assert "host.identity" not in message, message


@pytest.mark.parametrize("named", ["none", "/dev/null"])
async def test_a_jump_host_is_checked_whatever_its_user_known_hosts_file_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: str) -> None:
    """Review 54 (2): "UserKnownHostsFile none" for the jump host let any key
    through. It is checked against the global files, alone, as ssh checks it
    (review 56c F5: ~/.ssh/known_hosts and known_hosts2 were read too), and
    refused when they do not hold it."""
    default = _home(tmp_path, monkeypatch)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {target.keys['ssh-ed25519'].export_public_key().decode()}")
        shared = tmp_path / "ssh_known_hosts"
        shared.write_text("")
        config = _behind_bastion(tmp_path, jump_port).replace(
            f"UserKnownHostsFile {tmp_path / 'jump_known_hosts'}",
            f"UserKnownHostsFile {named}\n  GlobalKnownHostsFile {shared}")
        # Held in the operator's own files, which ssh reads none of here.
        default.write_text((tmp_path / "jump_known_hosts").read_text())
        (default.parent / "known_hosts2").write_text(default.read_text())
        remote = _remote(tmp_path, "sm", 22, config, known)
        with pytest.raises(RemoteError) as err:
            await remote.connect()
        await remote.close()
        message = str(err.value)
        assert f"bastion's host key is not trusted in {shared}" in message, message
        assert f"as root, add this line to {shared}:" in message, message
        assert not target.forwarded
        # Trusted in the global file, it is let through.
        shared.write_text((tmp_path / "jump_known_hosts").read_text())
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()


@pytest.mark.parametrize("shared", ["none", "/dev/null"])
async def test_a_jump_host_with_no_known_hosts_file_read_at_all_is_said_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: str) -> None:
    """UserKnownHostsFile none and GlobalKnownHostsFile none for the jump
    host: ssh reads no file for it and refuses every key. runbook's advice
    named /etc/ssh/ssh_known_hosts, which neither then reads. It says no file
    is read and to name one; named, with the line in it, the jump host is
    let through. (GlobalKnownHostsFile /dev/null had /dev/null made as root.)"""
    default = _home(tmp_path, monkeypatch)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {target.keys['ssh-ed25519'].export_public_key().decode()}")
        config = _behind_bastion(tmp_path, jump_port).replace(
            f"UserKnownHostsFile {tmp_path / 'jump_known_hosts'}",
            f"UserKnownHostsFile none\n  GlobalKnownHostsFile {shared}")
        default.write_text((tmp_path / "jump_known_hosts").read_text())
        remote = _remote(tmp_path, "sm", 22, config, known)
        with pytest.raises(JumpHostRefused) as err:
            await remote.connect()
        await remote.close()
        message, line = str(err.value), err.value.known_hosts_line
        assert line is not None and line in (tmp_path / "jump_known_hosts").read_text(), line
        assert "ssh_known_hosts" not in message and str(default) not in message, message
        assert "install -D" not in message, message
        assert f"UserKnownHostsFile none and GlobalKnownHostsFile {shared}" in message, message
        assert "no known_hosts file is read" in message, message
        assert message.endswith(f"; then add this line to it:\n{line}"), message
        assert "known_hosts in [host]" not in message, "[host] known_hosts is the host's only"
        assert not target.forwarded
        named = tmp_path / "named_known_hosts"
        named.write_text(line + "\n")
        remote = _remote(tmp_path, "sm", 22, config.replace("UserKnownHostsFile none",
                                                            f"UserKnownHostsFile {named}"), known)
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()


@pytest.mark.parametrize("own_port", [22, 2200])
async def test_an_ssh_config_port_that_differs_from_runbooks_is_refused_before_connecting(
        tmp_path: Path, own_port: int) -> None:
    """Review 54 (3): the ssh config's Port was ignored for [host] port (22
    when unset). Two files saying two ports is refused, naming both."""
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, _jump_port):
        known = tmp_path / "known_hosts"
        public = target.keys["ssh-ed25519"].export_public_key().decode()
        known.write_text(f"[127.0.0.1]:{target.port} {public}")
        config = f"Host sm\n  HostName 127.0.0.1\n  Port {target.port}\n"
        remote = _remote(tmp_path, "sm", own_port, config, known)
        with pytest.raises(RemoteError) as err:
            await remote.connect()
        message = str(err.value)
        assert f"the ssh config {tmp_path / 'ssh_config'} says Port {target.port} for sm, " \
            f"and [host] port is {own_port}" in message, message
        assert f"set port = {target.port} in [host], or remove the Port line" in message, message
        # The same port: connects.
        remote = _remote(tmp_path, "sm", target.port, config, known)
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()


@pytest.mark.parametrize("how", ["second-file", "token", "env"])
async def test_every_user_known_hosts_file_is_read_and_tokens_expanded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """Review 54 (4): only the first UserKnownHostsFile was read and %h was
    taken literally, so a host ssh trusts was refused."""
    _home(tmp_path, monkeypatch)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, _jump_port):
        public = target.keys["ssh-ed25519"].export_public_key().decode()
        if how == "second-file":
            (tmp_path / "first").write_text("")
            (tmp_path / "second").write_text(f"[127.0.0.1]:{target.port} {public}")
            named = f"{tmp_path / 'first'} {tmp_path / 'second'}"
        elif how == "token":
            (tmp_path / f"kh_127.0.0.1_{target.port}").write_text(
                f"[127.0.0.1]:{target.port} {public}")
            named = f"{tmp_path}/kh_%h_%p"
        else:
            monkeypatch.setenv("RUNBOOK_TEST_KH", str(tmp_path / "kh"))
            (tmp_path / "kh").write_text(f"[127.0.0.1]:{target.port} {public}")
            named = "${RUNBOOK_TEST_KH}"
        remote = _remote(tmp_path, "127.0.0.1", target.port,
                         f"Host 127.0.0.1\n  UserKnownHostsFile {named}\n", None)
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()


async def test_a_user_known_hosts_file_runbook_cannot_expand_or_find_is_said(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 54 (4): a token runbook does not expand is refused in words;
    a named file that is not there is said in the refusal, and nothing is
    read instead (ssh reads only the files named)."""
    default = _home(tmp_path, monkeypatch)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, _jump_port):
        remote = _remote(tmp_path, "127.0.0.1", target.port,
                         "Host 127.0.0.1\n  UserKnownHostsFile ~/kh_%C\n", None)
        with pytest.raises(RemoteError) as err:
            await remote.connect()
        message = str(err.value)
        assert "UserKnownHostsFile ~/kh_%C" in message and "%C" in message, message
        assert "set known_hosts in [host]" in message, message
        # A jump host's: [host] known_hosts is not its, so not offered.
        config = _behind_bastion(tmp_path, 1).replace(
            f"UserKnownHostsFile {tmp_path / 'jump_known_hosts'}", "UserKnownHostsFile ~/kh_%C")
        remote = _remote(tmp_path, "sm", 22, config, None)
        with pytest.raises(RemoteError) as err:
            await remote.connect()
        message = str(err.value)
        assert "cannot reach sm via jump host bastion: the ssh config" in message, message
        assert "does not expand %C" in message and "[host]" not in message, message
        missing = tmp_path / "missing"
        remote = _remote(tmp_path, "127.0.0.1", target.port,
                         f"Host 127.0.0.1\n  UserKnownHostsFile {missing}\n", None)
        with pytest.raises(HostKeyRefused) as refused:
            await remote.connect()
        message = str(refused.value)
        assert f"no key is trusted for this host yet ({missing} is not there yet)" in message, \
            message
        assert str(default) not in message, message


async def test_a_route_not_read_is_read_again_on_the_next_connect(tmp_path: Path) -> None:
    """Review 54 (7): a route that could not be read (here: the ssh config not
    there yet) was cached for good, so the next connection's refusal named
    the configured name, not the HostName known_hosts holds it by."""
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, _jump_port):
        known = tmp_path / "known_hosts"
        old = asyncssh.generate_private_key("ssh-ed25519")
        known.write_text(f"[127.0.0.1]:{target.port} {old.export_public_key().decode()}")
        remote = _remote(tmp_path, "sm-alias", target.port, "", known)
        (tmp_path / "ssh_config").unlink()
        with pytest.raises(RemoteError) as err:
            await remote.connect()
        assert not isinstance(err.value, HostKeyRefused), err.value
        (tmp_path / "ssh_config").write_text("Host sm-alias\n  HostName 127.0.0.1\n")
        with pytest.raises(HostKeyRefused) as refused:
            await remote.connect()
        assert f"ssh-keygen -R '[127.0.0.1]:{target.port}'" in str(refused.value), refused.value


async def test_a_type_error_reading_the_route_is_not_swallowed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 54 (7): a TypeError (a keyword asyncssh no longer takes) was
    taken for a config it could not read, and the route silently dropped."""
    async def wrong(*args: object, **kwargs: object) -> None:
        raise TypeError("construct() got an unexpected keyword argument 'x'")

    monkeypatch.setattr(asyncssh.SSHClientConnectionOptions, "construct", wrong)
    remote = _remote(tmp_path, "sm", 22, "Host sm\n  HostName 127.0.0.1\n", tmp_path / "kh")
    with pytest.raises(TypeError):
        await remote._resolve()


def test_a_key_that_could_not_be_read_is_said_in_words(tmp_path: Path) -> None:
    """Review 54 (8): "refusing the host key unavailable" is not English."""
    remote = _remote(tmp_path, "sm", 22, "", tmp_path / "kh")
    message = str(remote._host_key_refused(remote._plain_route(), None))
    assert "unavailable" not in message, message
    assert "its key could not be read to show you" in message, message


async def test_a_jump_host_behind_a_jump_host_of_its_own_is_reached_and_a_loop_is_said(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The jump host's own ProxyJump is followed, each host checked (here the
    outer one through a second jump host that forwards to it); a ProxyJump
    under Host * that makes the jump host go through itself is said, not
    followed for ever."""
    _home(tmp_path, monkeypatch)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        known = tmp_path / "known_hosts"
        known.write_text(f"{INSIDE} {target.keys['ssh-ed25519'].export_public_key().decode()}")
        looped = _behind_bastion(tmp_path, jump_port) + "Host *\n  ProxyJump bastion\n"
        remote = _remote(tmp_path, "sm", 22, looped, known)
        with pytest.raises(RemoteError) as err:
            await asyncio.wait_for(remote.connect(), 30)
        assert "go through each other more than 8 deep" in str(err.value), err.value
        assert "give the jump host ProxyJump none" in str(err.value), err.value
        # bastion itself behind "outer", which forwards bastion's port.
        outer_key = asyncssh.generate_private_key("ssh-ed25519")

        class _Outer(asyncssh.SSHServer):
            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                self._conn = conn

            def connection_requested(self, dest_host: str, dest_port: int, orig_host: str,
                                     orig_port: int) -> object:
                if dest_host != "bastion-inside.invalid":
                    return False
                return self._conn.forward_connection("127.0.0.1", jump_port)

        authorized = asyncssh.import_authorized_keys(
            asyncssh.read_private_key(str(tmp_path / "id")).export_public_key().decode())
        outer = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[outer_key],
                                      authorized_client_keys=authorized, server_factory=_Outer)
        try:
            outer_port = outer.sockets[0].getsockname()[1]
            (tmp_path / "outer_known_hosts").write_text(
                f"[127.0.0.1]:{outer_port} {outer_key.export_public_key().decode()}")
            jump_line = (tmp_path / "jump_known_hosts").read_text().split(" ", 1)[1]
            (tmp_path / "jump_known_hosts").write_text(f"bastion-inside.invalid {jump_line}")
            nested = (f"Host sm\n  HostName {INSIDE}\n  ProxyJump bastion\n"
                      f"Host bastion\n  HostName bastion-inside.invalid\n  Port 22\n"
                      f"  User nobody\n  IdentityFile {tmp_path / 'id'}\n"
                      f"  UserKnownHostsFile {tmp_path / 'jump_known_hosts'}\n"
                      f"  ProxyJump outer\n"
                      f"Host outer\n  HostName 127.0.0.1\n  Port {outer_port}\n  User nobody\n"
                      f"  IdentityFile {tmp_path / 'id'}\n"
                      f"  UserKnownHostsFile {tmp_path / 'outer_known_hosts'}\n")
            remote = _remote(tmp_path, "sm", 22, nested, known)
            conn = await remote.connect()
            assert not conn.is_closed()
            await remote.close()
            # outer not trusted: said as outer's.
            (tmp_path / "outer_known_hosts").write_text("")
            remote = _remote(tmp_path, "sm", 22, nested, known)
            with pytest.raises(RemoteError) as err:
                await remote.connect()
            assert "via jump host outer: outer's host key is not trusted" in str(err.value)
        finally:
            outer.close()


@contextlib.asynccontextmanager
async def _bastion_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          host: RehearsalHost) -> AsyncIterator[HostSettings]:
    """[host] settings for the rehearsal host as "sm", through a jump host
    "bastion" that trusts the rehearsal's client key and forwards INSIDE to
    it, and that tmp_path/jump_known_hosts trusts."""
    _home(tmp_path, monkeypatch)
    target = _Host(host.ssh_port, {}, host.client_key)
    jump_key = asyncssh.generate_private_key("ssh-ed25519")
    authorized = asyncssh.import_authorized_keys(
        asyncssh.read_private_key(host.client_key).export_public_key().decode())
    jump = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[jump_key],
                                 authorized_client_keys=authorized,
                                 server_factory=lambda: _Jump(target))
    jump_port = jump.sockets[0].getsockname()[1]
    (tmp_path / "jump_known_hosts").write_text(
        f"[127.0.0.1]:{jump_port} {jump_key.export_public_key().decode()}")
    known = tmp_path / "known_hosts"
    held = host.known_hosts.read_text().split(None, 1)[1]
    known.write_text(f"{INSIDE} {held}")
    config = _behind_bastion(tmp_path, jump_port).replace(
        f"IdentityFile {tmp_path / 'id'}", f"IdentityFile {host.client_key}").replace(
        "User nobody", f"User {host.user}")
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(config)
    try:
        yield HostSettings("sm", 22, host.user, sudo=False, identity=host.client_key,
                           known_hosts=known, ssh_config=ssh_config)
    finally:
        jump.close()


@contextlib.asynccontextmanager
async def _behind_a_bastion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            host: RehearsalHost) -> AsyncIterator[Remote]:
    """A Remote to the rehearsal host through the jump host of _bastion_before."""
    async with _bastion_before(tmp_path, monkeypatch, host) as settings:
        remote = Remote(settings, isolated=True, connect_timeout=5, reconnect_within=10)
        try:
            yield remote
        finally:
            await remote.close()


@pytest.mark.parametrize("action", ["detached command", "upload"])
async def test_a_jump_host_refused_on_a_reconnect_is_said_not_taken_for_in_doubt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rehearsal_host: RehearsalHost,
        action: str) -> None:
    """A jump host we no longer trust (its key changed) while the run goes
    on: the reconnect gives up at once, the jump host named, and a command
    being followed or an upload that met it says so. They said "...; the
    command runs on by itself on the host" / "the upload ... stopped
    part-way", in doubt, as for a dropped line that waiting mends (only a
    refused host key or our key refused passed through)."""
    async with contextlib.AsyncExitStack() as stack:
        remote = await stack.enter_async_context(
            _behind_a_bastion(tmp_path, monkeypatch, rehearsal_host))
        conn = await remote.connect()
        local = tmp_path / "dist.zip"
        local.write_bytes(b"zip" * 1000)

        async def drop() -> None:
            (tmp_path / "jump_known_hosts").write_text("")  # the bastion's key no longer held
            conn.abort()  # and the line drops
            await conn.wait_closed()

        with pytest.raises(RemoteError) as err:
            if action == "upload":
                await drop()
                await remote.upload(local, "/tmp/dist.zip", timeout=20)
            else:
                following = asyncio.ensure_future(remote.run_detached(
                    "sleep 3", timeout=20, job="jumped"))
                await asyncio.sleep(1)  # launched, and followed
                await drop()
                await following
        message = str(err.value)
        assert isinstance(err.value, JumpHostRefused), message
        assert "via jump host bastion" in message and "part-way" not in message \
            and "runs on by itself" not in message, message


async def test_keys_in_the_global_known_hosts_files_are_trusted_as_ssh_trusts_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fleet whose host keys are kept centrally in /etc/ssh/ssh_known_hosts
    (ssh_config(5) GlobalKnownHostsFile): `ssh sm` went in, and runbook
    refused the jump host and the host, its ~/.ssh/known_hosts holding
    neither. The global files are read as ssh reads them, for the host and
    each jump host (here files in tmp_path stand in for /etc's); the ssh
    config's GlobalKnownHostsFile is followed, "none" reading none of them
    and still checking against ~/.ssh/known_hosts. A refusal names every file
    read, and its line to add goes to the operator's own file, never a
    global one. [host] known_hosts stays the only file when set."""
    default = _home(tmp_path, monkeypatch)
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, jump_port):
        public = target.keys["ssh-ed25519"].export_public_key().decode()
        jump_line = (tmp_path / "jump_known_hosts").read_text()
        shared = tmp_path / "ssh_known_hosts"
        shared.write_text(f"{INSIDE} {public}\n{jump_line}\n")
        absent = tmp_path / "ssh_known_hosts2"
        config = _behind_bastion(tmp_path, jump_port).replace(
            f"  UserKnownHostsFile {tmp_path / 'jump_known_hosts'}\n", "")

        def remote_with(ssh_config: str, known: Path | None = None) -> Remote:
            remote = _remote(tmp_path, "sm", 22, ssh_config, known)
            remote.global_known_hosts = (str(shared), str(absent))
            return remote

        remote = remote_with(config)
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()

        # The ssh config's own GlobalKnownHostsFile, ~ expanded as ssh does.
        (tmp_path / "central").write_text(shared.read_text())
        shared.write_text("")
        remote = remote_with(config + "Host *\n  GlobalKnownHostsFile ~/central\n")
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()
        shared.write_text((tmp_path / "central").read_text())

        # none for the host: checked against ~/.ssh/known_hosts alone, refused.
        remote = remote_with(config.replace("Host sm\n", "Host sm\n  GlobalKnownHostsFile none\n"))
        with pytest.raises(HostKeyRefused) as refused:
            await remote.connect()
        assert f"no key is trusted for this host yet (none for it in {default})" in \
            str(refused.value), refused.value

        # A changed key: every file read is named; the line goes to the operator's.
        changed = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
        shared.write_text(f"{INSIDE} {changed}\n{jump_line}\n")
        remote = remote_with(config)
        with pytest.raises(HostKeyRefused) as refused:
            await remote.connect()
        message = str(refused.value)
        assert f"not the key {default} or {shared} trusts" in message, message
        # Nothing to take out of the operator's file, which holds no key for it.
        assert f"Only if they are the same, add this line to {default}:\n" \
            f"{refused.value.known_hosts_line}" in message, message
        assert "ssh-keygen -R" not in message, message
        assert f"({shared} holds another key for it: tell whoever keeps that file)" in message, \
            message

        # A jump host not held there either: named with every file read.
        shared.write_text(f"{INSIDE} {public}\n")
        remote = remote_with(config)
        with pytest.raises(JumpHostRefused) as jump_refused:
            await remote.connect()
        assert f"bastion's host key is not trusted in {default} or {shared}" in \
            str(jump_refused.value), jump_refused.value

        # [host] known_hosts set: that file alone, the global ones not read.
        shared.write_text(f"{INSIDE} {public}\n{jump_line}\n")
        own = tmp_path / "own_known_hosts"
        own.write_text("")
        remote = remote_with(config, own)
        with pytest.raises(HostKeyRefused) as refused:
            await remote.connect()
        assert f"no key is trusted for this host yet (none for it in {own})" in \
            str(refused.value), refused.value


async def test_a_changed_key_held_only_in_a_global_file_with_no_file_of_ones_own_yet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial 55 F13, its other side: no ~/.ssh/known_hosts yet, and the
    fleet's /etc/ssh/ssh_known_hosts holding another key for the host. It
    failed "No such file or directory". It is a changed key, said so (a
    possible attack), with the global file named for whoever keeps it; the
    line goes to a file of one's own, to be made first: no ssh-keygen -R on
    a file that is not there, nor on the global one."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    default = home / ".ssh" / "known_hosts"
    async with _hosts(tmp_path, ["ssh-ed25519"]) as (target, _jump_port):
        shared = tmp_path / "ssh_known_hosts"
        changed = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
        shared.write_text(f"[127.0.0.1]:{target.port} {changed}")
        remote = _remote(tmp_path, "127.0.0.1", target.port, "", None)
        remote.global_known_hosts = (str(shared),)
        with pytest.raises(HostKeyRefused) as refused:
            await remote.connect()
        message = str(refused.value)
        assert f"it is not the key {default} or {shared} trusts for this host ({shared} holds " \
            f"another key for it: tell whoever keeps that file). {CHANGED}" in message, message
        assert "ssh-keygen -R" not in message and "no key is trusted" not in message, message
        line = refused.value.known_hosts_line
        make = f"(umask 077 && mkdir -p {home / '.ssh'} && touch {default})"
        assert message.endswith(f"create {default} with mode 600: {make}; then add this line "
                                f"to {default}:\n{line}"), message
        subprocess.run(["bash", "-c", make], check=True)
        default.write_text(f"{line}\n")
        conn = await remote.connect()
        assert not conn.is_closed()
        await remote.close()


async def test_a_jump_host_not_trusted_offers_its_known_hosts_line_as_the_host_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rehearsal_host: RehearsalHost) -> None:
    """A refused host key's failure dialog shows the line that trusts it on a
    row of its own, and y copies it whole; a refused jump host's, the same
    trust decision with its fingerprint shown, offered nothing, its line
    buried in the sentence. It is offered the same way now, and the line is
    for the file the jump host is checked against: added there, try again
    goes through."""
    from dataclasses import replace

    from textual.widgets import Static

    from screens.app import create_app
    from screens.dialogs import ConfirmDialog, RecoverDialog
    from tests.polling import until
    from tests.rehearsal import rehearsal_session, rehearsal_settings
    from tests.test_tui_records import clipboard_writes, osc52

    async with _bastion_before(tmp_path, monkeypatch, rehearsal_host) as host:
        checked = tmp_path / "jump_known_hosts"
        trusted = checked.read_text()
        checked.write_text("")  # the bastion's key not held: refused
        settings = rehearsal_settings(rehearsal_host)
        settings = replace(settings, host=replace(
            settings.host, address=host.address, port=host.port,
            known_hosts=host.known_hosts, ssh_config=host.ssh_config))
        journal = tmp_path / "run.jsonl"
        app = create_app(lambda continuing: rehearsal_session(
            rehearsal_host, journal, settings, resume=continuing),
            rehearsal=True, host_label="pytest")
        async with app.run_test(size=(80, 24)) as pilot:
            sent = clipboard_writes(app)
            await until(lambda: app.asking is not None, timeout=30, what="the first question")
            app.main.checklist.select_step(app.asking.report.id)
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, ConfirmDialog), what="its dialog")
            await pilot.pause()
            await pilot.press("y")
            await until(lambda: isinstance(app.screen, RecoverDialog)
                        and bool(app.screen.query("#recover-stop")), timeout=30,
                        what="the failure dialog")
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, RecoverDialog)
            assert "via jump host bastion" in dialog.detail, dialog.detail
            line = trusted.strip()
            shown = dialog.query("#known-hosts-line")
            assert shown, dialog.detail
            assert str(shown.first(Static).render()) == line
            assert f"add this line to {checked}:" in dialog.detail, dialog.detail
            await pilot.press("y")
            await until(lambda: app.clipboard == line, what="the line on the clipboard")
            assert osc52(line) in sent
            # The operator has compared the fingerprint, and adds the line.
            checked.write_text(app.clipboard + "\n")
            step = dialog.step.id
            await pilot.press("t")
            # Tried again, it asks again; confirmed, it goes through the bastion.
            await until(lambda: app.asking is not None and app.asking.report.id == step
                        and not isinstance(app.screen, RecoverDialog), what="its question again")
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, ConfirmDialog), what="its dialog again")
            await pilot.pause()
            await pilot.press("y")
            await until(lambda: app.run_state.states[step] not in ("next", "running"),
                        timeout=30, what="the step to end")
            assert app.run_state.states[step] == "done", app.run_state.reports[step]


async def test_a_host_not_known_yet_with_no_known_hosts_file_offers_its_line_to_copy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rehearsal_host: RehearsalHost) -> None:
    """Trial 55 F13, in the TUI: a first run from a box with no
    ~/.ssh/known_hosts failed preflight with "No such file or directory",
    nothing to copy. The failure dialog shows the host's line on a row of its
    own, as for a changed key, and y copies it; the file made as the refusal
    says and the line added, try again goes through."""
    from dataclasses import replace

    from textual.widgets import Static

    from screens.app import create_app
    from screens.dialogs import ConfirmDialog, RecoverDialog
    from tests.polling import until
    from tests.rehearsal import rehearsal_session, rehearsal_settings
    from tests.test_tui_records import clipboard_writes, osc52

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    default = home / ".ssh" / "known_hosts"
    settings = rehearsal_settings(rehearsal_host)
    settings = replace(settings, host=replace(settings.host, known_hosts=None))
    public = (rehearsal_host.state_dir / "ssh_host_ed25519_key.pub").read_text().split()
    line = f"[127.0.0.1]:{rehearsal_host.ssh_port} {public[0]} {public[1]}"
    app = create_app(lambda continuing: rehearsal_session(
        rehearsal_host, tmp_path / "run.jsonl", settings, resume=continuing),
        rehearsal=True, host_label="pytest")
    async with app.run_test(size=(80, 24)) as pilot:
        sent = clipboard_writes(app)
        await until(lambda: app.asking is not None, timeout=30, what="the first question")
        app.main.checklist.select_step(app.asking.report.id)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="its dialog")
        await pilot.pause()
        await pilot.press("y")
        await until(lambda: isinstance(app.screen, RecoverDialog)
                    and bool(app.screen.query("#recover-stop")), timeout=30,
                    what="the failure dialog")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, RecoverDialog)
        assert "no key is trusted for this host yet" in dialog.detail, dialog.detail
        assert "No such file" not in dialog.detail and "ssh-keygen -R" not in dialog.detail, \
            dialog.detail
        shown = dialog.query("#known-hosts-line")
        assert shown, dialog.detail
        assert str(shown.first(Static).render()) == line
        await pilot.press("y")
        await until(lambda: app.clipboard == line, what="the line on the clipboard")
        assert osc52(line) in sent
        make = dialog.detail.split(" with mode 600: ", 1)[1].split("; then", 1)[0]
        subprocess.run(["bash", "-c", make], check=True)
        default.write_text(app.clipboard + "\n")
        step = dialog.step.id
        await pilot.press("t")
        await until(lambda: app.asking is not None and app.asking.report.id == step
                    and not isinstance(app.screen, RecoverDialog), what="its question again")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="its dialog again")
        await pilot.pause()
        await pilot.press("y")
        await until(lambda: app.run_state.states[step] not in ("next", "running"),
                    timeout=30, what="the step to end")
        assert app.run_state.states[step] == "done", app.run_state.reports[step]
